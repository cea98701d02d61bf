// LXCFS views (`[mount] lxcfs`): /proc and /sys/devices/system/cpu inside that follow the
// container's cgroup limits and its own uptime. Each test runs its own LXCFS daemon on a private
// mount point (COVE_LXCFS_DIR points `lxcfs = auto` at it), with the options
// scripts/lxcfs-service uses (--enable-cfs --enable-loadavg), and ends it and unmounts it in
// TearDown, also when the test failed. They need the Debian lxcfs package (scripts/install-deps).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "support.hpp"

extern char** environ;

namespace cove::test {
namespace {

// The fstype mounted on `dir` in our mount namespace ("" when none).
std::string fstype_on(const std::string& dir) {
  std::istringstream in(read_text("/proc/self/mountinfo"));
  std::string line, found;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::vector<std::string> w;
    for (std::string x; f >> x;) w.push_back(x);
    if (w.size() < 10 || w[4] != dir) continue;
    for (size_t i = 6; i + 1 < w.size(); ++i)
      if (w[i] == "-") found = w[i + 1];
  }
  return found;
}

size_t mount_count() {
  auto text = read_text("/proc/self/mountinfo");
  return size_t(std::count(text.begin(), text.end(), '\n'));
}

// "MemTotal:  262144 kB" -> 262144, from /proc/meminfo text.
long meminfo_kb(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  return -1;
}

double uptime_s(const std::string& text) { return text.empty() ? -1 : std::stod(text); }

class LxcfsTest : public ContainerTest {
 protected:
  void SetUp() override {
    ContainerTest::SetUp();
    if (IsSkipped()) return;
    ASSERT_EQ(::access("/usr/bin/lxcfs", X_OK), 0) << "lxcfs is not installed (scripts/install-deps)";
    std::string tmpl = scratch_dir() + "/cove-lxcfs-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    work_ = tmpl;
    // Searchable like /var/lib: a restore's CRIU opens the views from inside the container's
    // user namespace, as the container's root.
    ASSERT_EQ(::chmod(work_.c_str(), 0711), 0);
    dir_ = work_ + "/mnt";
    ASSERT_EQ(::mkdir(dir_.c_str(), 0755), 0);
    start_lxcfs();
    ::setenv("COVE_LXCFS_DIR", dir_.c_str(), 1);
  }

  void TearDown() override {
    ContainerTest::TearDown();  // containers first: nothing of theirs reads LXCFS any more
    stop_lxcfs();
    ::unsetenv("COVE_LXCFS_DIR");
    if (!work_.empty()) {
      // Never a recursive removal while LXCFS could still be mounted below (its cgroup tree
      // takes rmdir): the mount point is removed as an empty directory only.
      EXPECT_EQ(fstype_on(dir_), "");
      ::rmdir(dir_.c_str());
      ::unlink((work_ + "/lxcfs.pid").c_str());
      ::unlink((work_ + "/lxcfs.log").c_str());
      ::rmdir(work_.c_str());
    }
  }

  // Our own LXCFS, in the foreground as our child (so that only it is ever signalled).
  void start_lxcfs() {
    std::string pidfile = work_ + "/lxcfs.pid", log = work_ + "/lxcfs.log";
    std::vector<std::string> args = {"lxcfs", "-f", "--enable-cfs", "--enable-loadavg", "-p", pidfile, dir_};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int rc = posix_spawn(&lxcfs_pid_, "/usr/bin/lxcfs", &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ASSERT_EQ(rc, 0) << "spawn lxcfs";
    ASSERT_TRUE(eventually([&] { return fstype_on(dir_) == "fuse.lxcfs" && !read_text(dir_ + "/proc/uptime").empty(); }))
        << "LXCFS did not come up on " << dir_ << ": " << read_text(log);
  }

  // Ends our LXCFS (it unmounts on SIGTERM) and makes sure nothing stays mounted.
  void stop_lxcfs() {
    if (lxcfs_pid_ > 0) {
      ::kill(lxcfs_pid_, SIGTERM);
      int status;
      // LXCFS takes about 4 s to end with --enable-loadavg (its loadavg thread).
      bool ended = eventually([&] { return ::waitpid(lxcfs_pid_, &status, WNOHANG) == lxcfs_pid_; }, 15000);
      if (!ended) {
        ::kill(lxcfs_pid_, SIGKILL);
        ::waitpid(lxcfs_pid_, &status, 0);
      }
      lxcfs_pid_ = -1;
    }
    if (!dir_.empty())
      while (fstype_on(dir_) == "fuse.lxcfs")
        if (::umount2(dir_.c_str(), MNT_DETACH) < 0) break;
  }

  std::string start(const std::string& name) {
    auto r = cove("cove-start", name);
    EXPECT_EQ(r.status, 0) << r.err;
    return r.err;
  }
  std::string state(const std::string& name) { return trim_str(cove("cove-info", name, {"-s"}).out); }
  std::string monitor_log(const std::string& name) { return read_text(path_ + "/" + name + "/" + name + ".log"); }
  // The container's mount table as it sees it.
  std::string mounts_inside(const std::string& name) { return attach_out(name, {"cat", "/proc/self/mountinfo"}); }
  void copy_probe(const std::string& name) {
    std::string probe = path_ + "/" + name + "/rootfs/cove-probe";
    std::filesystem::copy_file(builddir() + "/cove-probe", probe);
    ::chmod(probe.c_str(), 0755);
  }

  std::string work_, dir_;
  pid_t lxcfs_pid_ = -1;
};

// /proc/meminfo follows memory.max; busybox top's header is computed from it. Busybox `free`
// asks sysinfo(2), which no filesystem can change: it shows the host's memory (Debian's procps
// free reads /proc/meminfo and would show the limit).
TEST_F(LxcfsTest, MeminfoFollowsTheMemoryLimit) {
  create_busybox("lx-mem", "[cgroup]\nmemory.max = 256M\n");
  start("lx-mem");
  auto meminfo = attach_out("lx-mem", {"cat", "/proc/meminfo"});
  EXPECT_EQ(meminfo_kb(meminfo, "MemTotal"), 262144) << meminfo;
  EXPECT_LE(meminfo_kb(meminfo, "MemFree"), 262144) << meminfo;
  long host_total = meminfo_kb(read_text("/proc/meminfo"), "MemTotal");
  ASSERT_GT(host_total, 262144);
  // busybox top: "Mem: USEDK used, FREEK free, ..." from /proc/meminfo.
  auto top = attach_out("lx-mem", {"top", "-bn1"});
  long used = 0, free_kb = 0;
  ASSERT_EQ(std::sscanf(top.c_str(), "Mem: %ldK used, %ldK free", &used, &free_kb), 2) << top;
  EXPECT_EQ(used + free_kb, 262144) << top;
  // busybox free: sysinfo(2), the host's total (in KiB), not the limit.
  auto fr = attach_out("lx-mem", {"free"});
  EXPECT_NE(fr.find(std::to_string(host_total)), std::string::npos) << fr;
  // Every view is a read-only bind of the private LXCFS.
  auto mi = mounts_inside("lx-mem");
  for (const char* f : {"/proc/meminfo", "/proc/cpuinfo", "/proc/stat", "/proc/uptime", "/proc/loadavg",
                        "/proc/swaps", "/proc/diskstats", "/sys/devices/system/cpu"})
    EXPECT_NE(mi.find(std::string(" ") + f + " ro,nosuid,nodev,noexec"), std::string::npos) << f << "\n" << mi;
  EXPECT_EQ(monitor_log("lx-mem").find("lxcfs is not running"), std::string::npos);
}

// /proc/uptime starts near 0 for a fresh container while the host's is its own. (busybox
// `uptime` asks sysinfo(2): the host's uptime, which LXCFS cannot change.)
TEST_F(LxcfsTest, UptimeIsTheContainers) {
  create_busybox("lx-up");
  start("lx-up");
  double inside = uptime_s(attach_out("lx-up", {"cut", "-d", " ", "-f1", "/proc/uptime"}));
  double host = uptime_s(read_text("/proc/uptime"));
  EXPECT_GE(inside, 0);
  EXPECT_LT(inside, 30) << "host " << host;
  if (host > 60) {
    EXPECT_LT(inside, host - 30);
  }
  // /proc/loadavg is the container's own (--enable-loadavg): a well-formed line.
  auto load = attach_out("lx-up", {"cat", "/proc/loadavg"});
  EXPECT_EQ(std::count(load.begin(), load.end(), ' '), 4) << load;
}

// A cpu.max quota of one CPU (LXCFS --enable-cfs): /proc/cpuinfo, /sys/devices/system/cpu/online
// and glibc's get_nprocs()/sysconf(_SC_NPROCESSORS_ONLN) (what getconf and Python's
// os.cpu_count() use) show one CPU. `nproc` (busybox's and coreutils') counts the CPU affinity
// mask instead, which a quota does not change: it says 2 here (see CpusetLimitsNprocToo).
TEST_F(LxcfsTest, CpuQuotaShowsInCpuinfoOnlineAndGetNprocs) {
  if (::sysconf(_SC_NPROCESSORS_ONLN) < 2) GTEST_SKIP() << "needs 2 CPUs";
  create_busybox("lx-cpu", "[cgroup]\ncpu.max = 100000 100000\n");
  copy_probe("lx-cpu");
  start("lx-cpu");
  EXPECT_EQ(attach_out("lx-cpu", {"cat", "/sys/devices/system/cpu/online"}), "0");
  EXPECT_EQ(attach_out("lx-cpu", {"grep", "-c", "^processor", "/proc/cpuinfo"}), "1");
  EXPECT_EQ(attach_out("lx-cpu", {"/cove-probe", "nprocs"}), "1 1");
  EXPECT_EQ(attach_out("lx-cpu", {"nproc"}), std::to_string(::sysconf(_SC_NPROCESSORS_ONLN)));
}

// A cpuset: every view and nproc (the affinity mask, the kernel's own truth) agree on one CPU.
TEST_F(LxcfsTest, CpusetLimitsNprocToo) {
  if (::sysconf(_SC_NPROCESSORS_ONLN) < 2) GTEST_SKIP() << "needs 2 CPUs";
  create_busybox("lx-set", "[cgroup]\ncpuset.cpus = 1\n");
  copy_probe("lx-set");
  start("lx-set");
  EXPECT_EQ(attach_out("lx-set", {"grep", "-c", "^processor", "/proc/cpuinfo"}), "1");
  EXPECT_EQ(attach_out("lx-set", {"nproc"}), "1");
  EXPECT_EQ(attach_out("lx-set", {"/cove-probe", "nprocs"}), "1 1");
  auto stat = attach_out("lx-set", {"grep", "-c", "^cpu[0-9]", "/proc/stat"});
  EXPECT_EQ(stat, "1");
}

// The Debian machine container's own tools (procps, coreutils, glibc) with LXCFS: `free -m`
// shows memory.max, `uptime` the container's boot, `getconf` the cpu.max quota and `nproc` the
// cpuset (it counts the affinity mask; a quota alone leaves it at the host's count, see above).
TEST_F(LxcfsTest, DebianToolsShowTheContainersLimits) {
  if (::sysconf(_SC_NPROCESSORS_ONLN) < 2) GTEST_SKIP() << "needs 2 CPUs";
  ASSERT_NO_FATAL_FAILURE(create_debian_container("lx-deb"));
  std::ofstream(path_ + "/lx-deb/config", std::ios::app)
      << "\n[cgroup]\nmemory.max = 256M\ncpu.max = 100000 100000\ncpuset.cpus = 1\n";
  start("lx-deb");
  std::string free_m;
  ASSERT_TRUE(eventually(
      [&] {
        free_m = trim_str(cove("cove-attach", "lx-deb", {"--", "free", "-m"}).out);
        return !free_m.empty();
      },
      30000, 100));
  std::istringstream lines(free_m);
  std::string line, label, total;
  while (std::getline(lines, line))
    if (line.rfind("Mem:", 0) == 0) std::istringstream(line) >> label >> total;
  EXPECT_EQ(total, "256") << free_m;
  EXPECT_NE(attach_out("lx-deb", {"uptime"}).find("up 0 min"), std::string::npos);
  EXPECT_LT(uptime_s(attach_out("lx-deb", {"cut", "-d", " ", "-f1", "/proc/uptime"})), 60);
  EXPECT_EQ(attach_out("lx-deb", {"getconf", "_NPROCESSORS_ONLN"}), "1");
  EXPECT_EQ(attach_out("lx-deb", {"nproc"}), "1");
  EXPECT_EQ(attach_out("lx-deb", {"grep", "-c", "^processor", "/proc/cpuinfo"}), "1");
  ASSERT_EQ(cove("cove-stop", "lx-deb").status, 0);
}

// Root of an unprivileged container cannot take a view away: the binds are locked with /proc.
TEST_F(LxcfsTest, ContainerCannotUnmountTheViews) {
  create_busybox("lx-lock", "[cgroup]\nmemory.max = 256M\n");
  copy_probe("lx-lock");
  start("lx-lock");
  for (const char* f : {"/proc/meminfo", "/proc/uptime", "/sys/devices/system/cpu"}) {
    auto r = cove("cove-attach", "lx-lock", {"--", "umount", f});
    EXPECT_NE(r.status, 0) << f << ": " << r.out << r.err;
    r = cove("cove-attach", "lx-lock", {"--", "umount", "-l", f});
    EXPECT_NE(r.status, 0) << f << ": " << r.out << r.err;
    // In a mount namespace of its own, too (EINVAL: a locked mount).
    EXPECT_EQ(attach_out("lx-lock", {"/cove-probe", "unmask", f}), "errno 22 at umount") << f;
  }
  // A fresh procfs (the host's values) is refused: /proc is not fully visible.
  EXPECT_EQ(attach_out("lx-lock", {"/cove-probe", "mount-proc"}), "errno 1");
  EXPECT_EQ(meminfo_kb(attach_out("lx-lock", {"cat", "/proc/meminfo"}), "MemTotal"), 262144);
}

// No LXCFS at the default directory: the container starts with the host's values and the
// monitor log says why, once.
TEST_F(LxcfsTest, StartsWithAWarningWithoutLxcfs) {
  std::string empty = work_ + "/none";
  ASSERT_EQ(::mkdir(empty.c_str(), 0755), 0);
  ::setenv("COVE_LXCFS_DIR", empty.c_str(), 1);
  create_busybox("lx-none", "[cgroup]\nmemory.max = 256M\n");
  auto err = start("lx-none");
  ::rmdir(empty.c_str());
  EXPECT_EQ(state("lx-none"), "RUNNING");
  // On the caller's terminal, once.
  EXPECT_NE(err.find("lxcfs is not running at " + empty), std::string::npos) << err;
  EXPECT_EQ(err.find("lxcfs is not running", err.find("lxcfs is not running") + 1), std::string::npos) << err;
  auto log = monitor_log("lx-none");
  auto first = log.find("lxcfs is not running at " + empty);
  EXPECT_NE(first, std::string::npos) << log;
  EXPECT_EQ(log.find("lxcfs is not running", first + 1), std::string::npos) << log;
  EXPECT_NE(log.find("lxcfs " + empty), std::string::npos) << log;  // how to start it
  long host_total = meminfo_kb(read_text("/proc/meminfo"), "MemTotal");
  EXPECT_EQ(meminfo_kb(attach_out("lx-none", {"cat", "/proc/meminfo"}), "MemTotal"), host_total);
  EXPECT_EQ(mounts_inside("lx-none").find("fuse.lxcfs"), std::string::npos);
}

// An LXCFS that was killed leaves its mount behind, dead (every lookup: ENOTCONN): auto treats it
// as no LXCFS, and says so; a configured path refuses it.
TEST_F(LxcfsTest, DeadLxcfsMountCountsAsNone) {
  ::kill(lxcfs_pid_, SIGKILL);
  int status;
  ASSERT_EQ(::waitpid(lxcfs_pid_, &status, 0), lxcfs_pid_);
  lxcfs_pid_ = -1;
  ASSERT_EQ(fstype_on(dir_), "fuse.lxcfs");  // still mounted (TearDown unmounts it)
  create_busybox("lx-dead");
  auto err = start("lx-dead");
  EXPECT_NE(err.find("the LXCFS mounted there does not answer"), std::string::npos) << err;
  EXPECT_EQ(state("lx-dead"), "RUNNING");
  EXPECT_EQ(mounts_inside("lx-dead").find("fuse.lxcfs"), std::string::npos);
  create_busybox("lx-dead-path", "[mount]\nlxcfs = " + dir_ + "\n");
  auto r = cove("cove-start", "lx-dead-path");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("does not answer"), std::string::npos) << r.err;
}

// A privileged container gets the views too (not locked: its root is the host's root, which
// can unmount anything; see doc/design/security.md).
TEST_F(LxcfsTest, PrivilegedContainerGetsTheViews) {
  create_busybox("lx-priv", "[container]\nprivileged = true\n[cgroup]\nmemory.max = 256M\n");
  start("lx-priv");
  EXPECT_EQ(meminfo_kb(attach_out("lx-priv", {"cat", "/proc/meminfo"}), "MemTotal"), 262144);
  EXPECT_NE(mounts_inside("lx-priv").find(" /sys/devices/system/cpu ro,nosuid,nodev,noexec"), std::string::npos);
}

// `lxcfs = off` binds nothing, and says nothing, even with LXCFS running.
TEST_F(LxcfsTest, OffBindsNothing) {
  create_busybox("lx-off", "[mount]\nlxcfs = off\n");
  EXPECT_EQ(start("lx-off").find("lxcfs"), std::string::npos);
  EXPECT_EQ(mounts_inside("lx-off").find("fuse.lxcfs"), std::string::npos);
  EXPECT_EQ(monitor_log("lx-off").find("lxcfs"), std::string::npos);
}

// A configured path must be LXCFS: the start fails naming the key and what it allows, and
// leaves nothing behind (no mount, no cgroup, still stopped). The configured path of a running
// LXCFS works.
TEST_F(LxcfsTest, ConfiguredPathMustBeLxcfs) {
  create_busybox("lx-bad", "[mount]\nlxcfs = /not/lxcfs\n");
  size_t mounts = mount_count();
  auto r = cove("cove-start", "lx-bad");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("[mount] lxcfs = /not/lxcfs"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("is not a working LXCFS (fuse.lxcfs) mount"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("allowed: auto, off"), std::string::npos) << r.err;
  EXPECT_EQ(state("lx-bad"), "STOPPED");
  EXPECT_TRUE(leftover_cgroups("lx-bad").empty());
  EXPECT_EQ(mount_count(), mounts);
  // A directory that exists but is not LXCFS (the container's own).
  {
    std::ofstream cfg(path_ + "/lx-bad/config", std::ios::app);
    cfg << "\n[mount]\nlxcfs = " << path_ << "\n";  // the later value wins
  }
  r = cove("cove-start", "lx-bad");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("[mount] lxcfs = " + path_ + ": `" + path_ + "` is not a working LXCFS (fuse.lxcfs) mount"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(state("lx-bad"), "STOPPED");
  ::unsetenv("COVE_LXCFS_DIR");  // the path is used, not the default directory
  create_busybox("lx-path", "[mount]\nlxcfs = " + dir_ + "\n[cgroup]\nmemory.max = 256M\n");
  start("lx-path");
  EXPECT_EQ(meminfo_kb(attach_out("lx-path", {"cat", "/proc/meminfo"}), "MemTotal"), 262144);
}

// LXCFS ends while a container runs: the container and its monitor go on, reads of a view fail
// (ENOTCONN) instead of hanging, and the container stops normally.
TEST_F(LxcfsTest, LxcfsEndingUnderARunningContainer) {
  create_busybox("lx-gone");
  start("lx-gone");
  pid_t monitor = monitor_pid("lx-gone");
  stop_lxcfs();
  int64_t t0 = now_ms();
  auto r = cove("cove-attach", "lx-gone", {"--", "cat", "/proc/meminfo"}, 20);
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.err.find("not connected"), std::string::npos) << r.err;
  EXPECT_LT(now_ms() - t0, 10000);
  EXPECT_EQ(state("lx-gone"), "RUNNING");
  EXPECT_EQ(monitor_pid("lx-gone"), monitor);
  EXPECT_EQ(attach_out("lx-gone", {"cat", "/proc/version"}).empty(), false);
  auto st = cove("cove-stop", "lx-gone");
  EXPECT_EQ(st.status, 0) << st.err;
  EXPECT_EQ(state("lx-gone"), "STOPPED");
}

class LxcfsCheckpointTest : public LxcfsTest {
 protected:
  void SetUp() override {
    LxcfsTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    COVE_REQUIRE_CRIU();
  }
  std::string images(const std::string& tag) { return path_ + "/images-" + tag; }
};

// The views are external mounts for CRIU: --check does not block on them, and a dump and
// restore bring them back from LXCFS, still following the container's limit.
TEST_F(LxcfsCheckpointTest, CheckpointAndRestoreKeepTheViews) {
  create_busybox("lx-cr", "[cgroup]\nmemory.max = 256M\n");
  start("lx-cr");
  ASSERT_EQ(attach_out("lx-cr", {"true"}), "");
  auto check = cove("cove-checkpoint", "lx-cr", {"--check"});
  EXPECT_EQ(check.status, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("LXCFS views (/proc/"), std::string::npos) << check.out;
  EXPECT_EQ(check.out.find("fuse"), std::string::npos) << check.out;
  auto cp = cove("cove-checkpoint", "lx-cr", {"-D", images("1"), "--stop"}, 120);
  ASSERT_EQ(cp.status, 0) << cp.err;
  EXPECT_EQ(state("lx-cr"), "STOPPED");
  auto rs = cove("cove-restore", "lx-cr", {"-D", images("1")}, 120);
  ASSERT_EQ(rs.status, 0) << rs.err;
  ASSERT_EQ(state("lx-cr"), "RUNNING");
  EXPECT_EQ(meminfo_kb(attach_out("lx-cr", {"cat", "/proc/meminfo"}), "MemTotal"), 262144);
  auto mi = mounts_inside("lx-cr");
  EXPECT_NE(mi.find(" /proc/meminfo "), std::string::npos) << mi;
  EXPECT_NE(mi.find("fuse.lxcfs"), std::string::npos) << mi;
  EXPECT_LT(uptime_s(attach_out("lx-cr", {"cut", "-d", " ", "-f1", "/proc/uptime"})), 60);
}

// LXCFS gone at the restore: under `lxcfs = auto` the container comes back with the host's
// files in place of the views (and the warning); a configured path refuses the restore, which
// leaves the images for a later attempt.
TEST_F(LxcfsCheckpointTest, RestoreWithoutLxcfs) {
  create_busybox("lx-auto", "[cgroup]\nmemory.max = 256M\n");
  create_busybox("lx-must", "[mount]\nlxcfs = " + dir_ + "\n[cgroup]\nmemory.max = 256M\n");
  for (const char* n : {"lx-auto", "lx-must"}) {
    start(n);
    ASSERT_EQ(attach_out(n, {"true"}), "");
    auto cp = cove("cove-checkpoint", n, {"-D", images(n), "--stop"}, 120);
    ASSERT_EQ(cp.status, 0) << cp.err;
  }
  stop_lxcfs();
  auto must = cove("cove-restore", "lx-must", {"-D", images("lx-must")}, 120);
  EXPECT_NE(must.status, 0);
  EXPECT_NE(must.err.find("[mount] lxcfs = " + dir_), std::string::npos) << must.err;
  EXPECT_EQ(state("lx-must"), "STOPPED");
  EXPECT_TRUE(std::filesystem::exists(images("lx-must") + "/inventory.img"));

  auto rs = cove("cove-restore", "lx-auto", {"-D", images("lx-auto")}, 120);
  ASSERT_EQ(rs.status, 0) << rs.err;
  ASSERT_EQ(state("lx-auto"), "RUNNING");
  long host_total = meminfo_kb(read_text("/proc/meminfo"), "MemTotal");
  EXPECT_EQ(meminfo_kb(attach_out("lx-auto", {"cat", "/proc/meminfo"}), "MemTotal"), host_total);
  EXPECT_NE(monitor_log("lx-auto").find("lxcfs is not running"), std::string::npos);
}

}  // namespace
}  // namespace cove::test
