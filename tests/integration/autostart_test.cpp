// cove-autostart: the containers that say [boot] autostart start in [boot] order (a sharer
// after what it shares, a step's delay waited), a failure is named and the others go on, and
// --stop stops the same ones.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "support.hpp"

namespace cove::test {
namespace {

class AutostartTest : public ContainerTest {
 protected:
  RunResult autostart(const std::vector<std::string>& args = {}, int timeout_s = 120) {
    std::vector<std::string> a = {"-P", path_};
    a.insert(a.end(), args.begin(), args.end());
    return run_tool("cove-autostart", a, timeout_s);
  }
  std::string state(const std::string& name) { return info_json_field(name, "state"); }
  void append_config(const std::string& name, const std::string& text) {
    std::ofstream(path_ + "/" + name + "/config", std::ios::app) << text;
  }
};

// When init started, in clock ticks since boot (/proc/PID/stat field 22).
long long start_ticks(pid_t pid) {
  std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  std::istringstream in(stat.substr(stat.rfind(')') + 2));
  std::string field;
  for (int i = 3; i <= 22 && in >> field; ++i) {
  }
  return std::atoll(field.c_str());
}

// b (order 0, delay 1 s) first, then a (order 1), then d, which shares a's UTS namespace
// although its own order is 0; c has no [boot] autostart. --stop stops those three only.
TEST_F(AutostartTest, StartsInOrderWaitsTheDelayAndStopsTheSameOnes) {
  COVE_REQUIRE_ROOT();
  create_busybox("a", "[boot]\nautostart = yes\norder = 1\n");
  create_busybox("b", "[boot]\nautostart = yes\ndelay = 1\n");
  create_busybox("c");
  create_busybox("d", "[boot]\nautostart = 1\n[namespaces]\nclone = mnt pid ipc net user cgroup\nshare.uts = a\n");

  auto r = autostart({"-L"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out,
            "STEP  ORDER  DELAY  STATE      NAME\n"
            "1     0      1      STOPPED    b\n"
            "2     1      0      STOPPED    a\n"
            "3     1      0      STOPPED    d\n");
  EXPECT_EQ(state("a"), "STOPPED");  // -L does nothing

  r = autostart();
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("3 started (", 0), 0u) << r.out;
  for (const char* n : {"a", "b", "d"}) EXPECT_EQ(state(n), "RUNNING") << n;
  EXPECT_EQ(state("c"), "STOPPED");
  EXPECT_EQ(attach_out("d", {"hostname"}), "a");  // it did join a's namespace
  long long hz = ::sysconf(_SC_CLK_TCK), b = start_ticks(init_pid("b")), a = start_ticks(init_pid("a")),
            d = start_ticks(init_pid("d"));
  EXPECT_GE(a - b, hz * 95 / 100) << "a started " << a - b << " ticks after b, within its delay";
  EXPECT_GE(d, a);

  // Again: nothing to do, the same inits.
  pid_t a_pid = init_pid("a");
  r = autostart();
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("3 already running (", 0), 0u) << r.out;
  EXPECT_EQ(init_pid("a"), a_pid);

  ASSERT_EQ(cove("cove-start", "c").status, 0);
  r = autostart({"--stop"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("3 stopped (", 0), 0u) << r.out;
  for (const char* n : {"a", "b", "d"}) {
    EXPECT_EQ(state(n), "STOPPED") << n;
    EXPECT_TRUE(leftover_cgroups(n).empty()) << n;
    EXPECT_FALSE(std::filesystem::exists(runtime_dir(n))) << n;
  }
  EXPECT_EQ(state("c"), "RUNNING");  // not an autostart container
}

// A start that fails, and a config that does not load, are named with their reasons; what
// shares a namespace of the failed one is skipped; the rest starts; the exit status is 1.
TEST_F(AutostartTest, AFailureIsNamedItsSharersSkippedAndTheRestStarts) {
  COVE_REQUIRE_ROOT();
  create_busybox("a", "[boot]\nautostart = yes\n");
  create_busybox("d", "[boot]\nautostart = yes\norder = 2\n[namespaces]\nclone = mnt pid ipc net user cgroup\nshare.uts = a\n");
  create_busybox("e");
  create_busybox("f", "[boot]\nautostart = yes\n");
  append_config("a", "\n[container]\ninit = /no/such/init\n");
  append_config("e", "\n[boot]\nautostart = yes\norder = soon\n");

  auto r = autostart();
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("cove-autostart: `a`: exec `/no/such/init`: No such file or directory"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cove-autostart: `d`: not started: it shares a namespace of `a`, which did not start"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("cove-autostart: `e`: config: " + path_ + "/e/config:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("[boot] order: `soon` is not an integer"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.rfind("1 started, 2 failed, 1 skipped (", 0), 0u) << r.out;
  EXPECT_EQ(state("f"), "RUNNING");
  for (const char* n : {"a", "d", "e"}) EXPECT_EQ(state(n), "STOPPED") << n;
  EXPECT_TRUE(leftover_cgroups("a").empty());
}

// Shares in a cycle can never start: both are left out, the cycle named, nothing started.
TEST_F(AutostartTest, ACycleOfSharesIsLeftOutAndNamed) {
  COVE_REQUIRE_ROOT();
  create_busybox("x", "[boot]\nautostart = yes\n[namespaces]\nclone = mnt pid ipc net user cgroup\nshare.uts = y\n");
  create_busybox("y", "[boot]\nautostart = yes\n[namespaces]\nclone = mnt pid uts net user cgroup\nshare.ipc = x\n");
  for (const std::vector<std::string>& args : {std::vector<std::string>{"-L"}, std::vector<std::string>{}}) {
    auto r = autostart(args);
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("cove-autostart: `x`: the containers share namespaces in a cycle: `x` → `y` → `x`"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("cove-autostart: `y`: the containers share namespaces in a cycle"), std::string::npos) << r.err;
  }
  EXPECT_EQ(state("x"), "STOPPED");
  EXPECT_EQ(state("y"), "STOPPED");
}

// -a: every container, a few at once (-j); the same to kill them all; bad option sets refused.
TEST_F(AutostartTest, AllOfThemAFewAtATime) {
  COVE_REQUIRE_ROOT();
  std::vector<std::string> names = {"m1", "m2", "m3", "m4", "m5", "m6"};
  for (const auto& n : names) create_busybox(n);
  auto r = autostart();
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("nothing to do (", 0), 0u) << r.out;
  r = autostart({"-a", "-j", "3"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("6 started (", 0), 0u) << r.out;
  for (const auto& n : names) EXPECT_EQ(state(n), "RUNNING") << n;
  r = autostart({"--stop", "-a", "-k", "-j", "2"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("6 stopped (", 0), 0u) << r.out;
  for (const auto& n : names) {
    EXPECT_EQ(state(n), "STOPPED") << n;
    EXPECT_TRUE(leftover_cgroups(n).empty()) << n;
  }
  for (const std::vector<std::string>& bad : {std::vector<std::string>{"-k"}, {"-t", "3"}, {"-j", "0"},
                                              {"--stop", "-k", "-t", "3"}}) {
    r = autostart(bad);
    EXPECT_EQ(r.status, 2) << r.err;
  }
}

// A -j beyond what the open-file limit leaves room for is capped: no start fails for want of
// an fd (each job holds two in cove-autostart, which its child inherits).
TEST_F(AutostartTest, JobsBeyondTheOpenFileLimitAreCapped) {
  COVE_REQUIRE_ROOT();
  for (int i = 1; i <= 24; ++i) create_busybox("f" + std::to_string(i));
  auto r = run_cmd({"sh", "-c", "ulimit -n 40 && exec \"$0\" -P \"$1\" -a -j 24", builddir() + "/cove-autostart", path_},
                   120);
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out.rfind("24 started (", 0), 0u) << r.out << r.err;
  EXPECT_EQ(r.err.find("Too many open files"), std::string::npos) << r.err;
}

// What `pid` holds open: each fd's target with `name`, the container's key and inode numbers
// taken out, sorted.
std::vector<std::string> fd_kinds(pid_t pid, const std::string& name) {
  std::vector<std::string> out;
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::error_code ec;
    std::string t = std::filesystem::read_symlink(e.path(), ec).string();
    for (size_t at; (at = t.find(name)) != std::string::npos;) t.replace(at, name.size(), "NAME");
    t = std::regex_replace(t, std::regex("NAME-[0-9a-f]{32}"), "NAME-KEY");
    if (auto b = t.find(":["); b != std::string::npos && t.find("anon_inode") != 0) t = t.substr(0, b);
    out.push_back(t);  // not the fd's number: a monitor's own opens may land elsewhere
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A container cove-autostart started is like one cove-start started: its monitor and its init
// hold the same fds (nothing of cove-autostart's pipes or its other jobs' pidfds).
TEST_F(AutostartTest, ItsContainersHoldWhatCoveStartsDo) {
  COVE_REQUIRE_ROOT();
  create_busybox("by-start");
  for (const char* n : {"j1", "j2", "j3"}) create_busybox(n, "[boot]\nautostart = yes\n");
  ASSERT_EQ(cove("cove-start", "by-start").status, 0);
  auto r = autostart({"-j", "3"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto want_monitor = fd_kinds(monitor_pid("by-start"), "by-start"), want_init = fd_kinds(init_pid("by-start"), "by-start");
  EXPECT_FALSE(want_monitor.empty());
  for (const char* n : {"j1", "j2", "j3"}) {
    EXPECT_EQ(fd_kinds(monitor_pid(n), n), want_monitor) << n;
    EXPECT_EQ(fd_kinds(init_pid(n), n), want_init) << n;
  }
}

// The cgroup2 directory this process is in ("" without a cgroup2 mount).
std::string own_cgroup2_dir() {
  std::string mnt;
  std::istringstream mounts(read_text("/proc/self/mounts"));
  for (std::string line; std::getline(mounts, line);) {
    std::istringstream f(line);
    std::string dev, dir, type;
    if (f >> dev >> dir >> type && type == "cgroup2") {
      mnt = dir;
      break;
    }
  }
  std::istringstream cg(read_text("/proc/self/cgroup"));
  for (std::string line; std::getline(cg, line);)
    if (!mnt.empty() && line.rfind("0::", 0) == 0) return mnt + (line.substr(3) == "/" ? "" : line.substr(3));
  return "";
}

// As cove.service runs it: from a cgroup2 cgroup of its own, not the root. On a pure v2 host
// that cgroup must hold no process once its payloads' controllers are enabled in it (the
// no-internal-process rule), so cove-autostart steps into the monitors' cgroup beside them
// first; without that every start there fails with EBUSY (the pure-v2 guest runs this test).
TEST_F(AutostartTest, FromAServiceCgroupOfItsOwn) {
  COVE_REQUIRE_ROOT();
  std::string own = own_cgroup2_dir();
  if (own.empty()) GTEST_SKIP() << "no cgroup2 hierarchy";
  create_busybox("s1", "[boot]\nautostart = yes\n[cgroup]\npids.max = 100\n");
  std::string svc = own + "/cove-test-svc." + std::to_string(::getpid());
  ASSERT_EQ(::mkdir(svc.c_str(), 0755), 0) << svc;
  struct Cleanup {
    std::string path, svc;
    ~Cleanup() {
      run_tool("cove-stop", {"-P", path, "-n", "s1", "-k"});
      // The last monitor leaves the shared cgroup as it exits, just after the stop returns.
      for (const std::string& dir : {svc + "/cove.monitors", svc})
        eventually([&] { return ::rmdir(dir.c_str()) == 0 || errno == ENOENT; }, 5000);
    }
  } cleanup{path_, svc};
  // On a pure v2 host (the guest) the controllers its parent has go on to the service's cgroup,
  // as systemd's Delegate= gives them; a hybrid host's are on v1 (nothing changed here).
  bool pure_v2 = read_text("/proc/self/cgroup").rfind("0::", 0) == 0;
  std::istringstream offered(pure_v2 ? read_text(own + "/cgroup.controllers") : "");
  for (std::string c; offered >> c;) std::ofstream(own + "/cgroup.subtree_control") << "+" + c;
  auto r = run_cmd({"sh", "-c", "echo $$ > \"$0/cgroup.procs\" && exec \"$1\" -P \"$2\"", svc,
                    builddir() + "/cove-autostart", path_});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out.rfind("1 started (", 0), 0u) << r.out;
  EXPECT_EQ(state("s1"), "RUNNING");
  EXPECT_EQ(trim_str(cove("cove-cgroup", "s1", {"pids.max"}).out), "100");
  // Its payload is below the service's cgroup, and the service's cgroup holds no process.
  std::string init_cg = read_text("/proc/" + std::to_string(init_pid("s1")) + "/cgroup");
  std::string rel = svc.substr(svc.find("/cove-test-svc."));
  EXPECT_NE(init_cg.find(rel + "/cove.payload.s1-"), std::string::npos) << init_cg;
  EXPECT_EQ(read_text(svc + "/cgroup.procs"), "");
}

// The systemd units the build installs (with this build tree as their bindir) are ones systemd
// takes without a complaint: known keys, valid values, programs that exist.
TEST(AutostartUnits, SystemdTakesThemAsTheyAre) {
  if (run_cmd({"sh", "-c", "command -v systemd-analyze"}).status != 0) GTEST_SKIP() << "no systemd-analyze";
  std::string dir = scratch_dir() + "/cove-units." + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  struct Cleanup {
    std::string dir;
    ~Cleanup() { std::filesystem::remove_all(dir); }
  } cleanup{dir};
  for (const char* unit : {"cove.service", "cove-network@.service"}) {
    auto r = run_cmd({"sh", "-c", "sed 's|@bindir@|" + builddir() + "|g' \"" + srcdir() + "/config/systemd/" + unit +
                                      ".in\" > \"" + dir + "/" + unit + "\""});
    ASSERT_EQ(r.status, 0) << r.err;
  }
  for (const char* unit : {"cove.service", "cove-network@cove0.service"}) {
    auto r = run_cmd({"systemd-analyze", "verify", "--man=no", dir + "/" + unit});
    EXPECT_EQ(r.status, 0) << unit << ": " << r.err;
    EXPECT_EQ(r.err, "") << unit;
  }
}

}  // namespace
}  // namespace cove::test
