// cove-oci, the OCI runtime (issue 16), driven as containerd's shim drives runc: a bundle made
// here (busybox-static in rootfs/, config.json from `cove-oci spec`, edited per test), a
// private --root, and the test process as a child subreaper (as the shim is), so that init,
// orphaned when `create` exits, becomes the test's child and its exit status is the test's to
// read. Every test ends with no state dir, cgroup or process of its container left.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "base/fd_passing.hpp"
#include "base/scope_exit.hpp"
#include "base/strings.hpp"
#include "support.hpp"

namespace cove::test {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

class OciRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    COVE_REQUIRE_ROOT();
    if (::access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "no /bin/busybox (busybox-static)";
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    char tmpl[] = "/tmp/cove-oci-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    root_ = base_ + "/state";
    bundle_ = base_ + "/bundle";
    make_bundle();
  }

  void TearDown() override {
    if (base_.empty()) {
      ::prctl(PR_SET_CHILD_SUBREAPER, 0);
      return;
    }
    for (const auto& id : ids_) oci({"delete", "--force", id});
    for (const auto& id : ids_) {
      EXPECT_FALSE(fs::exists(root_ + "/" + id)) << "state of " << id << " left";
      for (const char* h : {"memory", "pids", "unified", "systemd"})
        EXPECT_FALSE(fs::exists(std::string("/sys/fs/cgroup/") + h + "/cove-oci-test/" + id)) << "cgroup left: " << h;
    }
    // The parent every test's cgroupsPath shares (create makes it; delete keeps it, as runc does).
    for (const auto& h : fs::directory_iterator("/sys/fs/cgroup")) {
      std::string parent = h.path().string() + "/cove-oci-test";
      if (fs::exists(parent)) {
        EXPECT_EQ(::rmdir(parent.c_str()), 0) << parent << ": " << std::strerror(errno);
      }
    }
    reap_all();
    // The rest of the test binary must not inherit the orphans of other tests' daemons (a killed
    // monitor would stay a zombie of ours).
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
    std::error_code ec;
    fs::remove_all(base_, ec);
  }

  void make_bundle() {
    std::string r = bundle_ + "/rootfs";
    for (const char* d : {"bin", "proc", "sys", "dev", "etc", "tmp", "out"}) fs::create_directories(r + "/" + d);
    fs::copy_file("/bin/busybox", r + "/bin/busybox");
    for (const char* a : {"sh", "cat", "id", "ls", "sleep", "echo", "touch", "grep", "mount", "hostname", "stat", "test",
                          "yes", "head", "cut"})
      fs::create_symlink("busybox", r + "/bin/" + a);
    auto s = oci({"spec", "--bundle", bundle_});
    ASSERT_EQ(s.status, 0) << s.err;
    spec_ = Json::parse(read_text(bundle_ + "/config.json"));
    spec_["process"]["terminal"] = false;
    spec_["root"]["readonly"] = false;
    spec_["linux"]["cgroupsPath"] = "/cove-oci-test/ID";
    // The host side of the test's exchange: rootfs/out is this dir, bound read-write.
    fs::create_directories(base_ + "/out");
    spec_["mounts"].push_back({{"destination", "/out"}, {"type", "bind"}, {"source", base_ + "/out"},
                               {"options", {"rbind", "rw"}}});
  }

  void write_spec(const std::string& id) {
    Json j = spec_;
    j["linux"]["cgroupsPath"] = "/cove-oci-test/" + id;
    std::ofstream(bundle_ + "/config.json", std::ios::trunc) << j.dump(2);
  }

  void set_args(const std::string& script) { spec_["process"]["args"] = {"sh", "-c", script}; }

  RunResult oci(const std::vector<std::string>& args, int timeout_s = 60) {
    std::vector<std::string> a = {"--root", root_};
    a.insert(a.end(), args.begin(), args.end());
    return run_tool("cove-oci", a, timeout_s);
  }

  // `create` as the shim runs it: init inherits the tool's stdio, so it goes to files here (a
  // pipe would stay open, held by init, for as long as the container lives).
  RunResult create(const std::string& id, std::vector<std::string> extra = {}) {
    ids_.push_back(id);
    write_spec(id);
    std::string cmd = "exec '" + builddir() + "/cove-oci' --root '" + root_ + "' create --bundle '" + bundle_ +
                      "' --pid-file '" + base_ + "/" + id + ".pid'";
    for (const auto& e : extra) cmd += " '" + e + "'";
    std::string io = base_ + "/" + id + ".stdio";
    cmd += " '" + id + "' > '" + io + ".out' 2> '" + io + ".err'";
    auto r = run_cmd({"sh", "-c", cmd});
    r.out = read_text(io + ".out");
    r.err = read_text(io + ".err");
    return r;
  }

  Json state(const std::string& id) {
    auto r = oci({"state", id});
    EXPECT_EQ(r.status, 0) << r.err;
    return r.status == 0 ? Json::parse(r.out) : Json::object();
  }

  // Waits for `pid`, a child of ours since `create` exited (we are its subreaper).
  int wait_child(pid_t pid) {
    int st = 0;
    EXPECT_EQ(::waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }

  void reap_all() {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {}
  }

  std::string out(const std::string& name) { return trim_str(read_text(base_ + "/out/" + name)); }

  // cove-oci with its stdout and stderr on files, as `create` (a restore of a container whose
  // stdio were files wants files again).
  RunResult oci_to_files(const std::vector<std::string>& args) {
    std::string cmd = "exec '" + builddir() + "/cove-oci' --root '" + root_ + "'";
    for (const auto& a : args) cmd += " '" + a + "'";
    std::string io = base_ + "/oci-call";
    auto r = run_cmd({"sh", "-c", cmd + " < /dev/null > '" + io + ".out' 2> '" + io + ".err'"});
    r.out = read_text(io + ".out");
    r.err = read_text(io + ".err");
    return r;
  }

  // cove-oci with stdin /dev/null, stdout `out_fd` (a pipe, as the shim gives) and stderr a
  // file: its exit status (not EOF on the pipe, which the container keeps open).
  struct Spawned {
    int status = -1;
    std::string err;
  };
  Spawned oci_with_stdout(const std::vector<std::string>& args, int out_fd) {
    std::string err_file = base_ + "/spawn.err";
    std::vector<std::string> all = {builddir() + "/cove-oci", "--root", root_};
    all.insert(all.end(), args.begin(), args.end());
    pid_t pid = ::fork();
    if (pid == 0) {
      int in = ::open("/dev/null", O_RDONLY);
      int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(in, 0);
      ::dup2(out_fd, 1);
      ::dup2(err, 2);
      std::vector<char*> argv;
      for (auto& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    Spawned s;
    int st = 0;
    EXPECT_EQ(::waitpid(pid, &st, 0), pid);
    s.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    s.err = read_text(err_file);
    return s;
  }

  // The numbers the container's counter writes on the pipe `fd`, up to the first one >= `until`
  // (-1: none came within 10 s).
  static long read_count_until(int fd, long until) {
    std::string buf;
    int64_t deadline = now_ms() + 10000;
    while (now_ms() < deadline) {
      struct pollfd p = {fd, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      char c[256];
      ssize_t n = ::read(fd, c, sizeof c);
      if (n <= 0) return -1;
      buf.append(c, size_t(n));
      size_t nl;
      while ((nl = buf.find('\n')) != std::string::npos) {
        long v = std::stol(buf.substr(0, nl));
        buf.erase(0, nl + 1);
        if (v >= until) return v;
      }
    }
    return -1;
  }

  std::string base_, root_, bundle_;
  Json spec_;
  std::vector<std::string> ids_;
};

TEST_F(OciRuntimeTest, CreateStartKillDeleteAsTheShimDoes) {
  set_args("echo started > /out/started; exec sleep 1000");
  auto c = create("life");
  ASSERT_EQ(c.status, 0) << c.err;
  Json s = state("life");
  EXPECT_EQ(s["status"], "created");
  EXPECT_EQ(s["ociVersion"], "1.1.0");
  EXPECT_EQ(s["bundle"], bundle_);
  pid_t pid = s["pid"].get<pid_t>();
  ASSERT_GT(pid, 0);
  EXPECT_EQ(trim_str(read_text(base_ + "/life.pid")), std::to_string(pid));
  // Orphaned by `create`, init is the subreaper's child, as it is the shim's.
  EXPECT_EQ(::getpgid(pid) >= 0, true);
  std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  EXPECT_NE(stat.find(") S " + std::to_string(::getpid()) + " "), std::string::npos) << stat;
  // Nothing of the process ran before `start`.
  EXPECT_FALSE(fs::exists(base_ + "/out/started"));
  auto st = oci({"start", "life"});
  ASSERT_EQ(st.status, 0) << st.err;
  ASSERT_TRUE(eventually([&] { return out("started") == "started"; }));
  EXPECT_EQ(state("life")["status"], "running");
  auto again = oci({"start", "life"});
  EXPECT_NE(again.status, 0);
  EXPECT_NE(again.err.find("cannot start a container that is running"), std::string::npos) << again.err;
  auto busy = oci({"delete", "life"});
  EXPECT_NE(busy.status, 0);
  EXPECT_NE(busy.err.find("not stopped"), std::string::npos) << busy.err;
  ASSERT_EQ(oci({"kill", "life", "KILL"}).status, 0);
  EXPECT_EQ(wait_child(pid), 128 + SIGKILL);
  EXPECT_EQ(state("life")["status"], "stopped");
  EXPECT_EQ(state("life")["pid"], 0);
  auto d = oci({"delete", "life"});
  ASSERT_EQ(d.status, 0) << d.err;
  auto gone = oci({"state", "life"});
  EXPECT_NE(gone.status, 0);
  EXPECT_NE(gone.err.find("does not exist"), std::string::npos) << gone.err;
  auto k = oci({"kill", "life", "TERM"});
  EXPECT_NE(k.err.find("does not exist"), std::string::npos) << k.err;
}

TEST_F(OciRuntimeTest, RunReturnsTheStatusAndPassesStdio) {
  set_args("echo out-line; echo err-line >&2; exit 7");
  ids_.push_back("run1");
  write_spec("run1");
  auto r = oci({"run", "--bundle", bundle_, "run1"});
  EXPECT_EQ(r.status, 7) << r.err;
  EXPECT_EQ(trim_str(r.out), "out-line");
  EXPECT_NE(r.err.find("err-line"), std::string::npos);
  EXPECT_FALSE(fs::exists(root_ + "/run1"));
}

TEST_F(OciRuntimeTest, ProcessUserCapabilitiesAndEnvironment) {
  set_args("id -u > /out/uid; id -g > /out/gid; id -G > /out/groups; echo $FOO > /out/env; pwd > /out/cwd; "
           "grep -E '^Cap(Eff|Bnd|Amb)' /proc/self/status > /out/caps; grep NoNewPrivs /proc/self/status > /out/nnp");
  spec_["process"]["user"] = {{"uid", 1000}, {"gid", 1001}, {"additionalGids", {2000, 2001}}};
  fs::permissions(base_ + "/out", fs::perms::all);
  spec_["process"]["env"].push_back("FOO=bar");
  spec_["process"]["cwd"] = "/tmp";
  spec_["process"]["capabilities"] = {{"bounding", {"CAP_KILL", "CAP_NET_BIND_SERVICE"}},
                                      {"effective", {"CAP_NET_BIND_SERVICE"}},
                                      {"permitted", {"CAP_NET_BIND_SERVICE"}},
                                      {"inheritable", {"CAP_NET_BIND_SERVICE"}},
                                      {"ambient", {"CAP_NET_BIND_SERVICE"}}};
  ids_.push_back("user");
  write_spec("user");
  auto r = oci({"run", "--bundle", bundle_, "user"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(out("uid"), "1000");
  EXPECT_EQ(out("gid"), "1001");
  EXPECT_EQ(out("groups"), "1001 2000 2001");
  EXPECT_EQ(out("env"), "bar");
  EXPECT_EQ(out("cwd"), "/tmp");
  std::string caps = out("caps");
  // CAP_NET_BIND_SERVICE is bit 10; CAP_KILL bit 5.
  EXPECT_NE(caps.find("CapEff:\t0000000000000400"), std::string::npos) << caps;
  EXPECT_NE(caps.find("CapBnd:\t0000000000000420"), std::string::npos) << caps;
  EXPECT_NE(caps.find("CapAmb:\t0000000000000400"), std::string::npos) << caps;
  EXPECT_EQ(out("nnp"), "NoNewPrivs:\t1");
}

TEST_F(OciRuntimeTest, LimitsMasksReadOnlyRootAndHostname) {
  set_args("touch /x 2> /out/rootfs-ro; cat /proc/keys > /out/keys 2>&1; (echo 1 > /proc/sys/kernel/domainname) "
           "2> /out/procsys; hostname > /out/hostname; exec sleep 1000");
  spec_["root"]["readonly"] = true;
  spec_["hostname"] = "ocihost";
  spec_["linux"]["resources"]["memory"] = {{"limit", 64 << 20}, {"reservation", 32 << 20}, {"swappiness", 10}};
  spec_["linux"]["resources"]["cpu"] = {{"burst", 5000}, {"quota", 50000}, {"period", 100000}, {"idle", 1}};
  spec_["linux"]["resources"]["pids"] = {{"limit", 42}};
  auto c = create("lim");
  ASSERT_EQ(c.status, 0) << c.err;
  pid_t pid = state("lim")["pid"].get<pid_t>();
  ASSERT_EQ(oci({"start", "lim"}).status, 0);
  ASSERT_TRUE(eventually([&] { return !out("hostname").empty(); }));
  EXPECT_EQ(out("hostname"), "ocihost");
  EXPECT_NE(out("rootfs-ro").find("Read-only file system"), std::string::npos) << out("rootfs-ro");
  EXPECT_EQ(out("keys"), "");  // masked: /dev/null bound over it
  EXPECT_NE(out("procsys").find("Read-only file system"), std::string::npos) << out("procsys");
  EXPECT_EQ(trim_str(read_text("/sys/fs/cgroup/memory/cove-oci-test/lim/memory.limit_in_bytes")),
            std::to_string(64 << 20));
  EXPECT_EQ(trim_str(read_text("/sys/fs/cgroup/pids/cove-oci-test/lim/pids.max")), "42");
  // The fields without a place in cove's limits, as this v1 host's files.
  EXPECT_EQ(trim_str(read_text("/sys/fs/cgroup/memory/cove-oci-test/lim/memory.soft_limit_in_bytes")),
            std::to_string(32 << 20));
  EXPECT_EQ(trim_str(read_text("/sys/fs/cgroup/memory/cove-oci-test/lim/memory.swappiness")), "10");
  EXPECT_EQ(trim_str(read_text("/sys/fs/cgroup/cpu/cove-oci-test/lim/cpu.cfs_burst_us")), "5000");
  EXPECT_EQ(trim_str(read_text("/sys/fs/cgroup/cpu/cove-oci-test/lim/cpu.idle")), "1");
  std::string procs = read_text("/sys/fs/cgroup/pids/cove-oci-test/lim/cgroup.procs");
  EXPECT_NE(procs.find(std::to_string(pid)), std::string::npos);
  auto ps = oci({"ps", "--format", "json", "lim"});
  ASSERT_EQ(ps.status, 0) << ps.err;
  EXPECT_NE(ps.out.find(std::to_string(pid)), std::string::npos);
  ASSERT_EQ(oci({"pause", "lim"}).status, 0);
  EXPECT_EQ(state("lim")["status"], "paused");
  ASSERT_EQ(oci({"resume", "lim"}).status, 0);
  EXPECT_EQ(state("lim")["status"], "running");
  std::ofstream(base_ + "/res.json") << R"({"pids":{"limit":17},"memory":{"limit":100663296,"swappiness":20}})";
  auto up = oci({"update", "--resources", base_ + "/res.json", "lim"});
  ASSERT_EQ(up.status, 0) << up.err;
  EXPECT_EQ(trim_str(read_text("/sys/fs/cgroup/memory/cove-oci-test/lim/memory.swappiness")), "20");
  EXPECT_EQ(trim_str(read_text("/sys/fs/cgroup/pids/cove-oci-test/lim/pids.max")), "17");
  EXPECT_EQ(trim_str(read_text("/sys/fs/cgroup/memory/cove-oci-test/lim/memory.limit_in_bytes")), "100663296");
  // runc's per-limit flags, set over --resources when both are given.
  // (No --cpu-share: the kernel refuses shares for an idle group, which this one is.)
  auto flags = oci({"update", "--memory", "80m", "--pids-limit", "23", "--cpu-quota", "20000", "lim"});
  ASSERT_EQ(flags.status, 0) << flags.err;
  EXPECT_EQ(trim_str(read_text("/sys/fs/cgroup/cpu/cove-oci-test/lim/cpu.cfs_quota_us")), "20000");
  EXPECT_EQ(trim_str(read_text("/sys/fs/cgroup/memory/cove-oci-test/lim/memory.limit_in_bytes")), std::to_string(80 << 20));
  EXPECT_EQ(trim_str(read_text("/sys/fs/cgroup/pids/cove-oci-test/lim/pids.max")), "23");
  auto both = oci({"update", "--resources", base_ + "/res.json", "--pids-limit", "19", "lim"});
  ASSERT_EQ(both.status, 0) << both.err;
  EXPECT_EQ(trim_str(read_text("/sys/fs/cgroup/pids/cove-oci-test/lim/pids.max")), "19");
  EXPECT_EQ(trim_str(read_text("/sys/fs/cgroup/memory/cove-oci-test/lim/memory.limit_in_bytes")), "100663296");
  EXPECT_NE(oci({"update", "--memory", "lots", "lim"}).err.find("not a size"), std::string::npos);
  EXPECT_NE(oci({"update", "--kernel-memory", "1g", "lim"}).err.find("kernel memory"), std::string::npos);
  EXPECT_NE(oci({"update", "--l3-cache-schema", "L3:0=f", "lim"}).err.find("Intel RDT"), std::string::npos);
  EXPECT_EQ(trim_str(read_text("/sys/fs/cgroup/pids/cove-oci-test/lim/pids.max")), "19");
  std::ofstream(base_ + "/bad.json") << R"({"pids":{"limit":"x"}})";
  auto bad = oci({"update", "--resources", base_ + "/bad.json", "lim"});
  EXPECT_NE(bad.err.find("pids.limit"), std::string::npos) << bad.err;
  EXPECT_EQ(trim_str(read_text("/sys/fs/cgroup/pids/cove-oci-test/lim/pids.max")), "19");
  auto ev = oci({"events", "--stats", "lim"});
  ASSERT_EQ(ev.status, 0) << ev.err;
  Json stats = Json::parse(ev.out);
  EXPECT_EQ(stats["type"], "stats");
  EXPECT_GE(stats["data"]["pids"]["current"].get<int>(), 1);
  EXPECT_GT(stats["data"]["memory"]["usage"]["usage"].get<uint64_t>(), 0u);
  auto d = oci({"delete", "--force", "lim"});
  ASSERT_EQ(d.status, 0) << d.err;
  EXPECT_EQ(wait_child(pid), 128 + SIGKILL);
  EXPECT_FALSE(fs::exists("/sys/fs/cgroup/memory/cove-oci-test/lim"));
}

// `events` without --stats streams as runc's does: a stats object every --interval, an `oom`
// object once the cgroup's OOM killer strikes, and its end (status 0) once the container stops.
TEST_F(OciRuntimeTest, EventsStreamStatsAndOomUntilTheContainerStops) {
  set_args("exec sleep 1000");
  spec_["linux"]["resources"]["memory"] = {{"limit", 16 << 20}, {"swap", 16 << 20}};  // no swap to spill into
  auto c = create("ev");
  ASSERT_EQ(c.status, 0) << c.err;
  pid_t init = state("ev")["pid"].get<pid_t>();
  ASSERT_EQ(oci({"start", "ev"}).status, 0);
  EXPECT_NE(oci({"events", "--interval", "soon", "ev"}).err.find("not a duration"), std::string::npos);
  std::string events = base_ + "/events.out";
  pid_t ev = ::fork();
  ASSERT_GE(ev, 0);
  if (ev == 0) {
    int fd = ::open(events.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, 1);
    ::execl((builddir() + "/cove-oci").c_str(), "cove-oci", "--root", root_.c_str(), "events", "--interval", "200ms",
            "ev", nullptr);
    ::_exit(127);
  }
  bool reaped = false;
  ScopeExit stop_events([&] {
    if (reaped) return;
    ::kill(ev, SIGKILL);
    ::waitpid(ev, nullptr, 0);
  });
  auto lines = [&] {
    std::vector<Json> out;
    for (const auto& line : split(read_text(events), '\n'))
      if (!line.empty()) out.push_back(Json::parse(line, nullptr, false));
    return out;
  };
  auto lines_of = [&](const std::string& type) {
    size_t n = 0;
    for (const auto& j : lines())
      if (j.is_object() && j.value("type", "") == type) ++n;
    return n;
  };
  EXPECT_TRUE(eventually([&] { return lines_of("stats") >= 3; }, 5000)) << read_text(events);
  EXPECT_EQ(lines_of("oom"), 0u);
  // A shell holding 100 MB in a variable, in a 16 MiB cgroup without swap: the OOM killer.
  auto x = oci({"exec", "ev", "sh", "-c", "x=$(yes | head -c 100000000); echo survived"});
  EXPECT_EQ(x.out.find("survived"), std::string::npos) << x.out;
  EXPECT_TRUE(eventually([&] { return lines_of("oom") >= 1; }, 5000)) << read_text(events);
  for (const auto& j : lines()) EXPECT_TRUE(j.is_object() && j.value("id", "") == "ev") << j.dump();
  ASSERT_EQ(oci({"kill", "ev", "KILL"}).status, 0);
  EXPECT_EQ(wait_child(init), 128 + SIGKILL);
  int st = 0;
  reaped = eventually([&] { return ::waitpid(ev, &st, WNOHANG) == ev; }, 5000);
  ASSERT_TRUE(reaped) << "events did not end with the container";
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
  EXPECT_NE(oci({"events", "gone"}).status, 0);  // a container that is not there is an error
  ASSERT_EQ(oci({"delete", "ev"}).status, 0);
}

// `linux.timeOffsets` in the container's own time namespace: /proc/uptime (boottime) is ten
// days ahead for init and for a process exec'd in later; without a time namespace, refused.
TEST_F(OciRuntimeTest, TimeOffsetsShiftTheContainersClocks) {
  if (!fs::exists("/proc/self/ns/time")) GTEST_SKIP() << "no time namespaces in this kernel";
  set_args("cut -d. -f1 /proc/uptime > /out/uptime; exec sleep 1000");
  spec_["linux"]["namespaces"].push_back({{"type", "time"}});
  spec_["linux"]["timeOffsets"] = {{"boottime", {{"secs", 864000}, {"nanosecs", 0}}},
                                   {"monotonic", {{"secs", 864000}, {"nanosecs", 0}}}};
  auto c = create("tm");
  ASSERT_EQ(c.status, 0) << c.err;
  pid_t pid = state("tm")["pid"].get<pid_t>();
  ASSERT_EQ(oci({"start", "tm"}).status, 0);
  ASSERT_TRUE(eventually([&] { return !out("uptime").empty(); }));
  long host = std::atol(read_text("/proc/uptime").c_str());
  long inside = std::atol(out("uptime").c_str());
  EXPECT_GE(inside, host + 864000 - 60) << inside << " vs host " << host;
  EXPECT_LE(inside, host + 864000 + 60) << inside << " vs host " << host;
  auto ex = oci({"exec", "tm", "cut", "-d.", "-f1", "/proc/uptime"});
  ASSERT_EQ(ex.status, 0) << ex.err;
  EXPECT_GE(std::atol(ex.out.c_str()), host + 864000 - 60) << ex.out;
  ASSERT_EQ(oci({"delete", "--force", "tm"}).status, 0);
  EXPECT_EQ(wait_child(pid), 128 + SIGKILL);
  // Offsets need a time namespace of the container's own.
  Json kept = Json::array();
  for (const auto& n : spec_["linux"]["namespaces"])
    if (n["type"] != "time") kept.push_back(n);
  spec_["linux"]["namespaces"] = kept;
  auto bad = create("tm2");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("linux.timeOffsets"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(root_ + "/tm2"));
}

TEST_F(OciRuntimeTest, UserNamespacedBundle) {
  set_args("cat /proc/self/uid_map > /out/map; id -u > /out/uid");
  spec_["linux"]["namespaces"].push_back({{"type", "user"}});
  spec_["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 200000}, {"size", 65536}}};
  spec_["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 200000}, {"size", 65536}}};
  // The rootfs is used as it is: the bundle's files must belong to the mapped range.
  for (const auto& e : fs::recursive_directory_iterator(bundle_ + "/rootfs"))
    ASSERT_EQ(::lchown(e.path().c_str(), 200000, 200000), 0);
  ASSERT_EQ(::chown((base_ + "/out").c_str(), 200000, 200000), 0);
  // The container's root (host uid 200000) clones the bind's source: it must reach it.
  fs::permissions(base_, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  ids_.push_back("uns");
  write_spec("uns");
  auto r = oci({"run", "--bundle", bundle_, "uns"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(out("uid"), "0");
  EXPECT_NE(out("map").find("200000"), std::string::npos) << out("map");
  // Time offsets in a time namespace the container's user namespace owns (written by the host).
  if (!fs::exists("/proc/self/ns/time")) return;
  set_args("cut -d. -f1 /proc/uptime > /out/uptime");
  spec_["linux"]["namespaces"].push_back({{"type", "time"}});
  spec_["linux"]["timeOffsets"] = {{"boottime", {{"secs", 864000}, {"nanosecs", 0}}}};
  ids_.push_back("uns-time");
  write_spec("uns-time");
  auto t = oci({"run", "--bundle", bundle_, "uns-time"});
  ASSERT_EQ(t.status, 0) << t.err;
  EXPECT_GE(std::atol(out("uptime").c_str()), std::atol(read_text("/proc/uptime").c_str()) + 864000 - 60) << out("uptime");
}

// Kubernetes' user-namespaced pods: volumes owned by host root, idmapped to the pod's range.
TEST_F(OciRuntimeTest, IdmappedBindsInAUserNamespacedBundle) {
  set_args("stat -c %u:%g /shared/f /shared/g > /out/ids; echo w >> /shared/f && echo ok > /out/write; id -u > /out/uid");
  spec_["linux"]["namespaces"].push_back({{"type", "user"}});
  Json map = {{{"containerID", 0}, {"hostID", 200000}, {"size", 65536}}};
  spec_["linux"]["uidMappings"] = map;
  spec_["linux"]["gidMappings"] = map;
  for (const auto& e : fs::recursive_directory_iterator(bundle_ + "/rootfs"))
    ASSERT_EQ(::lchown(e.path().c_str(), 200000, 200000), 0);
  // /out stays root's on the host: its bind is idmapped with explicit mappings.
  spec_["mounts"].back()["uidMappings"] = map;
  spec_["mounts"].back()["gidMappings"] = map;
  // /shared: `idmap` alone takes the container's own mappings.
  std::string shared = base_ + "/shared";
  fs::create_directories(shared);
  std::ofstream(shared + "/f") << "host\n";
  std::ofstream(shared + "/g") << "1000\n";
  ASSERT_EQ(::chown((shared + "/g").c_str(), 1000, 1000), 0);
  fs::create_directories(bundle_ + "/rootfs/shared");
  spec_["mounts"].push_back({{"destination", "/shared"}, {"type", "bind"}, {"source", shared}, {"options", {"bind", "idmap"}}});
  ids_.push_back("idm");
  write_spec("idm");
  auto r = oci({"run", "--bundle", bundle_, "idm"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(out("uid"), "0");
  EXPECT_EQ(out("ids"), "0:0\n1000:1000");
  EXPECT_EQ(out("write"), "ok");
  EXPECT_EQ(read_text(shared + "/f"), "host\nw\n");
  struct stat st = {};
  ASSERT_EQ(::stat((base_ + "/out/ids").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);  // the container's root writes as host root's owner on disk
  // Only binds are idmapped; a half mapping is refused.
  spec_["mounts"].push_back({{"destination", "/t"}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"uidMappings", map}, {"gidMappings", map}});
  auto bad = create("idm-tmpfs");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("idmapped `tmpfs` mount"), std::string::npos) << bad.err;
  spec_["mounts"].back() = {{"destination", "/t"}, {"type", "bind"}, {"source", shared}, {"uidMappings", map}};
  bad = create("idm-half");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("go together"), std::string::npos) << bad.err;
}

TEST_F(OciRuntimeTest, PreservedFdsAndNothingElseCrosses) {
  set_args("ls /proc/self/fd > /out/fds; echo via-fd3 >&3");
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  // The read end stays with the test (above the preserved range); the write end becomes fd 3,
  // not close-on-exec, for the tool to pass on.
  int rd = ::fcntl(p[0], F_DUPFD_CLOEXEC, 30);
  ASSERT_GE(rd, 30);
  ::close(p[0]);
  p[0] = rd;
  if (p[1] != 3) {
    ASSERT_EQ(::dup2(p[1], 3), 3);
    ::close(p[1]);
  }
  int opened = ::open("/etc/hostname", O_RDONLY);
  ASSERT_GE(opened, 0);
  const int leak = 20;  // inherited, not preserved: must not cross
  ASSERT_EQ(::dup2(opened, leak), leak);
  ::close(opened);
  ids_.push_back("fds");
  write_spec("fds");
  auto r = oci({"run", "--preserve-fds", "1", "--bundle", bundle_, "fds"});
  ::close(3);
  ::close(leak);
  ASSERT_EQ(r.status, 0) << r.err;
  char buf[64] = {};
  ssize_t n = ::read(p[0], buf, sizeof buf - 1);
  ::close(p[0]);
  EXPECT_EQ(std::string(buf, n > 0 ? size_t(n) : 0), "via-fd3\n");
  std::istringstream listed(out("fds"));
  std::vector<std::string> fds;
  for (std::string f; listed >> f;) fds.push_back(f);
  // 0 1 2, the preserved 3, and ls's own directory fd.
  EXPECT_LE(fds.size(), 5u) << out("fds");
  EXPECT_EQ(std::find(fds.begin(), fds.end(), std::to_string(leak)), fds.end()) << out("fds");
}

// A listening console socket, as the shims make one: the pty master the runtime sends to it.
struct ConsoleSocket {
  explicit ConsoleSocket(const std::string& path) : path(path) {
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd, 4), 0);
  }
  ~ConsoleSocket() { ::close(fd); }
  // The master sent by the last runtime that connected (-1: none).
  int take_master() {
    int conn = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) return -1;
    auto msg = recv_with_fds(conn);
    ::close(conn);
    if (!msg || msg->fds.empty()) return -1;
    return msg->fds[0].release();
  }
  std::string path;
  int fd = -1;
};

TEST_F(OciRuntimeTest, ExecRunsInTheContainerAsTheShimAsks) {
  set_args("echo $$ > /out/init; exec sleep 1000");
  spec_["process"]["env"].push_back("FROM=config");
  auto c = create("ex");
  ASSERT_EQ(c.status, 0) << c.err;
  auto refused = oci({"exec", "ex", "true"});
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.err.find("cannot exec in a created container"), std::string::npos) << refused.err;
  ASSERT_EQ(oci({"start", "ex"}).status, 0);
  // With args: the container's process with the command line's changes; options after the id
  // belong to the command.
  auto r = oci({"exec", "--env", "EXTRA=1", "--user", "1000:1000", "ex", "sh", "-c",
                "echo $FROM $EXTRA; id -u; cat /proc/self/cgroup | grep pids; exit 5"});
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_NE(r.out.find("config 1\n1000\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("pids:/\n"), std::string::npos) << r.out;  // inside the container's cgroup namespace
  // As containerd's shim calls it: a process file, --detach and a pid file; the process is
  // then the subreaper's child, like init.
  Json proc = spec_["process"];
  proc["args"] = {"sh", "-c", "echo detached > /out/detached; exec sleep 1000"};
  std::ofstream(base_ + "/proc.json") << proc.dump();
  std::string cmd = "exec '" + builddir() + "/cove-oci' --root '" + root_ + "' exec --process '" + base_ +
                    "/proc.json' --detach --pid-file '" + base_ + "/exec.pid' ex > /dev/null 2>&1";
  ASSERT_EQ(run_cmd({"sh", "-c", cmd}).status, 0);
  ASSERT_TRUE(eventually([&] { return out("detached") == "detached"; }));
  pid_t pid = std::stoi(read_text(base_ + "/exec.pid"));
  std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  EXPECT_NE(stat.find(" " + std::to_string(::getpid()) + " "), std::string::npos) << stat;
  std::string procs = read_text("/sys/fs/cgroup/pids/cove-oci-test/ex/cgroup.procs");
  EXPECT_NE(procs.find(std::to_string(pid)), std::string::npos) << procs;
  // Attack: a detached command outlives cove-oci and nothing relays for it, so a host terminal
  // as its stdin would be handed into the container as it is; it is refused, nothing runs.
  std::string on_tty = "exec '" + builddir() + "/cove-oci' --root '" + root_ +
                       "' exec --detach ex sh -c 'echo ran > /out/tty-ran' < /dev/ptmx";
  auto refused_tty = run_cmd({"sh", "-c", on_tty});
  EXPECT_NE(refused_tty.status, 0);
  EXPECT_NE(refused_tty.err.find("would be handed this terminal"), std::string::npos) << refused_tty.err;
  EXPECT_FALSE(fs::exists(base_ + "/out/tty-ran"));
  auto tty = oci({"exec", "--tty", "--detach", "ex", "true"});
  EXPECT_NE(tty.err.find("--console-socket"), std::string::npos) << tty.err;
  // --preserve-fds 1: the caller's fd 3 reaches the command, nothing above it does.
  std::string with_fd3 = "exec '" + builddir() + "/cove-oci' --root '" + root_ +
                         "' exec --preserve-fds 1 ex sh -c 'echo via-fd3 >&3; ls /proc/self/fd > /out/exec-fds' 3>'" +
                         base_ + "/fd3' 4>'" + base_ + "/fd4'";
  auto kept = run_cmd({"sh", "-c", with_fd3});
  EXPECT_EQ(kept.status, 0) << kept.err;
  EXPECT_EQ(trim_str(read_text(base_ + "/fd3")), "via-fd3");
  auto exec_fds = split(out("exec-fds"), '\n');
  EXPECT_NE(std::find(exec_fds.begin(), exec_fds.end(), "3"), exec_fds.end()) << out("exec-fds");
  EXPECT_EQ(std::find(exec_fds.begin(), exec_fds.end(), "5"), exec_fds.end()) << out("exec-fds");  // 4: ls's own dir
  // A terminal without --detach: the pty's master goes to the console socket and cove-oci
  // returns the command's status once it ends.
  {
    ConsoleSocket sock(base_ + "/exec-console.sock");
    auto fg = oci({"exec", "--tty", "--console-socket", sock.path, "ex", "sh", "-c", "tty; exit 9"});
    EXPECT_EQ(fg.status, 9) << fg.err;
    int master = sock.take_master();
    ASSERT_GE(master, 0);
    char buf[128] = {};
    ssize_t n = ::read(master, buf, sizeof buf - 1);
    EXPECT_GT(n, 0);
    EXPECT_NE(std::string(buf).find("/dev/pts/"), std::string::npos) << buf;
    ::close(master);
  }
  pid_t init = state("ex")["pid"].get<pid_t>();
  ASSERT_EQ(oci({"kill", "--all", "ex", "KILL"}).status, 0);
  EXPECT_EQ(wait_child(pid), 128 + SIGKILL);
  // Both are killed, each in its own time: init's end too is awaited before the delete, which
  // refuses a container still running (seen once in CI).
  EXPECT_EQ(wait_child(init), 128 + SIGKILL);
  auto del = oci({"delete", "ex"});
  ASSERT_EQ(del.status, 0) << del.err;
  auto gone = oci({"exec", "ex", "true"});
  EXPECT_NE(gone.err.find("does not exist"), std::string::npos) << gone.err;
}

TEST_F(OciRuntimeTest, HooksRunWhereTheSpecSaysWithTheState) {
  set_args("echo process > /out/process; exec sleep 1000");
  auto host_hook = [&](const std::string& file, const std::string& extra = "") {
    return Json{{"path", "/bin/sh"},
                {"args", {"sh", "-c", "cat > " + base_ + "/" + file + ".json" + extra}},
                {"env", {"HOOKVAR=" + file}}};
  };
  spec_["hooks"] = {
      {"createRuntime", {host_hook("createRuntime", "; echo $HOOKVAR > " + base_ + "/env")}},
      {"createContainer", {host_hook("createContainer", "; readlink /proc/self/ns/uts > " + base_ + "/cc-uts")}},
      // Inside the container, before the process: its path and /out are the container's.
      {"startContainer", {{{"path", "/bin/sh"}, {"args", {"sh", "-c", "cat > /out/startContainer.json; "
                                                                     "test -e /out/process || echo before > /out/order"}}}}},
      {"poststart", {host_hook("poststart")}},
      {"poststop", {host_hook("poststop")}}};
  auto c = create("hk");
  ASSERT_EQ(c.status, 0) << c.err;
  pid_t pid = state("hk")["pid"].get<pid_t>();
  Json cr = Json::parse(read_text(base_ + "/createRuntime.json"));
  EXPECT_EQ(cr["status"], "creating");
  EXPECT_EQ(cr["pid"], pid);
  EXPECT_EQ(cr["id"], "hk");
  EXPECT_EQ(trim_str(read_text(base_ + "/env")), "createRuntime");
  // createContainer ran in the container's namespaces (its uts is init's, not ours).
  char own[64] = {}, init_uts[64] = {};
  ASSERT_GT(::readlink("/proc/self/ns/uts", own, sizeof own - 1), 0);
  ASSERT_GT(::readlink(("/proc/" + std::to_string(pid) + "/ns/uts").c_str(), init_uts, sizeof init_uts - 1), 0);
  EXPECT_EQ(trim_str(read_text(base_ + "/cc-uts")), init_uts);
  EXPECT_NE(std::string(own), std::string(init_uts));
  EXPECT_FALSE(fs::exists(base_ + "/out/startContainer.json"));
  ASSERT_EQ(oci({"start", "hk"}).status, 0);
  ASSERT_TRUE(eventually([&] { return out("process") == "process"; }));
  EXPECT_EQ(out("order"), "before");
  EXPECT_EQ(Json::parse(read_text(base_ + "/out/startContainer.json"))["id"], "hk");
  EXPECT_EQ(Json::parse(read_text(base_ + "/poststart.json"))["status"], "running");
  EXPECT_FALSE(fs::exists(base_ + "/poststop.json"));
  ASSERT_EQ(oci({"delete", "--force", "hk"}).status, 0);
  EXPECT_EQ(wait_child(pid), 128 + SIGKILL);
  EXPECT_EQ(Json::parse(read_text(base_ + "/poststop.json"))["status"], "stopped");
}

// --no-pivot (runc's flag, for a runtime on a ramfs `/`) is refused, saying why, and leaves
// nothing: a root moved onto `/` and chrooted into can be left (doc/design/oci.md).
TEST_F(OciRuntimeTest, NoPivotIsRefusedAndLeavesNothing) {
  ids_.push_back("np");
  set_args("exec sleep 1000");
  auto r = create("np", {"--no-pivot"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("--no-pivot is not supported"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("user namespace"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(root_ + "/np"));
  EXPECT_FALSE(fs::exists("/sys/fs/cgroup/pids/cove-oci-test/np"));
}

TEST_F(OciRuntimeTest, AFailingOrHangingHookStopsTheCreateAndLeavesNothing) {
  set_args("true");
  spec_["hooks"] = {{"createRuntime", {{{"path", "/bin/sh"}, {"args", {"sh", "-c", "echo no way >&2; exit 3"}}}}}};
  auto r = create("hf");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("hooks.createRuntime[0]"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("status 3: no way"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(root_ + "/hf"));
  spec_["hooks"] = {{"prestart", {{{"path", "/bin/sleep"}, {"args", {"sleep", "100"}}, {"timeout", 1}}}}};
  auto t = create("ht");
  EXPECT_NE(t.status, 0);
  EXPECT_NE(t.err.find("timed out after 1 s"), std::string::npos) << t.err;
  EXPECT_FALSE(fs::exists(root_ + "/ht"));
}

TEST_F(OciRuntimeTest, ExtraDevicesAreTheHostsNodesAndUsable) {
  struct stat st;
  if (::stat("/dev/net/tun", &st) < 0 || !S_ISCHR(st.st_mode)) GTEST_SKIP() << "no /dev/net/tun on this host";
  set_args("stat -c '%t:%T' /dev/net/tun > /out/numbers; (exec 3<>/dev/net/tun && echo opened) > /out/open 2>&1");
  spec_["linux"]["devices"] = {{{"type", "c"}, {"path", "/dev/net/tun"}, {"major", 10}, {"minor", 200}}};
  ids_.push_back("dev");
  write_spec("dev");
  auto r = oci({"run", "--bundle", bundle_, "dev"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(out("numbers"), "a:c8");
  // The device cgroup lets it through (the spec's rules deny everything else).
  EXPECT_EQ(out("open"), "opened");
  spec_["linux"]["devices"] = {{{"type", "c"}, {"path", "/dev/net/tun"}, {"major", 10}, {"minor", 201}}};
  ids_.push_back("dev2");
  write_spec("dev2");
  auto bad = oci({"run", "--bundle", bundle_, "dev2"});
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("linux.devices[0]"), std::string::npos) << bad.err;
}

// A node the host lacks is made in the container's /dev (privileged containers: mknod), with
// the spec's numbers, mode and owner, and is usable; a user-namespaced container, which could
// not open such a node, and a path outside /dev are refused by field.
TEST_F(OciRuntimeTest, ADeviceTheHostLacksIsMadeInAPrivilegedContainer) {
  std::string name = "cove-test-null" + std::to_string(::getpid());
  ASSERT_FALSE(fs::exists("/dev/" + name));
  set_args("stat -c '%t:%T %a %u:%g' /dev/sub/" + name + " > /out/node; (echo x > /dev/sub/" + name +
           " && echo written) > /out/write 2>&1");
  spec_["linux"]["devices"] = {{{"type", "c"}, {"path", "/dev/sub/" + name}, {"major", 1}, {"minor", 3},
                                {"fileMode", 0622}, {"uid", 1234}, {"gid", 5}}};
  ids_.push_back("mk");
  write_spec("mk");
  auto r = oci({"run", "--bundle", bundle_, "mk"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(out("node"), "1:3 622 1234:5");  // the null device's numbers
  EXPECT_EQ(out("write"), "written");
  EXPECT_FALSE(fs::exists("/dev/sub/" + name));  // made in the container's /dev only
  for (const auto& [path, want] : {std::pair<std::string, std::string>{"/srv/" + name, "below /dev/"},
                                   {"/dev/../etc/" + name, "below /dev/"}}) {
    spec_["linux"]["devices"] = {{{"type", "c"}, {"path", path}, {"major", 1}, {"minor", 3}}};
    ids_.push_back("mk2");
    write_spec("mk2");
    auto bad = oci({"run", "--bundle", bundle_, "mk2"});
    EXPECT_NE(bad.status, 0);
    EXPECT_NE(bad.err.find("linux.devices[0].path"), std::string::npos) << bad.err;
    EXPECT_NE(bad.err.find(want), std::string::npos) << bad.err;
  }
  spec_["linux"]["devices"] = {{{"type", "c"}, {"path", "/dev/" + name}, {"major", 1}, {"minor", 3}}};
  spec_["linux"]["namespaces"].push_back({{"type", "user"}});
  spec_["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 200000}, {"size", 65536}}};
  spec_["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 200000}, {"size", 65536}}};
  ids_.push_back("mk3");
  write_spec("mk3");
  auto userns = oci({"run", "--bundle", bundle_, "mk3"});
  EXPECT_NE(userns.status, 0);
  EXPECT_NE(userns.err.find("cannot make device nodes"), std::string::npos) << userns.err;
}

TEST_F(OciRuntimeTest, BadBundlesAreRefusedWithTheFieldAndLeaveNothing) {
  set_args("true");
  spec_["linux"]["intelRdt"] = {{"closID", "x"}};
  auto r = create("bad1", {});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("linux.intelRdt"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(root_ + "/bad1"));
  spec_["linux"].erase("intelRdt");
  spec_["linux"]["sysctl"] = {{"kernel.hostname", "x"}};
  std::string log = base_ + "/log.json";
  write_spec("bad2");
  ids_.push_back("bad2");
  auto r2 = run_tool("cove-oci", {"--root", root_, "--log", log, "--log-format", "json", "create", "--bundle", bundle_, "bad2"});
  EXPECT_NE(r2.status, 0);
  std::string logged = read_text(log);
  EXPECT_NE(logged.find("\"level\":\"error\""), std::string::npos) << logged;
  EXPECT_NE(logged.find("kernel.hostname"), std::string::npos) << logged;
  EXPECT_FALSE(fs::exists(root_ + "/bad2"));
  EXPECT_FALSE(fs::exists("/sys/fs/cgroup/memory/cove-oci-test/bad2"));
  auto sysd = run_tool("cove-oci", {"--systemd-cgroup", "--root", root_, "list"});
  EXPECT_NE(sysd.status, 0);
  EXPECT_NE(sysd.err.find("--systemd-cgroup"), std::string::npos);
}

// A detached exec's command reaches the caller's subreaper only once cove-oci has exited, as
// runc's does: a shim reads the pid file after the runtime's exit, and an exit reaped before
// that is lost to it (containerd's `task exec` then waits forever). Here the command ends at
// once; the first exit this subreaper reaps must be cove-oci's, every time.
TEST_F(OciRuntimeTest, ADetachedExecIsReapedAfterTheRuntime) {
  set_args("exec sleep 1000");
  ASSERT_EQ(create("ord").status, 0);
  ASSERT_EQ(oci({"start", "ord"}).status, 0);
  for (int i = 0; i < 5; ++i) {
    std::string bin = builddir() + "/cove-oci";
    pid_t rt = ::fork();
    if (rt == 0) {
      int null = ::open("/dev/null", O_RDWR);
      for (int fd = 0; fd < 3; ++fd) ::dup2(null, fd);
      ::execl(bin.c_str(), bin.c_str(), "--root", root_.c_str(), "exec", "--detach", "--pid-file",
              (base_ + "/ord.pid").c_str(), "ord", "true", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    int st = 0;
    pid_t first = ::waitpid(-1, &st, 0);
    EXPECT_EQ(first, rt) << "round " << i << ": the command (pid " << first << ") was reaped before cove-oci";
    if (first == rt) {
      EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
      pid_t cmd = std::stoi(read_text(base_ + "/ord.pid"));
      EXPECT_EQ(::waitpid(cmd, &st, 0), cmd);
    } else {
      ::waitpid(rt, &st, 0);
    }
  }
  pid_t init = state("ord")["pid"].get<pid_t>();
  ASSERT_EQ(oci({"kill", "ord", "KILL"}).status, 0);
  EXPECT_EQ(wait_child(init), 128 + SIGKILL);
}

// A restore into a rootfs that lacks the setup's mountpoints (containerd restores into a fresh
// snapshot) makes them again. Attack: the rootfs is the last container's to shape, and a
// mountpoint that is now a symlink to a host path is followed inside the rootfs, never on the
// host: nothing appears at the host path.
TEST_F(OciRuntimeTest, RestoreMakesMountpointsInsideTheRootOnly) {
  COVE_REQUIRE_CRIU();
  set_args("exec sleep 1000");
  ids_.insert(ids_.end(), {"mp", "mp2", "mp3"});
  write_spec("mp");
  int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  auto run = oci_with_stdout({"run", "--detach", "--bundle", bundle_, "mp"}, null);
  ASSERT_EQ(run.status, 0) << run.err;
  pid_t pid = state("mp")["pid"].get<pid_t>();
  std::string img = base_ + "/mimg";
  auto ck = oci({"checkpoint", "--image-path", img, "mp"});
  ASSERT_EQ(ck.status, 0) << ck.err;
  EXPECT_EQ(wait_child(pid), 128 + SIGKILL);
  // /out, the bind's target, is gone: made again.
  fs::remove(bundle_ + "/rootfs/out");
  write_spec("mp2");
  auto rs = oci_with_stdout({"restore", "--detach", "--image-path", img, "--bundle", bundle_, "mp2"}, null);
  EXPECT_EQ(rs.status, 0) << rs.err;
  EXPECT_TRUE(fs::is_directory(bundle_ + "/rootfs/out"));
  if (rs.status == 0) {
    pid_t pid2 = state("mp2")["pid"].get<pid_t>();
    ASSERT_EQ(oci({"kill", "mp2", "KILL"}).status, 0);
    EXPECT_EQ(wait_child(pid2), 128 + SIGKILL);
  }
  // /out is a symlink to a host path that does not exist: whatever CRIU then makes of the
  // restore, cove-oci creates nothing there.
  std::string victim = base_ + "/victim";
  fs::remove(bundle_ + "/rootfs/out");
  fs::create_symlink(victim + "/out", bundle_ + "/rootfs/out");
  write_spec("mp3");
  auto evil = oci_with_stdout({"restore", "--detach", "--image-path", img, "--bundle", bundle_, "mp3"}, null);
  EXPECT_FALSE(fs::exists(victim)) << evil.err;
  if (evil.status == 0) {
    pid_t pid3 = state("mp3")["pid"].get<pid_t>();
    ASSERT_EQ(oci({"kill", "mp3", "KILL"}).status, 0);
    EXPECT_EQ(wait_child(pid3), 128 + SIGKILL);
  }
  ::close(null);
  fs::remove(bundle_ + "/rootfs/out");
}

// A restore that CRIU fails (a file the process held is gone from the rootfs) leaves nothing:
// no state, no cgroup, no process; the images stay as they were, for another try.
TEST_F(OciRuntimeTest, AFailedRestoreLeavesNothing) {
  COVE_REQUIRE_CRIU();
  set_args("exec 3</tmp/held; exec sleep 1000");
  std::ofstream(bundle_ + "/rootfs/tmp/held") << "x";
  ids_.insert(ids_.end(), {"fr", "fr2"});
  write_spec("fr");
  auto run = oci_with_stdout({"run", "--detach", "--bundle", bundle_, "fr"}, ::open("/dev/null", O_WRONLY | O_CLOEXEC));
  ASSERT_EQ(run.status, 0) << run.err;
  pid_t pid = state("fr")["pid"].get<pid_t>();
  ASSERT_TRUE(eventually([&] { return read_text("/proc/" + std::to_string(pid) + "/comm") == "sleep\n"; }));
  std::string img = base_ + "/fimg";
  auto ck = oci({"checkpoint", "--image-path", img, "fr"});
  ASSERT_EQ(ck.status, 0) << ck.err;
  EXPECT_EQ(wait_child(pid), 128 + SIGKILL);
  fs::remove(bundle_ + "/rootfs/tmp/held");
  std::vector<std::string> before;
  for (const auto& e : fs::directory_iterator(img)) before.push_back(e.path().filename().string());
  write_spec("fr2");
  // Its stdout and stderr were files: a restore given pipes there is refused before CRIU runs.
  auto piped = oci({"restore", "--detach", "--image-path", img, "--bundle", bundle_, "fr2"});
  EXPECT_NE(piped.status, 0);
  EXPECT_NE(piped.err.find("of the checkpointed process was a file"), std::string::npos) << piped.err;
  EXPECT_FALSE(fs::exists(root_ + "/fr2"));
  auto rs = oci_with_stdout({"restore", "--detach", "--image-path", img, "--bundle", bundle_, "fr2"},
                            ::open("/dev/null", O_WRONLY | O_CLOEXEC));
  EXPECT_NE(rs.status, 0);
  EXPECT_NE(rs.err.find("held"), std::string::npos) << rs.err;
  EXPECT_FALSE(fs::exists(root_ + "/fr2"));
  for (const auto& h : fs::directory_iterator("/sys/fs/cgroup"))
    EXPECT_FALSE(fs::exists(h.path().string() + "/cove-oci-test/fr2")) << h.path();
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1) << "a process of the failed restore is left";
  std::vector<std::string> after;
  for (const auto& e : fs::directory_iterator(img)) after.push_back(e.path().filename().string());
  std::sort(before.begin(), before.end());
  std::sort(after.begin(), after.end());
  EXPECT_EQ(after, before);
}

// A container with a terminal: its console's master reaches the engine through the console
// socket at create and, CRIU having made the pty again, at restore; the counter on the console
// goes on from where the checkpoint took it.
TEST_F(OciRuntimeTest, CheckpointAndRestoreOfAContainerWithATerminal) {
  COVE_REQUIRE_CRIU();
  spec_["process"]["terminal"] = true;
  set_args("i=0; while true; do i=$((i+1)); echo $i; sleep 0.1; done");
  ids_.insert(ids_.end(), {"tt", "tt2"});
  write_spec("tt");
  ConsoleSocket sock(base_ + "/console.sock");
  auto run = oci({"run", "--detach", "--console-socket", sock.path, "--bundle", bundle_, "tt"});
  ASSERT_EQ(run.status, 0) << run.err;
  int master = sock.take_master();
  ASSERT_GE(master, 0);
  long last = read_count_until(master, 3);
  ASSERT_GE(last, 3);
  pid_t pid = state("tt")["pid"].get<pid_t>();
  auto ck = oci({"checkpoint", "--image-path", base_ + "/timg", "tt"});
  ASSERT_EQ(ck.status, 0) << ck.err;
  EXPECT_EQ(wait_child(pid), 128 + SIGKILL);
  for (long v; (v = read_count_until(master, last + 1)) > 0;) last = v;
  ::close(master);
  write_spec("tt2");
  auto rs = oci({"restore", "--detach", "--console-socket", sock.path, "--image-path", base_ + "/timg", "--bundle",
                 bundle_, "tt2"});
  ASSERT_EQ(rs.status, 0) << rs.err;
  int master2 = sock.take_master();
  ASSERT_GE(master2, 0);
  EXPECT_EQ(read_count_until(master2, 0), last + 1);
  pid_t pid2 = state("tt2")["pid"].get<pid_t>();
  ASSERT_EQ(oci({"kill", "tt2", "KILL"}).status, 0);
  EXPECT_EQ(wait_child(pid2), 128 + SIGKILL);
  ::close(master2);
}

// A bundle naming the cgroups of a running container is refused, and that container (its
// processes, its cgroups) is left as it was.
TEST_F(OciRuntimeTest, AnotherContainersCgroupsPathIsRefusedAndLeftAlone) {
  set_args("exec sleep 1000");
  ASSERT_EQ(create("owner").status, 0);
  pid_t pid = state("owner")["pid"].get<pid_t>();
  ids_.push_back("intruder");
  Json j = spec_;
  j["linux"]["cgroupsPath"] = "/cove-oci-test/owner";
  std::ofstream(bundle_ + "/config.json", std::ios::trunc) << j.dump(2);
  auto r = run_tool("cove-oci", {"--root", root_, "run", "--detach", "--bundle", bundle_, "intruder"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("still holds pid"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(root_ + "/intruder"));
  EXPECT_EQ(state("owner")["status"], "created");
  EXPECT_NE(read_text("/sys/fs/cgroup/pids/cove-oci-test/owner/cgroup.procs").find(std::to_string(pid)), std::string::npos);
  ASSERT_EQ(oci({"delete", "--force", "owner"}).status, 0);
  EXPECT_EQ(wait_child(pid), 128 + SIGKILL);
}

// Checkpoint and restore as the shims ask for them: the counter's memory comes back, the stdio
// pipes of the restoring caller replace the checkpointed ones, the restore may take another id,
// and the restored init is the caller's subreaper's child.
// As runc, a restore runs the bundle's prestart and createRuntime hooks once the restored
// tree's namespaces exist (a CNI hook sets up the new network namespace there), with the
// restored init's pid; a failing one fails the restore, which leaves nothing.
TEST_F(OciRuntimeTest, RestoreRunsPrestartAndCreateRuntimeHooks) {
  COVE_REQUIRE_CRIU();
  set_args("exec sleep 1000");
  ids_.insert(ids_.end(), {"hr", "hr2", "hr3"});
  auto host_hook = [&](const std::string& file) {
    return Json{{"path", "/bin/sh"}, {"args", {"sh", "-c", "cat > " + base_ + "/" + file + ".json"}}};
  };
  spec_["hooks"] = {{"prestart", {host_hook("prestart")}}, {"createRuntime", {host_hook("createRuntime")}}};
  auto c = create("hr");
  ASSERT_EQ(c.status, 0) << c.err;
  pid_t pid = state("hr")["pid"].get<pid_t>();
  ASSERT_EQ(oci({"start", "hr"}).status, 0);
  std::string img = base_ + "/img";
  auto ck = oci({"checkpoint", "--image-path", img, "hr"});
  ASSERT_EQ(ck.status, 0) << ck.err;
  EXPECT_EQ(wait_child(pid), 128 + SIGKILL);
  fs::remove(base_ + "/prestart.json");
  fs::remove(base_ + "/createRuntime.json");
  write_spec("hr2");
  auto rs = oci_to_files({"restore", "--detach", "--image-path", img, "--bundle", bundle_, "hr2"});
  ASSERT_EQ(rs.status, 0) << rs.err;
  pid_t pid2 = state("hr2")["pid"].get<pid_t>();
  for (const char* hook : {"prestart", "createRuntime"}) {
    Json s = Json::parse(read_text(base_ + "/" + hook + ".json"), nullptr, false);
    EXPECT_EQ(s.value("id", ""), "hr2") << hook;
    EXPECT_EQ(s.value("pid", 0), pid2) << hook;
    EXPECT_EQ(s.value("status", ""), "creating") << hook;
  }
  ASSERT_EQ(oci({"delete", "--force", "hr2"}).status, 0);
  EXPECT_EQ(wait_child(pid2), 128 + SIGKILL);
  // A failing createRuntime hook: no container, no cgroup, no process.
  spec_["hooks"]["createRuntime"] = {{{"path", "/bin/sh"}, {"args", {"sh", "-c", "echo no network >&2; exit 4"}}}};
  write_spec("hr3");
  auto bad = oci_to_files({"restore", "--detach", "--image-path", img, "--bundle", bundle_, "hr3"});
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("hooks.createRuntime[0]"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("no network"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(root_ + "/hr3"));
  EXPECT_FALSE(fs::exists("/sys/fs/cgroup/pids/cove-oci-test/hr3"));
  reap_all();
}

// A container in a network namespace joined by path (as CNI hands one over) is checkpointed
// without that namespace, which is not its own (runc's external `net[INODE]:extRootNetNS`), and
// restored into the one its restore bundle names: its memory goes on there. A restore without
// a namespace to join, or into one for a checkpoint that had its own, is refused.
TEST_F(OciRuntimeTest, CheckpointAndRestoreInANetworkNamespaceJoinedByPath) {
  COVE_REQUIRE_CRIU();
  std::string a = "cove-oci-test-a" + std::to_string(::getpid()), b = "cove-oci-test-b" + std::to_string(::getpid());
  ScopeExit netns_gone([&] { run_cmd({"sh", "-c", "ip netns del " + a + "; ip netns del " + b}); });
  for (const auto& n : {a, b})
    ASSERT_EQ(run_cmd({"sh", "-c", "ip netns add " + n + " && ip -n " + n + " link set lo up"}).status, 0);
  set_args("i=0; while true; do i=$((i+1)); echo $i > /out/count; sleep 0.05; done");
  ids_.insert(ids_.end(), {"jn", "jn2", "jn3", "own", "own2"});
  auto joined = [&](const std::string& ns) {
    Json spec = spec_;
    for (auto& n : spec["linux"]["namespaces"])
      if (n["type"] == "network") n["path"] = "/run/netns/" + ns;
    return spec;
  };
  Json plain = spec_;
  spec_ = joined(a);
  auto c = create("jn");
  ASSERT_EQ(c.status, 0) << c.err;
  pid_t pid = state("jn")["pid"].get<pid_t>();
  auto ino = [](const std::string& path) {
    struct stat st = {};
    return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
  };
  EXPECT_EQ(ino("/proc/" + std::to_string(pid) + "/ns/net"), ino("/run/netns/" + a));
  ASSERT_EQ(oci({"start", "jn"}).status, 0);
  auto count = [&] { return std::atol(out("count").c_str()); };
  ASSERT_TRUE(eventually([&] { return count() >= 5; }));
  std::string img = base_ + "/img";
  auto ck = oci({"checkpoint", "--image-path", img, "jn"});
  ASSERT_EQ(ck.status, 0) << ck.err;
  EXPECT_EQ(wait_child(pid), 128 + SIGKILL);
  long at_dump = count();
  EXPECT_EQ(Json::parse(read_text(img + "/cove-image.json")).value("external_netns", ""), "extRootNetNS");
  // Into another namespace joined by path: b.
  spec_ = joined(b);
  write_spec("jn2");
  auto rs = oci_to_files({"restore", "--detach", "--image-path", img, "--bundle", bundle_, "jn2"});
  ASSERT_EQ(rs.status, 0) << rs.err;
  pid_t pid2 = state("jn2")["pid"].get<pid_t>();
  EXPECT_EQ(ino("/proc/" + std::to_string(pid2) + "/ns/net"), ino("/run/netns/" + b));
  EXPECT_TRUE(eventually([&] { return count() > at_dump; }));
  ASSERT_EQ(oci({"delete", "--force", "jn2"}).status, 0);
  EXPECT_EQ(wait_child(pid2), 128 + SIGKILL);
  // No namespace to join in the restore bundle: refused, nothing left.
  spec_ = plain;
  write_spec("jn3");
  auto none = oci_to_files({"restore", "--detach", "--image-path", img, "--bundle", bundle_, "jn3"});
  EXPECT_NE(none.status, 0);
  EXPECT_NE(none.err.find("outside the container"), std::string::npos) << none.err;
  EXPECT_FALSE(fs::exists(root_ + "/jn3"));
  // A checkpoint with a network namespace of its own is not restored into a joined one.
  ASSERT_EQ(create("own").status, 0);
  pid_t own = state("own")["pid"].get<pid_t>();
  ASSERT_EQ(oci({"start", "own"}).status, 0);
  std::string img2 = base_ + "/img2";
  ASSERT_EQ(oci({"checkpoint", "--image-path", img2, "own"}).status, 0);
  EXPECT_EQ(wait_child(own), 128 + SIGKILL);
  spec_ = joined(b);
  write_spec("own2");
  auto into = oci_to_files({"restore", "--detach", "--image-path", img2, "--bundle", bundle_, "own2"});
  EXPECT_NE(into.status, 0);
  EXPECT_NE(into.err.find("network namespace of its own"), std::string::npos) << into.err;
  EXPECT_FALSE(fs::exists(root_ + "/own2"));
  reap_all();
}

TEST_F(OciRuntimeTest, CheckpointAndRestoreAsTheShimAsks) {
  COVE_REQUIRE_CRIU();
  set_args("i=0; while [ $i -lt 60 ]; do i=$((i+1)); echo $i; sleep 0.1; done; exit 7");
  ids_.insert(ids_.end(), {"ck", "ck2", "ck3", "ckc", "bad"});
  write_spec("ck");
  int p1[2];
  ASSERT_EQ(::pipe2(p1, O_CLOEXEC), 0);
  auto run = oci_with_stdout({"run", "--detach", "--bundle", bundle_, "ck"}, p1[1]);
  ::close(p1[1]);
  ASSERT_EQ(run.status, 0) << run.err;
  pid_t pid = state("ck")["pid"].get<pid_t>();
  long last = read_count_until(p1[0], 3);
  ASSERT_GE(last, 3);
  // Without --leave-running the container is gone after a good dump, as with runc.
  std::string img = base_ + "/img", work = base_ + "/work";
  auto ck = oci({"checkpoint", "--image-path", img, "--work-path", work, "--tcp-established", "--file-locks", "ck"});
  ASSERT_EQ(ck.status, 0) << ck.err;
  EXPECT_EQ(wait_child(pid), 128 + SIGKILL);
  EXPECT_FALSE(fs::exists(root_ + "/ck"));
  EXPECT_FALSE(fs::exists("/sys/fs/cgroup/pids/cove-oci-test/ck"));
  EXPECT_TRUE(fs::exists(work + "/dump.log"));
  // The count so far, to the pipe's end: what the restore goes on from.
  for (long v; (v = read_count_until(p1[0], last + 1)) > 0;) last = v;
  ::close(p1[0]);
  Json desc = Json::parse(read_text(img + "/descriptors.json"));
  EXPECT_TRUE(desc[0].get<std::string>().starts_with("file[")) << desc.dump();  // our /dev/null
  EXPECT_TRUE(desc[1].get<std::string>().starts_with("pipe:[")) << desc.dump();
  // Restored under another id, on a new pipe: the count goes on from where it was.
  write_spec("ck2");
  int p2[2];
  ASSERT_EQ(::pipe2(p2, O_CLOEXEC), 0);
  auto rs = oci_with_stdout({"restore", "--detach", "--image-path", img, "--work-path", base_ + "/work2", "--bundle",
                             bundle_, "--pid-file", base_ + "/ck2.pid", "-no-subreaper", "ck2"},
                            p2[1]);
  ::close(p2[1]);
  ASSERT_EQ(rs.status, 0) << rs.err;
  EXPECT_EQ(read_count_until(p2[0], 0), last + 1);
  Json st = state("ck2");
  EXPECT_EQ(st["status"], "running");
  pid_t pid2 = st["pid"].get<pid_t>();
  EXPECT_EQ(trim_str(read_text(base_ + "/ck2.pid")), std::to_string(pid2));
  std::string stat = read_text("/proc/" + std::to_string(pid2) + "/stat");
  EXPECT_NE(stat.find(" " + std::to_string(::getpid()) + " "), std::string::npos) << stat;
  EXPECT_NE(read_text("/sys/fs/cgroup/pids/cove-oci-test/ck2/cgroup.procs").find(std::to_string(pid2)), std::string::npos);
  // --leave-running: it goes on; its image restores as a third container, in the foreground
  // (no --detach): cove-oci waits for it, returns its status and deletes it.
  std::string img2 = base_ + "/img2";
  auto live = oci({"checkpoint", "--leave-running", "--image-path", img2, "ck2"});
  ASSERT_EQ(live.status, 0) << live.err;
  EXPECT_EQ(state("ck2")["status"], "running");
  long after = read_count_until(p2[0], 0);
  EXPECT_GT(after, last + 1);
  write_spec("ck3");
  int p3[2];
  ASSERT_EQ(::pipe2(p3, O_CLOEXEC), 0);
  auto fg = oci_with_stdout({"restore", "--image-path", img2, "--bundle", bundle_, "ck3"}, p3[1]);
  ::close(p3[1]);
  EXPECT_EQ(fg.status, 7) << fg.err;
  EXPECT_EQ(read_count_until(p3[0], 60), 60);
  ::close(p3[0]);
  EXPECT_FALSE(fs::exists(root_ + "/ck3"));
  EXPECT_EQ(wait_child(pid2), 7);
  ::close(p2[0]);
  // Refused, nothing changed: an id in use, images that are not a checkpoint, a container
  // that is not running, CRIU features cove does not do.
  auto taken = oci({"restore", "--image-path", img2, "--bundle", bundle_, "ck2"});
  EXPECT_NE(taken.status, 0);
  EXPECT_NE(taken.err.find("already exists"), std::string::npos) << taken.err;
  fs::create_directories(base_ + "/empty");
  write_spec("bad");
  auto empty = oci({"restore", "--image-path", base_ + "/empty", "--bundle", bundle_, "bad"});
  EXPECT_NE(empty.status, 0);
  EXPECT_NE(empty.err.find("no checkpoint"), std::string::npos) << empty.err;
  EXPECT_FALSE(fs::exists(root_ + "/bad"));
  set_args("exec sleep 1000");
  ASSERT_EQ(create("ckc").status, 0);
  auto created = oci({"checkpoint", "--image-path", base_ + "/img3", "ckc"});
  EXPECT_NE(created.status, 0);
  EXPECT_NE(created.err.find("not running: created"), std::string::npos) << created.err;
  auto predump = oci({"checkpoint", "--pre-dump", "--image-path", base_ + "/img3", "ckc"});
  EXPECT_NE(predump.err.find("--pre-dump is not supported"), std::string::npos) << predump.err;
  // podman asks `checkpoint --help` whether the runtime can checkpoint.
  EXPECT_EQ(oci({"checkpoint", "--help"}).status, 0);
}

// --ext-unix-sk (runc's flag): a process of a host-network container keeps a datagram socket
// connected to a socket the host bound (as a syslog client keeps one to a bound /dev/log). Without the flag the dump refuses it
// and the container runs on; with it the socket is saved as external and, at the restore,
// connected to the same name again: the host socket gets the process's numbers from where
// they were. Only the process's own socket is in the images: the host's is untouched.
TEST_F(OciRuntimeTest, ExtUnixSkReconnectsADatagramSocketToTheHost) {
  COVE_REQUIRE_CRIU();
  ids_.insert(ids_.end(), {"dg", "dg2"});
  // The host's socket, at the same path inside (CRIU connects to the peer's name as bound).
  std::string dir = base_ + "/dg";
  fs::create_directories(dir);
  UniqueFd host(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  ASSERT_TRUE(host);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string name = dir + "/log";
  ASSERT_LT(name.size(), sizeof addr.sun_path);
  std::strcpy(addr.sun_path, name.c_str());
  ASSERT_EQ(::bind(host.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
  // The newest number queued or coming within `ms` (then 100 ms more); 0: none came.
  auto newest = [&](int ms) {
    long last = 0;
    int64_t deadline = now_ms() + ms;
    while (now_ms() < deadline) {
      struct pollfd p = {host.get(), POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      char buf[64];
      ssize_t n;
      while ((n = ::recv(host.get(), buf, sizeof buf - 1, 0)) > 0) {
        buf[n] = 0;
        if (last == 0) deadline = std::min(deadline, now_ms() + 100);
        last = std::atol(buf);
      }
    }
    return last;
  };
  fs::copy_file(builddir() + "/cove-dgram-tick", bundle_ + "/rootfs/bin/cove-dgram-tick");
  // CRIU finds a socket's peer among the sockets of the dumped network namespace: the peer is
  // only found, and the socket only external, when the container shares the host's (a
  // host-network container, which is where a bound /dev/log is used).
  auto& nss = spec_["linux"]["namespaces"];
  nss.erase(std::remove_if(nss.begin(), nss.end(), [](const Json& n) { return n["type"] == "network"; }), nss.end());
  spec_["mounts"].push_back({{"destination", dir}, {"type", "bind"}, {"source", dir}, {"options", {"rbind", "rw"}}});
  spec_["process"]["args"] = {"/bin/cove-dgram-tick", name, "20"};
  ASSERT_EQ(create("dg").status, 0);
  ASSERT_EQ(oci({"start", "dg"}).status, 0);
  pid_t pid = state("dg")["pid"].get<pid_t>();
  ASSERT_GT(newest(5000), 0) << "nothing came from the container";

  std::string img = base_ + "/img";
  auto refused = oci_to_files({"checkpoint", "--image-path", img, "dg"});
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(read_text(img + "/dump.log").find("External socket is used"), std::string::npos);
  EXPECT_EQ(state("dg")["status"], "running");
  long before = newest(2000);
  long dumped = newest(2000);  // a newer one: it still sends
  EXPECT_GT(dumped, before) << "the container stopped sending after the refused dump";

  fs::remove_all(img);
  auto ck = oci_to_files({"checkpoint", "--ext-unix-sk", "--image-path", img, "dg"});
  ASSERT_EQ(ck.status, 0) << ck.err;
  EXPECT_EQ(wait_child(pid), 128 + SIGKILL);
  dumped = std::max(dumped, newest(300));  // what came before the freeze

  // The restore as runc's callers ask for it (CRIU needs the flag only for some socket layouts;
  // this one, a lone connected socket, it connects by name either way).
  write_spec("dg2");
  auto rs = oci_to_files({"restore", "--detach", "--ext-unix-sk", "--image-path", img, "--work-path", base_ + "/w2",
                          "--bundle", bundle_, "dg2"});
  ASSERT_EQ(rs.status, 0) << rs.err << read_text(base_ + "/w2/restore.log");
  pid_t pid2 = state("dg2")["pid"].get<pid_t>();
  long restored = newest(5000);
  EXPECT_GT(restored, dumped) << "the restored socket is not connected to the host's";

  // Attack: the container swaps the peer's name for a symlink to a host socket it cannot see.
  // The restore connects to the name inside the container's root, never the host's.
  UniqueFd outside(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  ASSERT_TRUE(outside);
  sockaddr_un oaddr{};
  oaddr.sun_family = AF_UNIX;
  std::string oname = base_ + "/outside.sock";
  std::strcpy(oaddr.sun_path, oname.c_str());
  ASSERT_EQ(::bind(outside.get(), reinterpret_cast<sockaddr*>(&oaddr), sizeof oaddr), 0) << std::strerror(errno);
  auto swap = oci({"exec", "dg2", "/bin/sh", "-c", "rm " + name + " && ln -s " + oname + " " + name});
  ASSERT_EQ(swap.status, 0) << swap.err;
  ids_.push_back("dg3");
  std::string img2 = base_ + "/img2";
  auto ck2 = oci_to_files({"checkpoint", "--ext-unix-sk", "--image-path", img2, "dg2"});
  ASSERT_EQ(ck2.status, 0) << ck2.err;
  EXPECT_EQ(wait_child(pid2), 128 + SIGKILL);
  write_spec("dg3");
  auto rs2 = oci_to_files({"restore", "--detach", "--ext-unix-sk", "--image-path", img2, "--work-path", base_ + "/w3",
                           "--bundle", bundle_, "dg3"});
  ::usleep(300000);
  char buf[64];
  EXPECT_LT(::recv(outside.get(), buf, sizeof buf, 0), 0) << "a host socket outside the container got its data";
  // The name is not found in the container's root: the restore fails and leaves nothing.
  EXPECT_NE(rs2.status, 0);
  EXPECT_NE(rs2.err.find("Can't connect"), std::string::npos) << rs2.err;
  EXPECT_FALSE(fs::exists(root_ + "/dg3"));
  EXPECT_FALSE(fs::exists("/sys/fs/cgroup/pids/cove-oci-test/dg3"));
}

}  // namespace
}  // namespace cove::test
