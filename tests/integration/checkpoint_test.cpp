// Checkpoint/restore of real containers through the cove-* tools, in zdtm's shape: set up state
// -> cove-checkpoint -> cove-restore -> verify from outside and inside. They need CRIU; a build
// with the CRIU backend (CI's) never skips them.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "base/strings.hpp"
#include "criu/features.hpp"
#include "support.hpp"
#include "terminal.hpp"

namespace cove::test {
namespace {

pid_t parent_of(pid_t pid) {
  auto text = read_text("/proc/" + std::to_string(pid) + "/stat");
  auto pos = text.rfind(')');
  if (pos == std::string::npos) return 0;
  std::istringstream in(text.substr(pos + 2));
  std::string state;
  pid_t ppid = 0;
  in >> state >> ppid;
  return ppid;
}

// `.criu.cgyard.*` mounts a killed CRIU may leave.
bool has_cgyard_mounts() { return read_text("/proc/self/mountinfo").find(".criu.cgyard.") != std::string::npos; }

class CheckpointTest : public ContainerTest {
 protected:
  void SetUp() override {
    ContainerTest::SetUp();
    if (IsSkipped()) return;
    COVE_REQUIRE_CRIU();
  }
  void TearDown() override {
    ContainerTest::TearDown();
    EXPECT_FALSE(has_cgyard_mounts());
  }

  std::string images(const std::string& tag) { return path_ + "/images-" + tag; }

  // Started and answering an attach. (A dump right after boot meets busybox init inside vfork()
  // for its shells: cove freezes around that, checkpoint_vfork_test.cpp.)
  void start(const std::string& name) {
    auto r = cove("cove-start", name);
    ASSERT_EQ(r.status, 0) << r.err;
    ASSERT_EQ(attach_out(name, {"true"}), "");
  }
  // A counter inside, in the background, child of init: its pid (inside) and value in /tmp.
  void start_counter(const std::string& name) {
    auto r = cove("cove-attach", name,
                  {"--", "sh", "-c",
                   "setsid sh -c 'echo $$ > /tmp/counter.pid; i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; "
                   "sleep 0.05; done' </dev/null >/dev/null 2>&1 &"});
    ASSERT_EQ(r.status, 0) << r.err;
    for (int i = 0; i < 100 && counter(name) < 2; ++i) ::usleep(20000);
  }
  // The writer truncates and rewrites the file: an empty read is retried.
  long counter(const std::string& name) {
    for (int i = 0; i < 20; ++i) {
      auto v = cove("cove-attach", name, {"--", "cat", "/tmp/counter"});
      if (v.status == 0 && !trim_str(v.out).empty()) return std::stol(trim_str(v.out));
      ::usleep(10000);
    }
    return -1;
  }
  nlohmann::json checkpoint(const std::string& name, const std::string& dir, bool stop) {
    std::vector<std::string> a = {"-D", dir, "--json"};
    if (stop) a.push_back("--stop");
    auto r = cove("cove-checkpoint", name, a, 120);
    EXPECT_EQ(r.status, 0) << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_discarded() ? nlohmann::json::object() : j;
  }
  nlohmann::json restore(const std::string& name, const std::string& dir) {
    auto r = cove("cove-restore", name, {"-D", dir, "--json"}, 120);
    EXPECT_EQ(r.status, 0) << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_discarded() ? nlohmann::json::object() : j;
  }
  std::string state(const std::string& name) { return trim_str(cove("cove-info", name, {"-s"}).out); }

  // The whole round trip with the checks common to every case.
  void round_trip(const std::string& name, const std::string& tag) {
    std::string inside_pid = attach_out(name, {"cat", "/tmp/counter.pid"});
    long before = counter(name);
    ASSERT_GT(before, 0);
    auto cp = checkpoint(name, images(tag), true);
    EXPECT_TRUE(cp.value("stopped", false));
    EXPECT_GT(cp.value("frozen_time_us", 0), 0) << cp.dump();
    EXPECT_EQ(state(name), "STOPPED");
    EXPECT_TRUE(leftover_cgroups(name).empty());
    auto rs = restore(name, images(tag));
    EXPECT_GT(rs.value("init_pid", 0), 0) << rs.dump();
    // The restore's report comes back with the monitor's start status, not through a file.
    EXPECT_FALSE(rs.value("criu_version", std::string()).empty()) << rs.dump();
    EXPECT_FALSE(::access((runtime_dir(name) + "/restore.json").c_str(), F_OK) == 0);
    ASSERT_EQ(state(name), "RUNNING");
    // The monitor is init's parent again.
    EXPECT_EQ(parent_of(init_pid(name)), monitor_pid(name));
    // Same pids inside, and the counter continues from where it was.
    EXPECT_EQ(attach_out(name, {"cat", "/tmp/counter.pid"}), inside_pid);
    EXPECT_EQ(attach_out(name, {"cat", "/proc/1/comm"}), "init");
    long after = counter(name);
    EXPECT_GE(after, before);
    EXPECT_TRUE(eventually([&] { return counter(name) > after; })) << "the counter does not run after the restore";
    auto ls = cove("cove-ls", "", {"--running", "-1"});
    EXPECT_NE(ls.out.find(name), std::string::npos);
  }
};

TEST_F(CheckpointTest, UserNamespacedRoundTrip) {
  create_busybox("cr-uns");
  start("cr-uns");
  start_counter("cr-uns");
  round_trip("cr-uns", "1");
  // The console is back and held by the monitor; stop works as after a start.
  auto st = cove("cove-stop", "cr-uns");
  EXPECT_EQ(st.status, 0) << st.err;
  EXPECT_EQ(state("cr-uns"), "STOPPED");
  EXPECT_TRUE(leftover_cgroups("cr-uns").empty());
}

TEST_F(CheckpointTest, PrivilegedRoundTrip) {
  create_busybox("cr-priv", "[container]\nprivileged = true\n");
  start("cr-priv");
  start_counter("cr-priv");
  round_trip("cr-priv", "1");
}

// What CRIU (with cove's patches 0005, 0006, 0012) and cove (no network lock for a loopback-only
// netns) take shortcuts for still travels when it is not as a new container has it: a file in
// /dev/shm, an extra loopback address, routes (IPv4, IPv6) and a policy rule; and the defaults
// come back when only they are there.
TEST_F(CheckpointTest, NetnsAndShmStateTravels) {
  create_busybox("cr-net");
  start("cr-net");
  auto r = cove("cove-attach", "cr-net",
                {"--", "sh", "-c",
                 "echo kept > /dev/shm/x && ip addr add 127.0.0.2/8 dev lo && "
                 "ip rule add from 10.1.0.0/16 lookup main pref 100 && ip route add 10.9.0.0/16 dev lo && "
                 "ip -6 route add fd09::/64 dev lo"});
  ASSERT_EQ(r.status, 0) << r.err;
  checkpoint("cr-net", images("1"), true);
  auto meta = nlohmann::json::parse(read_text(images("1") + "/cove-image.json"), nullptr, false);
  EXPECT_EQ(meta.value("interfaces", nlohmann::json::array()), nlohmann::json::array({"lo"}));
  restore("cr-net", images("1"));
  // The restore monitor leaves its starter's cgroup for the monitors' one, in every hierarchy.
  std::string monitor = std::to_string(monitor_pid("cr-net"));
  auto in_monitors = [](const std::string& cgroups) {
    auto lines = split(cgroups, '\n');
    return std::all_of(lines.begin(), lines.end(), [](const std::string& l) {
      return l.empty() || l.ends_with("/cove.monitors");
    });
  };
  std::string own;
  for (int i = 0; i < 100 && !in_monitors(own); ++i) {
    own = read_text("/proc/" + monitor + "/cgroup");
    ::usleep(20000);
  }
  EXPECT_TRUE(in_monitors(own)) << own;
  EXPECT_EQ(attach_out("cr-net", {"cat", "/dev/shm/x"}), "kept");
  auto addrs = attach_out("cr-net", {"ip", "addr", "show", "dev", "lo"});
  for (const char* a : {"127.0.0.1/8", "127.0.0.2/8", "::1/128"}) EXPECT_NE(addrs.find(a), std::string::npos) << addrs;
  auto rules = attach_out("cr-net", {"ip", "rule"});
  for (const char* a : {"0:", "100:", "from 10.1.0.0/16 lookup main", "32766:", "32767:"})
    EXPECT_NE(rules.find(a), std::string::npos) << rules;
  auto routes = attach_out("cr-net", {"ip", "route"});
  EXPECT_NE(routes.find("10.9.0.0/16 dev lo"), std::string::npos) << routes;
  routes = attach_out("cr-net", {"ip", "-6", "route"});
  EXPECT_NE(routes.find("fd09::/64 dev lo"), std::string::npos) << routes;

  r = cove("cove-attach", "cr-net",
           {"--", "sh", "-c",
            "rm /dev/shm/x && ip addr del 127.0.0.2/8 dev lo && ip rule del pref 100 && ip route del 10.9.0.0/16 dev lo "
            "&& ip -6 route del fd09::/64 dev lo"});
  ASSERT_EQ(r.status, 0) << r.err;
  checkpoint("cr-net", images("2"), true);
  restore("cr-net", images("2"));
  EXPECT_EQ(attach_out("cr-net", {"ls", "-A", "/dev/shm"}), "");
  EXPECT_EQ(attach_out("cr-net", {"stat", "-c", "%a %u", "/dev/shm"}), "1777 0");
  addrs = attach_out("cr-net", {"ip", "addr", "show", "dev", "lo"});
  EXPECT_NE(addrs.find("127.0.0.1/8"), std::string::npos) << addrs;
  EXPECT_NE(addrs.find("::1/128"), std::string::npos) << addrs;
  EXPECT_EQ(addrs.find("127.0.0.2"), std::string::npos) << addrs;
  EXPECT_EQ(attach_out("cr-net", {"ip", "route"}).find("10.9.0.0"), std::string::npos);
  EXPECT_EQ(attach_out("cr-net", {"ip", "-6", "route"}).find("fd09::"), std::string::npos);
  rules = attach_out("cr-net", {"ip", "rule"});
  EXPECT_EQ(std::count(rules.begin(), rules.end(), '\n'), 2) << rules;  // three lines, trimmed
  EXPECT_EQ(rules.find("100:"), std::string::npos) << rules;
  // The shortcuts were taken (cove's CRIU build, scripts/criu-patches; install-criu installs
  // all of them or none): the kernel-probe cache is used also where /run is not a tmpfs (0002),
  // the empty /dev/shm and the masks got no archive (0005), the others a plain tar (0008), and
  // no `ip` ran for the default rules and addresses (0006), and the tasks left the parasite and
  // the restorer without a hardware breakpoint (0013): the container above came back from that.
  auto criu_info = criu::probe();
  ASSERT_TRUE(criu_info.has_value()) << criu_info.error().message();
  if (criu_info->orphan_ttys) {
    // The restore's log is in the container's directory, never among the images.
    std::string dump_log = read_text(images("2") + "/dump.log"), restore_log = read_text(path_ + "/cr-net/restore.log");
    EXPECT_FALSE(std::filesystem::exists(images("2") + "/restore.log"));
    EXPECT_NE(restore_log.find("Loaded kdat cache from"), std::string::npos);
    EXPECT_NE(dump_log.find("is empty and as mounted: empty image"), std::string::npos);
    EXPECT_NE(restore_log.find("restoring a plain tar archive"), std::string::npos);
    EXPECT_EQ(restore_log.find("restoring a gzipped archive"), std::string::npos);
    EXPECT_NE(restore_log.find("The rule dump is what a new netns has"), std::string::npos);
    EXPECT_NE(restore_log.find("The addr dump is what a new netns has"), std::string::npos);
    for (const auto* log : {&dump_log, &restore_log})
      EXPECT_NE(log->find("No hardware breakpoints: tasks stop on their syscalls"), std::string::npos);
  }
  auto st = cove("cove-stop", "cr-net");
  EXPECT_EQ(st.status, 0) << st.err;
  EXPECT_TRUE(leftover_cgroups("cr-net").empty());
}

TEST_F(CheckpointTest, LeaveRunningKeepsTheContainerAsItWas) {
  create_busybox("cr-run");
  start("cr-run");
  start_counter("cr-run");
  pid_t init = init_pid("cr-run");
  auto cp = checkpoint("cr-run", images("1"), false);
  EXPECT_FALSE(cp.value("stopped", true));
  EXPECT_EQ(state("cr-run"), "RUNNING");
  EXPECT_EQ(init_pid("cr-run"), init);
  long a = counter("cr-run");
  EXPECT_TRUE(eventually([&] { return counter("cr-run") > a; })) << "the counter stopped at " << a;
  EXPECT_TRUE(std::filesystem::exists(images("1") + "/cove-image.json"));
}

TEST_F(CheckpointTest, CheckSaysWhatItFinds) {
  create_busybox("cr-check");
  start("cr-check");
  auto r = cove("cove-checkpoint", "cr-check", {"--check"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("can be checkpointed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("console"), std::string::npos) << r.out;
}

TEST_F(CheckpointTest, ForeignAndBrokenImagesAreRefusedBeforeAnythingStarts) {
  create_busybox("cr-a");
  create_busybox("cr-b");
  start("cr-a");
  checkpoint("cr-a", images("a"), true);
  auto r = cove("cove-restore", "cr-b", {"-D", images("a")});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("the checkpoint is of container `cr-a`, not `cr-b`"), std::string::npos) << r.err;
  EXPECT_EQ(state("cr-b"), "STOPPED");
  // A newer format.
  auto meta = nlohmann::json::parse(read_text(images("a") + "/cove-image.json"));
  meta["format"] = 99;
  std::ofstream(images("a") + "/cove-image.json") << meta.dump();
  r = cove("cove-restore", "cr-a", {"-D", images("a")});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("image format 99"), std::string::npos) << r.err;
  // Not a checkpoint at all.
  r = cove("cove-restore", "cr-a", {"-D", path_});
  EXPECT_NE(r.err.find("holds no cove checkpoint"), std::string::npos) << r.err;
  EXPECT_EQ(state("cr-a"), "STOPPED");
  EXPECT_TRUE(leftover_cgroups("cr-a").empty());
}

TEST_F(CheckpointTest, FailedRestoreLeavesNothingAndKeepsTheImages) {
  create_busybox("cr-fail");
  start("cr-fail");
  start_counter("cr-fail");
  checkpoint("cr-fail", images("1"), true);
  // The rootfs no longer matches the images: CRIU refuses, cove cleans up.
  std::string busybox = path_ + "/cr-fail/rootfs/bin/busybox";
  std::filesystem::rename(busybox, busybox + ".moved");
  auto r = cove("cove-restore", "cr-fail", {"-D", images("1")});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("criu RESTORE"), std::string::npos) << r.err;
  EXPECT_EQ(state("cr-fail"), "STOPPED");
  EXPECT_TRUE(leftover_cgroups("cr-fail").empty());
  EXPECT_FALSE(std::filesystem::exists(runtime_dir("cr-fail")));
  // Another try with the same images works once the rootfs is right.
  std::filesystem::rename(busybox + ".moved", busybox);
  restore("cr-fail", images("1"));
  EXPECT_EQ(state("cr-fail"), "RUNNING");
}

TEST_F(CheckpointTest, TwentyRoundTrips) {
  create_busybox("cr-20");
  start("cr-20");
  start_counter("cr-20");
  for (int i = 0; i < 20; ++i) {
    SCOPED_TRACE("round trip " + std::to_string(i));
    round_trip("cr-20", std::to_string(i));
    if (HasFatalFailure()) return;
  }
}

TEST_F(CheckpointTest, RestoreOnAFreshCopyAtAnotherPath) {
  create_busybox("cr-copy");
  start("cr-copy");
  start_counter("cr-copy");
  long before = counter("cr-copy");
  checkpoint("cr-copy", images("1"), true);
  // Same name, same template (same rootfs content), another cove path.
  std::string other = path_ + "/other";
  std::filesystem::create_directories(other);
  auto c = run_tool("cove-create", {"-P", other, "-n", "cr-copy", "-t", "busybox"}, 120);
  ASSERT_EQ(c.status, 0) << c.err;
  auto r = run_tool("cove-restore", {"-P", other, "-n", "cr-copy", "-D", images("1")}, 120);
  EXPECT_EQ(r.status, 0) << r.err;
  // /tmp is the rootfs here: the copy has no /tmp/counter until the restored counter writes it
  // (every 50 ms).
  auto v = run_tool("cove-attach", {"-P", other, "-n", "cr-copy", "--", "cat", "/tmp/counter"});
  for (int i = 0; i < 100 && (v.status != 0 || trim_str(v.out).empty()); ++i) {
    ::usleep(20000);
    v = run_tool("cove-attach", {"-P", other, "-n", "cr-copy", "--", "cat", "/tmp/counter"});
  }
  EXPECT_EQ(v.status, 0) << v.err;
  if (v.status == 0) {
    EXPECT_GE(std::stol(trim_str(v.out)), before);
  }
  run_tool("cove-stop", {"-P", other, "-n", "cr-copy", "-k"});
  run_tool("cove-destroy", {"-P", other, "-n", "cr-copy", "-f"});
}

TEST_F(CheckpointTest, EstablishedTcpConnectionSurvives) {
  create_busybox("cr-tcp");
  start("cr-tcp");
  std::ofstream(path_ + "/cr-tcp/rootfs/root/tcp.sh")
      << "sleep 100000 | nc -l -p 5000 > /tmp/got &\nsleep 0.3\n"
         "i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done | nc 127.0.0.1 5000\n";
  auto r = cove("cove-attach", "cr-tcp", {"--", "sh", "-c", "(setsid sh /root/tcp.sh </dev/null >/dev/null 2>&1 &)"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto size = [&] { return std::stol("0" + attach_out("cr-tcp", {"sh", "-c", "wc -c < /tmp/got"})); };
  // Polled, not slept: on a loaded host the pipeline may need seconds to get going.
  long before = 0;
  for (int i = 0; i < 100 && before < 4; ++i) {
    ::usleep(100000);
    before = size();
  }
  ASSERT_GE(before, 4) << "the TCP pipeline never got going";
  checkpoint("cr-tcp", images("1"), true);
  restore("cr-tcp", images("1"));
  long after = before;
  for (int i = 0; i < 100 && after <= before; ++i) {
    ::usleep(100000);
    after = size();
  }
  EXPECT_GT(after, before) << "no data over the restored connection";
  EXPECT_NE(attach_out("cr-tcp", {"cat", "/proc/net/tcp"}).find(" 01 "), std::string::npos);
}

TEST_F(CheckpointTest, HeldFileLocksAreRestored) {
  create_busybox("cr-lock");
  start("cr-lock");
  auto r = cove("cove-attach", "cr-lock", {"--", "sh", "-c", "(setsid flock /tmp/lockfile sleep 100000 </dev/null >/dev/null 2>&1 &)"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(eventually(
      [&] { return attach_out("cr-lock", {"sh", "-c", "flock -n /tmp/lockfile true && echo free || echo held"}) == "held"; }));
  checkpoint("cr-lock", images("1"), true);
  restore("cr-lock", images("1"));
  EXPECT_EQ(attach_out("cr-lock", {"sh", "-c", "flock -n /tmp/lockfile true && echo free || echo held"}), "held");
}

TEST_F(CheckpointTest, BindMountedHostDirectory) {
  std::string host = path_ + "/hostdir";
  std::filesystem::create_directories(host);
  // Writable for the container's root, an ordinary host uid.
  std::filesystem::permissions(host, std::filesystem::perms::all);
  create_busybox("cr-bind", "[mount]\nentry = " + host + " srv none bind,create=dir 0 0\n");
  start("cr-bind");
  auto r = cove("cove-attach", "cr-bind",
                {"--", "sh", "-c",
                 "(setsid sh -c 'i=0; while true; do i=$((i+1)); echo $i > /srv/n; sleep 0.05; done' </dev/null >/dev/null "
                 "2>&1 &)"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto counter = [&] { return std::stol("0" + trim_str(read_text(host + "/n"))); };
  for (int i = 0; i < 100 && counter() < 2; ++i) ::usleep(100000);
  checkpoint("cr-bind", images("1"), true);
  long before = counter();
  ASSERT_GT(before, 0) << "the writer never wrote through the bind mount";
  restore("cr-bind", images("1"));
  long after = before;
  for (int i = 0; i < 100 && after <= before; ++i) {
    ::usleep(100000);
    after = counter();
  }
  EXPECT_GT(after, before);
}

TEST_F(CheckpointTest, CgroupLimitsAreRestored) {
  create_busybox("cr-cg", "[cgroup]\npids.max = 77\n");
  start("cr-cg");
  start_counter("cr-cg");
  round_trip("cr-cg", "1");
  auto v = cove("cove-cgroup", "cr-cg", {"pids.max"});
  EXPECT_NE(v.out.find("77"), std::string::npos) << v.out << v.err;
}

TEST_F(CheckpointTest, PipeToAProcessOutside) {
  create_busybox("cr-pipe");
  start("cr-pipe");
  // cove-attach's stdout is a pipe to this test; the command inside keeps writing into it.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    std::string tool = builddir() + "/cove-attach";
    ::execl(tool.c_str(), tool.c_str(), "-P", path_.c_str(), "-n", "cr-pipe", "--", "sh", "-c",
            "(setsid sh -c 'i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done' </dev/null 2>/dev/null &) ", nullptr);
    ::_exit(127);
  }
  ::close(fds[1]);
  int st;
  ::waitpid(pid, &st, 0);
  char buf[4096];
  ASSERT_GT(::read(fds[0], buf, sizeof buf), 0);
  checkpoint("cr-pipe", images("1"), true);
  while (::read(fds[0], buf, sizeof buf) > 0) {  // drain what was written before the dump
    if (state("cr-pipe") == "STOPPED") break;
  }
  restore("cr-pipe", images("1"));
  ssize_t n = ::read(fds[0], buf, sizeof buf);
  EXPECT_GT(n, 0) << "nothing arrived through the pipe after the restore";
  ::close(fds[0]);
}

TEST_F(CheckpointTest, FrozenContainerIsRestoredFrozen) {
  create_busybox("cr-frz");
  start("cr-frz");
  start_counter("cr-frz");
  auto f = cove("cove-freeze", "cr-frz");
  ASSERT_EQ(f.status, 0) << f.err;
  EXPECT_EQ(state("cr-frz"), "FROZEN");
  checkpoint("cr-frz", images("1"), true);
  EXPECT_EQ(state("cr-frz"), "STOPPED");
  restore("cr-frz", images("1"));
  EXPECT_EQ(state("cr-frz"), "FROZEN");
  auto u = cove("cove-unfreeze", "cr-frz");
  EXPECT_EQ(u.status, 0) << u.err;
  long a = counter("cr-frz");
  EXPECT_TRUE(eventually([&] { return counter("cr-frz") > a; })) << "the counter stopped at " << a;
}

// What cove-migrate does on the source and the destination, on one host: frozen, dumped with
// leave-running, killed while frozen (no task runs again: the counter stays), then restored
// with --thaw: RUNNING, and the counter goes on from where it was.
TEST_F(CheckpointTest, ThawRestoresAContainerDumpedFrozenAsRunning) {
  create_busybox("cr-thaw");
  start("cr-thaw");
  start_counter("cr-thaw");
  ASSERT_EQ(cove("cove-freeze", "cr-thaw").status, 0);
  checkpoint("cr-thaw", images("1"), false);
  EXPECT_EQ(state("cr-thaw"), "FROZEN");
  std::string file = path_ + "/cr-thaw/rootfs/tmp/counter";
  std::string frozen_value = trim_str(read_text(file));
  ASSERT_FALSE(frozen_value.empty()) << file;
  auto k = cove("cove-stop", "cr-thaw", {"-k"});
  ASSERT_EQ(k.status, 0) << k.err;
  ::usleep(200000);
  EXPECT_EQ(trim_str(read_text(file)), frozen_value) << "a task ran between the thaw and the kill";
  auto r = cove("cove-restore", "cr-thaw", {"-D", images("1"), "--thaw"}, 120);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(state("cr-thaw"), "RUNNING");
  long a = counter("cr-thaw");
  EXPECT_GE(a, std::stol("0" + frozen_value));
  EXPECT_TRUE(eventually([&] { return counter("cr-thaw") > a; })) << "the counter stopped at " << a;
}

// A background process left by cove-attach without a pty (stdio not a terminal) is in a
// session of the attached command, inside the container: the dump works and the sleeper is
// back with the same pid.
TEST_F(CheckpointTest, SleeperLeftByAttachWithoutPtySurvives) {
  create_busybox("cr-att");
  start("cr-att");
  auto r = cove("cove-attach", "cr-att",
                {"--no-pty", "--", "sh", "-c", "sleep 100000 </dev/null >/dev/null 2>&1 & echo $!"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::string sleeper = trim_str(r.out);
  ASSERT_FALSE(sleeper.empty());
  // Its session and group are the attached shell's (gone now), a pid inside the container.
  auto ids = attach_out("cr-att", {"sh", "-c", "cut -d' ' -f5,6 /proc/" + sleeper + "/stat"});
  EXPECT_NE(ids, "0 0") << ids;
  auto check = cove("cove-checkpoint", "cr-att", {"--check"});
  EXPECT_EQ(check.status, 0) << check.out << check.err;
  checkpoint("cr-att", images("1"), true);
  EXPECT_EQ(state("cr-att"), "STOPPED");
  restore("cr-att", images("1"));
  ASSERT_EQ(state("cr-att"), "RUNNING");
  EXPECT_EQ(attach_out("cr-att", {"cat", "/proc/" + sleeper + "/comm"}), "sleep");
  EXPECT_EQ(attach_out("cr-att", {"cat", "/proc/" + sleeper + "/cmdline"}), std::string("sleep\0" "100000\0", 13));
}

// A process entered from the host (nsenter) whose child stays behind below init keeps the
// host session: --check names it, and the dump indeed fails, until it is gone.
TEST_F(CheckpointTest, CheckFlagsASessionLeaderOutside) {
  create_busybox("cr-sid");
  start("cr-sid");
  auto r = run_cmd({"nsenter", "-t", std::to_string(init_pid("cr-sid")), "-a", "sh", "-c",
                    "sleep 100000 </dev/null >/dev/null 2>&1 & echo $!"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::string inside = trim_str(r.out);
  ASSERT_FALSE(inside.empty());
  auto check = cove("cove-checkpoint", "cr-sid", {"--check"});
  EXPECT_EQ(check.status, 1) << check.out << check.err;
  EXPECT_NE(check.out.find("BLOCKS   sessions process "), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("(`sleep`, pid " + inside + " inside): its session leader (host pid "), std::string::npos)
      << check.out;
  // nsenter moves no cgroup: the sleeper is outside the container's, which the dump's freeze misses.
  EXPECT_NE(check.out.find("BLOCKS   cgroups  process "), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("outside the container's"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("cannot be checkpointed"), std::string::npos) << check.out;
  auto json = nlohmann::json::parse(cove("cove-checkpoint", "cr-sid", {"--check", "--json"}).out, nullptr, false);
  ASSERT_FALSE(json.is_discarded());
  EXPECT_FALSE(json.value("checkpointable", true));
  // What --check predicts: the dump fails (and the container keeps running).
  auto cp = cove("cove-checkpoint", "cr-sid", {"-D", images("1")}, 120);
  EXPECT_NE(cp.status, 0) << cp.out;
  EXPECT_EQ(state("cr-sid"), "RUNNING");
  // Without it, both agree again.
  EXPECT_EQ(cove("cove-attach", "cr-sid", {"--", "kill", "-9", inside}).status, 0);
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    gone = cove("cove-attach", "cr-sid", {"--", "test", "-e", "/proc/" + inside}).status != 0;
    if (!gone) ::usleep(10000);
  }
  ASSERT_TRUE(gone);
  check = cove("cove-checkpoint", "cr-sid", {"--check"});
  EXPECT_EQ(check.status, 0) << check.out << check.err;
  checkpoint("cr-sid", images("2"), false);
}

// CRIU behind a gate: a wrapper the monitor runs as `criu` (COVE_CRIU, inherited from the tool
// that started the monitor) waits on a FIFO before it executes the real CRIU, so the test sees
// the container CHECKPOINTING or RESTORING for as long as it wants, without timing guesses.
class CriuGate {
 public:
  explicit CriuGate(const std::string& dir) : fifo_(dir + "/criu-gate"), script_(dir + "/criu-gated") {
    auto info = criu::probe();
    EXPECT_TRUE(info.has_value());
    ::mkfifo(fifo_.c_str(), 0600);
    std::ofstream(script_) << "#!/bin/sh\nread _ < '" << fifo_ << "'\nexec '" << (info ? info->path : "criu")
                           << "' \"$@\"\n";
    ::chmod(script_.c_str(), 0755);
  }
  const std::string& script() const { return script_; }
  // Lets one waiting CRIU run go; false if none came to the gate within `timeout_ms`.
  bool open_once(int timeout_ms = 30000) {
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
      int fd = ::open(fifo_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);  // ENXIO until it reads
      if (fd >= 0) {
        bool ok = ::write(fd, "\n", 1) == 1;
        ::close(fd);
        return ok;
      }
      if (now_ms() >= deadline) return false;
      ::usleep(10000);
    }
  }

 private:
  std::string fifo_, script_;
};

// A cove tool started in the background with COVE_CRIU set (or not), its output in pipes.
class BackgroundTool {
 public:
  BackgroundTool(const std::string& tool, const std::vector<std::string>& args, const std::string& criu) {
    ::pipe2(err_, O_CLOEXEC);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(err_[1], 2);
      int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(null, 1);
      if (!criu.empty()) ::setenv("COVE_CRIU", criu.c_str(), 1);
      ::setenv("COVE_DATADIR", (builddir() + ":" + srcdir()).c_str(), 0);
      std::string path = builddir() + "/" + tool;
      std::vector<char*> argv = {const_cast<char*>(path.c_str())};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(err_[1]);
  }
  ~BackgroundTool() {
    if (pid_ > 0) wait();
    ::close(err_[0]);
  }
  bool done() { return pid_ <= 0 || ::waitpid(pid_, &status_, WNOHANG) == pid_ ? (pid_ = 0, true) : false; }
  int wait() {
    if (pid_ > 0) ::waitpid(pid_, &status_, 0);
    pid_ = 0;
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
  }
  std::string err() {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(err_[0], buf, sizeof buf)) > 0) out.append(buf, size_t(n));
    return out;
  }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  int err_[2] = {-1, -1};
};

// While a dump or a restore runs, the state says so (cove-info, cove-ls, text and JSON), and a
// second checkpoint, a stop, a freeze, an attach are refused with the reason; afterwards all is
// as usual.
TEST_F(CheckpointTest, BusyWhileCriuRuns) {
  CriuGate gate(path_);
  create_busybox("cr-busy");
  {
    BackgroundTool st("cove-start", {"-P", path_, "-n", "cr-busy"}, gate.script());
    ASSERT_EQ(st.wait(), 0) << st.err();
  }
  auto wait_state = [&](const std::string& want) {
    for (int64_t end = now_ms() + 30000; now_ms() < end; ::usleep(10000))
      if (state("cr-busy") == want) return true;
    return false;
  };
  const std::string busy_dump = "`cr-busy` is being checkpointed (CHECKPOINTING); try again when that has finished";
  {
    BackgroundTool first("cove-checkpoint", {"-P", path_, "-n", "cr-busy", "-D", images("1")}, "");
    bool seen = wait_state("CHECKPOINTING");
    if (!seen) gate.open_once(0);
    ASSERT_TRUE(seen) << "state " << state("cr-busy");
    auto second = cove("cove-checkpoint", "cr-busy", {"-D", images("2")});
    EXPECT_EQ(second.status, 1);
    EXPECT_NE(second.err.find(busy_dump), std::string::npos) << second.err;
    EXPECT_FALSE(std::filesystem::exists(images("2")));
    for (const char* tool : {"cove-stop", "cove-freeze", "cove-attach"}) {
      auto r = cove(tool, "cr-busy", std::string(tool) == "cove-attach" ? std::vector<std::string>{"--", "true"}
                                                                        : std::vector<std::string>{});
      EXPECT_EQ(r.status, 1) << tool;
      EXPECT_NE(r.err.find(busy_dump), std::string::npos) << tool << ": " << r.err;
    }
    EXPECT_EQ(info_json_field("cr-busy", "state"), "CHECKPOINTING");
    EXPECT_NE(cove("cove-info", "cr-busy").out.find("CHECKPOINTING"), std::string::npos);
    EXPECT_NE(cove("cove-ls", "", {"-s", "checkpointing", "-1"}).out.find("cr-busy"), std::string::npos);
    ASSERT_TRUE(gate.open_once());
    EXPECT_EQ(first.wait(), 0) << first.err();
  }
  EXPECT_EQ(state("cr-busy"), "RUNNING");
  EXPECT_TRUE(std::filesystem::exists(images("1") + "/cove-image.json"));
  // A dump with --stop ends STOPPED; the restore is RESTORING until init runs.
  {
    BackgroundTool stop("cove-checkpoint", {"-P", path_, "-n", "cr-busy", "-D", images("3"), "--stop"}, "");
    ASSERT_TRUE(gate.open_once());
    EXPECT_EQ(stop.wait(), 0) << stop.err();
  }
  EXPECT_EQ(state("cr-busy"), "STOPPED");
  {
    BackgroundTool rs("cove-restore", {"-P", path_, "-n", "cr-busy", "-D", images("3")}, gate.script());
    bool seen = wait_state("RESTORING");
    if (!seen) gate.open_once(0);
    ASSERT_TRUE(seen) << "state " << state("cr-busy");
    auto r = cove("cove-stop", "cr-busy", {"-k"});
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("`cr-busy` is being restored (RESTORING)"), std::string::npos) << r.err;
    r = cove("cove-restore", "cr-busy", {"-D", images("3")});
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("`cr-busy` is being restored (RESTORING)"), std::string::npos) << r.err;
    EXPECT_NE(cove("cove-ls", "", {"--json"}).out.find("\"RESTORING\""), std::string::npos);
    ASSERT_TRUE(gate.open_once());
    EXPECT_EQ(rs.wait(), 0) << rs.err();
  }
  EXPECT_EQ(state("cr-busy"), "RUNNING");
  EXPECT_EQ(attach_out("cr-busy", {"cat", "/proc/1/comm"}), "init");
  EXPECT_EQ(cove("cove-stop", "cr-busy").status, 0);
}

// cove-console on a real terminal (support's Terminal) for console or tty `tty`.
class ConsoleSession : public Terminal {
 public:
  ConsoleSession(const std::string& path, const std::string& name, int tty = 0)
      : Terminal({builddir() + "/cove-console", "-P", path, "-n", name, "-t", std::to_string(tty)}) {}
};

// After a restore the console is the monitor's again: cove-console shows the console shell's
// output and what is typed reaches it.
TEST_F(CheckpointTest, ConsoleWorksAfterRestore) {
  create_busybox("cr-con");
  start("cr-con");
  checkpoint("cr-con", images("1"), true);
  restore("cr-con", images("1"));
  ASSERT_EQ(state("cr-con"), "RUNNING");
  ConsoleSession con(path_, "cr-con");
  ASSERT_TRUE(con.wait_for("Connected to tty 0 of `cr-con`")) << con.output();
  // The shell computes the marker, so seeing it proves the console shell ran the line; the
  // file proves it from inside.
  con.type("echo con$((6*7))sole; touch /tmp/from-console\r");
  EXPECT_TRUE(con.wait_for("con42sole")) << con.output();
  con.type("\001q");
  EXPECT_TRUE(con.wait_for("Detached from `cr-con`")) << con.output();
  EXPECT_EQ(con.wait_exit(), 0) << con.output();
  EXPECT_EQ(cove("cove-attach", "cr-con", {"--", "test", "-e", "/tmp/from-console"}).status, 0);
  EXPECT_EQ(state("cr-con"), "RUNNING");
  // The console is free again, and survives a second round trip.
  checkpoint("cr-con", images("2"), true);
  restore("cr-con", images("2"));
  ConsoleSession again(path_, "cr-con");
  ASSERT_TRUE(again.wait_for("Connected to tty 0 of `cr-con`")) << again.output();
  again.type("echo round$((1+1))trip\r");
  EXPECT_TRUE(again.wait_for("round2trip")) << again.output();
  again.type("\001q");
  EXPECT_EQ(again.wait_exit(), 0) << again.output();
}

// A session on /dev/tty1 (the busybox template's tty1 shell) survives a checkpoint that leaves
// the container running and a --stop + restore: the shell keeps its variables and its pid, and
// cove-console -t 1 reaches it afterwards. This needs CRIU with cove's patch (several ptys
// whose masters the monitor holds: scripts/criu-patches, installed by scripts/install-criu);
// with a stock CRIU cove ends the tty sessions instead (documented in cove-checkpoint(1)).
TEST_F(CheckpointTest, TtySessionSurvivesCheckpointAndRestore) {
  auto criu_info = criu::probe();
  ASSERT_TRUE(criu_info.has_value());
  if (!criu_info->orphan_ttys)
    GTEST_SKIP() << "CRIU at " << criu_info->path << " lacks cove's patch (scripts/install-criu): tty sessions end";
  create_busybox("cr-tty");
  start("cr-tty");
  // cove-console -t 1 ends when nothing holds the tty: wait for init's tty1 shell first.
  auto tty1_shell_runs = [&] {
    return cove("cove-attach", "cr-tty",
                {"--", "sh", "-c",
                 "for p in /proc/[0-9]*; do [ \"$(readlink $p/fd/0)\" = /dev/pts/1 ] && exit 0; done; exit 1"})
               .status == 0;
  };
  auto wait_tty1_shell = [&] {
    bool up = false;
    for (int i = 0; i < 300 && !(up = tty1_shell_runs()); ++i) ::usleep(20000);
    return up;
  };
  ASSERT_TRUE(wait_tty1_shell()) << "no shell on tty1";
  auto ask = [&](const char* what) {
    EXPECT_TRUE(wait_tty1_shell()) << what << ": no shell on tty1";
    ConsoleSession con(path_, "cr-tty", 1);
    EXPECT_TRUE(con.wait_for("Connected to tty 1 of `cr-tty`")) << what << con.output();
    con.type("echo \"v=${KEPT:-none} p=$$ \"$((40+2))\r");
    EXPECT_TRUE(con.wait_for("42")) << what << con.output();
    std::string out = con.output();
    auto at = out.rfind("v=");
    con.type("\001q");
    EXPECT_EQ(con.wait_exit(), 0) << what << con.output();
    return at == std::string::npos ? std::string() : out.substr(at, out.find(' ', out.find("p=", at)) - at);
  };
  {
    ConsoleSession con(path_, "cr-tty", 1);
    ASSERT_TRUE(con.wait_for("Connected to tty 1 of `cr-tty`")) << con.output();
    con.type("KEPT=yes; echo set$((1+1))\r");
    ASSERT_TRUE(con.wait_for("set2")) << con.output();
    con.type("\001q");
    ASSERT_EQ(con.wait_exit(), 0) << con.output();
  }
  std::string before = ask("before");
  ASSERT_EQ(before.substr(0, 6), "v=yes ") << before;
  checkpoint("cr-tty", images("1"), false);
  std::string after_dump = ask("after a dump");
  checkpoint("cr-tty", images("2"), true);
  restore("cr-tty", images("2"));
  std::string after_restore = ask("after a restore");
  EXPECT_EQ(after_dump, before);
  EXPECT_EQ(after_restore, before);
}

// cove-console on a tty nothing holds yet (no shell spawned there) waits for it instead of
// ending at once, and shows what a process inside then writes to it.
class ConsoleTtyTest : public ContainerTest {};

TEST_F(ConsoleTtyTest, WaitsOnATtyNobodyHoldsYet) {
  create_busybox("con-idle");
  std::ofstream(path_ + "/con-idle/config", std::ios::app) << "\n[container]\nttys = 2\n";
  ASSERT_EQ(cove("cove-start", "con-idle").status, 0);
  ConsoleSession con(path_, "con-idle", 2);
  ASSERT_TRUE(con.wait_for("Connected to tty 2 of `con-idle`")) << con.output();
  EXPECT_EQ(con.wait_exit(500), -1) << "the console ended on an idle tty: " << con.output();
  EXPECT_EQ(cove("cove-attach", "con-idle", {"--", "sh", "-c", "echo hel$((1+1))lo > /dev/tty2"}).status, 0);
  EXPECT_TRUE(con.wait_for("hel2lo")) << con.output();
  con.type("\001q");
  EXPECT_TRUE(con.wait_for("Detached from `con-idle`")) << con.output();
  EXPECT_EQ(con.wait_exit(), 0) << con.output();
}

}  // namespace
}  // namespace cove::test
