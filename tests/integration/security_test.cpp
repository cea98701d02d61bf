// The escape battery: a static probe (tests/probe/cove-probe.cpp) runs as root inside a default
// (user-namespaced) container and inside a privileged one, and tries to reach the host; each try
// is a named test with the exact result expected (`errno N`, `errno N at STEP`, or a fact such
// as `masked`). The privileged flavour expects success exactly where no mechanism exists
// without an LSM (doc/design/security.md, cove.conf(5) "PRIVILEGED CONTAINERS"). Plus the
// [security] keys end to end: capabilities, no_new_privs, seccomp errno (LXC text and Docker's
// OCI JSON), rlimits, sysctls, a missing LSM, and reboot(2) ending only the container.
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ns/locked_mounts.hpp"
#include "process/child_process.hpp"
#include "support.hpp"

namespace cove::test {
namespace {

std::string status_field(pid_t pid, const std::string& key) {
  std::istringstream in(read_text("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) return trim_str(line.substr(key.size() + 1));
  return "";
}

std::string host_hostname() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

// A host file the container must never reach; the tests create it in their private path.
const char kMarkerName[] = "host-marker-cove-escape";

// The host's root disk, for the mknod attempt.
std::pair<unsigned, unsigned> root_disk() {
  struct stat st;
  if (::stat("/", &st) < 0) return {8, 0};
  return {major(st.st_dev), minor(st.st_dev)};
}

// --- one container per flavour, shared by the battery's tests --------------------------------

class BatteryContainer {
 public:
  void start(bool privileged) {
    std::string tmpl = scratch_dir() + "/cove-esc.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    path_ = tmpl;
    ::chmod(path_.c_str(), 0711);
    marker_ = path_ + "/" + kMarkerName;
    std::ofstream(marker_) << "host secret\n";
    std::string conf = path_ + "/extra.conf";
    std::ofstream(conf) << (privileged ? "[container]\nprivileged = true\n" : "");
    auto r = run_tool("cove-create", {"-P", path_, "-n", name_, "-t", "busybox", "-f", conf}, 120);
    ASSERT_EQ(r.status, 0) << r.err;
    std::string probe = path_ + "/" + name_ + "/rootfs/cove-probe";
    std::filesystem::copy_file(builddir() + "/cove-probe", probe, std::filesystem::copy_options::overwrite_existing);
    ::chmod(probe.c_str(), 0755);
    r = run_tool("cove-start", {"-P", path_, "-n", name_});
    ASSERT_EQ(r.status, 0) << r.err;
  }
  void stop() {
    if (path_.empty()) return;
    run_tool("cove-stop", {"-P", path_, "-n", name_, "-k"}, 30);
    run_tool("cove-destroy", {"-P", path_, "-n", name_, "-f"}, 30);
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    path_.clear();
  }
  RunResult probe(const std::vector<std::string>& args) {
    std::vector<std::string> a = {"-P", path_, "-n", name_, "--", "/cove-probe"};
    a.insert(a.end(), args.begin(), args.end());
    return run_tool("cove-attach", a, 60);
  }
  const std::string& marker() const { return marker_; }
  const std::string& path() const { return path_; }
  const std::string& name() const { return name_; }

 private:
  std::string path_, marker_, name_ = "battery";
};

struct Attempt {
  const char* name;                 // test name
  std::vector<std::string> args;    // probe arguments; "@MARKER" is replaced by the host marker path
  const char* in_userns;            // expected probe output, default container
  const char* privileged;           // expected probe output, privileged container
};

// For knobs some kernels lack (no CONFIG_MAGIC_SYSRQ, no CONFIG_MODULES): ENOENT there.
std::string knob_expect(const char* path, bool privileged) {
  if (access(path, F_OK) != 0) return "errno 2";
  return privileged ? "errno 30" : "errno 13";
}

// The battery. Expected results, and why, are tabulated in doc/design/security.md.
const Attempt kAttempts[] = {
    // Fresh proc/sysfs mounts and writes through them.
    // In a user namespace the masks and read-only binds are locked mounts (ns/locked_mounts.hpp):
    // no proc or sysfs is "fully visible", so the kernel refuses a fresh instance (EPERM), and
    // locked mounts can neither be unmounted (EINVAL) nor made writable (EPERM).
    {"MountFreshProcRw", {"mount-proc"}, "errno 1", "ok"},
    {"MountFreshSysfsRw", {"mount-sysfs"}, "errno 1", "ok"},
    {"MountDevtmpfs", {"mount-devtmpfs"}, "errno 1", "ok"},
    {"WriteCorePatternThroughFreshProc", {"fresh-proc-write"}, "errno 1 at mount", "ok"},
    {"WriteThroughFreshSysfs", {"fresh-sysfs-write"}, "errno 1 at mount", "errno 30 at open"},
    {"RemountProcSysRwAndWriteCorePattern", {"proc-sys-rw-write"}, "errno 1 at remount", "ok"},
    {"RemountSysRw", {"remount-sys-rw"}, "errno 1", "ok"},
    // Masked and read-only paths.
    {"ReadMaskedTimerList", {"read-masked", "/proc/timer_list"}, "masked", "masked"},
    {"ReadMaskedSysFirmware", {"read-masked", "/sys/firmware"}, "masked", "masked"},
    {"UnmountMaskedPathAndRead", {"unmask", "/proc/timer_list"}, "errno 22 at umount", "ok"},
    {"UnmountMaskedSysFirmware", {"unmask", "/sys/firmware"}, "errno 22 at umount", "ok"},
    {"UnmountReadOnlyProcSys", {"unmask", "/proc/sys"}, "errno 22 at umount", "ok"},
    {"WriteHostSysctlCorePattern", {"write", "/proc/sys/kernel/core_pattern"}, "errno 13", "errno 30"},
    {"WriteSysKnob", {"write", "/sys/kernel/mm/transparent_hugepage/enabled"}, "errno 30", "errno 30"},
    // Kernel code: modules, kexec, BPF.
    {"LoadKernelModule", {"init-module"}, "errno 1", "errno 1"},
    {"LoadKernelModuleFromFd", {"finit-module"}, "errno 1", "errno 1"},
    {"RemoveKernelModule", {"delete-module"}, "errno 1", "errno 1"},
    {"KexecLoad", {"kexec-load"}, "errno 1", "errno 1"},
    {"KexecFileLoad", {"kexec-file-load"}, "errno 1", "errno 1"},
    {"LoadBpfProgram", {"bpf"}, "errno 1", "errno 1"},
    // Host devices and files.
    {"OpenRawHostDisk", {"raw-disk"}, "errno 2", "errno 2"},
    {"MknodBlockDevice", {"mknod-block", "@DISK_MAJOR", "@DISK_MINOR"}, "errno 1 at mknod", "errno 1 at mknod"},
    {"OpenByHandleAt", {"open-by-handle"}, "errno 1", "errno 1"},
    {"HostFileViaProcPidRoot", {"proc-root", "@MARKER"}, "errno 2", "errno 2"},
    {"HostFileViaChrootEscape", {"chroot-escape", "@MARKER"}, "errno 2 at access", "errno 2 at access"},
    // Host-wide state: clock, swap, keyrings, kernel log, counters, raw I/O.
    {"SetHostClock", {"set-clock"}, "errno 1", "errno 1"},
    {"Swapoff", {"swapoff"}, "errno 1", "errno 1"},
    {"KeyctlHostKeyring", {"keyctl"}, "errno 38", "errno 38"},
    {"ReadKernelLog", {"dmesg"}, "errno 1", "errno 1"},
    {"PerfEventSystemWide", {"perf"}, "errno 1", "errno 1"},
    {"RawPortIo", {"iopl"}, "errno 1", "errno 1"},
    {"Userfaultfd", {"userfaultfd"}, "errno 1", "errno 1"},
    {"IoUring", {"io-uring"}, "errno 38", "errno 38"},
};

class Battery : public ::testing::TestWithParam<Attempt> {
 protected:
  virtual BatteryContainer& container() = 0;
  virtual bool privileged() const = 0;

  void run_attempt(const Attempt& a) {
    std::vector<std::string> args;
    auto disk = root_disk();
    for (auto s : a.args) {
      if (s == "@MARKER") s = container().marker();
      else if (s == "@DISK_MAJOR") s = std::to_string(disk.first);
      else if (s == "@DISK_MINOR") s = std::to_string(disk.second);
      args.push_back(s);
    }
    auto r = container().probe(args);
    ASSERT_EQ(r.status, 0) << "probe " << a.args[0] << " failed to run: " << r.err << r.out;
    std::string want = privileged() ? a.privileged : a.in_userns;
    EXPECT_EQ(trim_str(r.out), want) << a.name << (privileged() ? " (privileged)" : " (user namespace)");
  }
};

BatteryContainer g_userns, g_privileged;

class EscapeUserns : public Battery {
 public:
  static void SetUpTestSuite() {
    if (::geteuid() == 0) g_userns.start(false);
  }
  static void TearDownTestSuite() { g_userns.stop(); }

 protected:
  void SetUp() override { COVE_REQUIRE_ROOT(); }
  BatteryContainer& container() override { return g_userns; }
  bool privileged() const override { return false; }
};

class EscapePrivileged : public Battery {
 public:
  static void SetUpTestSuite() {
    if (::geteuid() == 0) g_privileged.start(true);
  }
  static void TearDownTestSuite() { g_privileged.stop(); }

 protected:
  void SetUp() override { COVE_REQUIRE_ROOT(); }
  BatteryContainer& container() override { return g_privileged; }
  bool privileged() const override { return true; }
};

TEST_P(EscapeUserns, Attempt) { run_attempt(GetParam()); }
TEST_P(EscapePrivileged, Attempt) { run_attempt(GetParam()); }

std::string attempt_name(const ::testing::TestParamInfo<Attempt>& info) { return info.param.name; }
INSTANTIATE_TEST_SUITE_P(Battery, EscapeUserns, ::testing::ValuesIn(kAttempts), attempt_name);
INSTANTIATE_TEST_SUITE_P(Battery, EscapePrivileged, ::testing::ValuesIn(kAttempts), attempt_name);

// Attempts whose result depends on the host kernel, or that need a host-side check.
TEST_F(EscapeUserns, WriteSysrqTrigger) {
  auto r = g_userns.probe({"write", "/proc/sysrq-trigger"});
  EXPECT_EQ(trim_str(r.out), knob_expect("/proc/sysrq-trigger", false)) << r.err;
}
TEST_F(EscapePrivileged, WriteSysrqTrigger) {
  auto r = g_privileged.probe({"write", "/proc/sysrq-trigger"});
  EXPECT_EQ(trim_str(r.out), knob_expect("/proc/sysrq-trigger", true)) << r.err;
}
TEST_F(EscapeUserns, WriteHostSysctlModprobe) {
  auto r = g_userns.probe({"write", "/proc/sys/kernel/modprobe"});
  EXPECT_EQ(trim_str(r.out), knob_expect("/proc/sys/kernel/modprobe", false)) << r.err;
}
TEST_F(EscapePrivileged, WriteHostSysctlModprobe) {
  auto r = g_privileged.probe({"write", "/proc/sys/kernel/modprobe"});
  EXPECT_EQ(trim_str(r.out), knob_expect("/proc/sys/kernel/modprobe", true)) << r.err;
}
TEST_F(EscapeUserns, SetHostnameChangesOnlyTheContainer) {
  std::string before = host_hostname();
  EXPECT_EQ(trim_str(g_userns.probe({"sethostname"}).out), "ok");
  EXPECT_EQ(host_hostname(), before);
}
TEST_F(EscapePrivileged, SetHostnameChangesOnlyTheContainer) {
  std::string before = host_hostname();
  EXPECT_EQ(trim_str(g_privileged.probe({"sethostname"}).out), "ok");
  EXPECT_EQ(host_hostname(), before);
}
pid_t init_pid_of(const BatteryContainer& c) {
  auto r = run_tool("cove-info", {"-P", c.path(), "-n", c.name(), "--json"});
  auto pos = r.out.find("\"init_pid\": ");
  return pos == std::string::npos ? 0 : std::atoi(r.out.c_str() + pos + 12);
}

TEST_F(EscapeUserns, ProbeRunsUnderInitsRestrictions) {
  // cove-attach applies the same bounding set and seccomp filter as init.
  auto bnd = trim_str(g_userns.probe({"status", "CapBnd:\t"}).out);
  EXPECT_EQ(trim_str(g_userns.probe({"status", "Seccomp:\t"}).out), "2");
  pid_t init = init_pid_of(g_userns);
  ASSERT_GT(init, 0);
  EXPECT_EQ(bnd, status_field(init, "CapBnd"));
  EXPECT_EQ(status_field(init, "Seccomp"), "2");
  // sys_module (16), sys_rawio (17), sys_time (25), mknod (27), mac_* (32, 33) are out;
  // sys_admin (21) and sys_boot (22) in.
  uint64_t mask = std::stoull(bnd, nullptr, 16);
  for (int c : {16, 17, 25, 27, 32, 33}) EXPECT_FALSE(mask & (1ULL << c)) << c;
  for (int c : {21, 22}) EXPECT_TRUE(mask & (1ULL << c)) << c;
}

TEST_F(EscapeUserns, ContainerRootIsAnUnprivilegedHostUid) {
  pid_t init = init_pid_of(g_userns);
  ASSERT_GT(init, 0);
  // "Uid: real effective saved fs", seen from the host: the mapped range, not 0.
  std::istringstream uids(status_field(init, "Uid")), gids(status_field(init, "Gid"));
  for (long id; uids >> id;) EXPECT_GE(id, 100000);
  for (long id; gids >> id;) EXPECT_GE(id, 100000);
  std::istringstream map(read_text("/proc/" + std::to_string(init) + "/uid_map"));
  long inside = -1, outside = -1, count = -1;
  map >> inside >> outside >> count;
  EXPECT_EQ(inside, 0);
  EXPECT_GE(outside, 100000);
  EXPECT_EQ(count, 65536);
}

// --- reboot(2) ends only the container -------------------------------------------------------

class RebootTest : public ContainerTest {
 protected:
  void reboot_ends_only_the_container(bool privileged) {
    create_busybox("rb", privileged ? "[container]\nprivileged = true\n" : "");
    std::string probe = path_ + "/rb/rootfs/cove-probe";
    std::filesystem::copy_file(builddir() + "/cove-probe", probe);
    ::chmod(probe.c_str(), 0755);
    ASSERT_EQ(cove("cove-start", "rb").status, 0);
    pid_t init = init_pid("rb");
    ASSERT_GT(init, 0);
    double uptime_before = std::stod(read_text("/proc/uptime"));
    auto r = cove("cove-attach", "rb", {"--", "/cove-probe", "reboot"});
    // The attached probe dies with its PID namespace (SIGKILL): it never prints.
    EXPECT_EQ(trim_str(r.out), "") << r.out;
    EXPECT_EQ(cove("cove-wait", "rb", {"-s", "STOPPED", "-t", "10"}).status, 0);
    EXPECT_NE(::kill(init, 0) == 0 && status_field(init, "State").rfind("Z", 0) != 0, true);
    // The host is still up: we are running, and its uptime kept counting.
    EXPECT_GE(std::stod(read_text("/proc/uptime")), uptime_before);
  }
};
TEST_F(RebootTest, RebootEndsOnlyTheDefaultContainer) { reboot_ends_only_the_container(false); }
TEST_F(RebootTest, RebootEndsOnlyThePrivilegedContainer) { reboot_ends_only_the_container(true); }

// --- [security] keys end to end --------------------------------------------------------------

class SecurityKeysTest : public ContainerTest {
 protected:
  std::string write_file(const std::string& name, const std::string& text) {
    std::string f = path_ + "/" + name;
    std::ofstream(f) << text;
    return f;
  }
};

TEST_F(SecurityKeysTest, SeccompDeniedSyscallReturnsTheConfiguredErrno) {
  auto policy = write_file("p.seccomp", "2\ndenylist\nmkdir errno 42\nmkdirat errno 42\n");
  create_busybox("sc", "[security]\nseccomp = " + policy + "\n");
  ASSERT_EQ(cove("cove-start", "sc").status, 0);
  auto r = cove("cove-attach", "sc", {"--", "mkdir", "/made-by-test"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find(std::strerror(42)), std::string::npos) << r.err;  // ENOMSG
  EXPECT_EQ(attach_out("sc", {"sh", "-c", "echo fine"}), "fine");
}

TEST_F(SecurityKeysTest, DockerDefaultProfileEnforces) {
  create_busybox("dk", "[security]\nseccomp = " + srcdir() + "/tests/data/docker-default-seccomp.json\n");
  std::string probe = path_ + "/dk/rootfs/cove-probe";
  std::filesystem::copy_file(builddir() + "/cove-probe", probe);
  ::chmod(probe.c_str(), 0755);
  auto r = cove("cove-start", "dk");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(attach_out("dk", {"cat", "/proc/1/comm"}), "init");
  // Not in Docker's allowlist: the default action, EPERM (defaultErrnoRet 1).
  EXPECT_EQ(attach_out("dk", {"/cove-probe", "keyctl"}), "errno 1");
  EXPECT_EQ(attach_out("dk", {"/cove-probe", "bpf"}), "errno 1");
  EXPECT_EQ(attach_out("dk", {"/cove-probe", "status", "Seccomp:\t"}), "2");
}

TEST_F(SecurityKeysTest, CapabilitiesNoNewPrivsRlimitsSysctls) {
  create_busybox("keys",
                 "[security]\ncapabilities.drop = net_raw\nno_new_privs = true\nrlimit = nofile 512 1024\n"
                 "sysctl = net.ipv4.ip_forward=1\nsysctl = kernel.shmmni=1234\n");
  auto r = cove("cove-start", "keys");
  ASSERT_EQ(r.status, 0) << r.err;
  auto bnd = attach_out("keys", {"sh", "-c", "grep CapBnd /proc/1/status | cut -f2"});
  uint64_t mask = std::stoull(bnd, nullptr, 16);
  EXPECT_FALSE(mask & (1ULL << 13)) << bnd;  // net_raw
  EXPECT_FALSE(mask & (1ULL << 16)) << bnd;  // sys_module (common.conf)
  EXPECT_EQ(attach_out("keys", {"sh", "-c", "grep NoNewPrivs /proc/1/status | cut -f2"}), "1");
  EXPECT_EQ(attach_out("keys", {"sh", "-c", "grep NoNewPrivs /proc/self/status | cut -f2"}), "1");
  EXPECT_EQ(attach_out("keys", {"sh", "-c", "ulimit -n"}), "512");
  EXPECT_EQ(attach_out("keys", {"cat", "/proc/sys/net/ipv4/ip_forward"}), "1");
  EXPECT_EQ(attach_out("keys", {"cat", "/proc/sys/kernel/shmmni"}), "1234");
  EXPECT_NE(trim_str(read_text("/proc/sys/kernel/shmmni")), "1234");  // the host's is untouched
}

// An attached command gets what init got at its start (the monitor's record in the runtime
// dir), not what the config says after an edit; without the record (a restored container, an
// older monitor) the config's; a damaged record is refused, naming the file.
TEST_F(SecurityKeysTest, AnAttachedCommandGetsWhatInitGotNotAnEditedConfig) {
  create_busybox("rec", "[security]\ncapabilities.drop = net_raw\n[container]\ninit.env = FOO=at-start\n");
  ASSERT_EQ(cove("cove-start", "rec").status, 0);
  {
    std::ofstream cfg(path_ + "/rec/config", std::ios::app);
    cfg << "\n[security]\ncapabilities.drop = net_admin\n[container]\ninit.env = FOO=edited\n";
  }
  auto bounding = [&] {
    return std::stoull(attach_out("rec", {"sh", "-c", "grep CapBnd /proc/self/status | cut -f2"}), nullptr, 16);
  };
  uint64_t mask = bounding();
  EXPECT_FALSE(mask & (1ULL << 13));  // net_raw: dropped at the start
  EXPECT_TRUE(mask & (1ULL << 12));   // net_admin: dropped only by the edit
  EXPECT_EQ(attach_out("rec", {"sh", "-c", "echo $FOO"}), "at-start");

  const std::string record = runtime_dir("rec") + "/exec";
  ASSERT_EQ(::unlink(record.c_str()), 0) << record;
  mask = bounding();
  EXPECT_FALSE(mask & (1ULL << 13));
  EXPECT_FALSE(mask & (1ULL << 12));
  EXPECT_EQ(attach_out("rec", {"sh", "-c", "echo $FOO"}), "edited");

  { std::ofstream(record) << "{\"version\":1,\"restrictions\":{}}"; }
  auto r = cove("cove-attach", "rec", {"--", "true"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("read `" + record + "`: exec record has a missing or mistyped field"), std::string::npos) << r.err;
  EXPECT_EQ(trim_str(cove("cove-info", "rec", {"-s"}).out), "RUNNING");
}

TEST_F(SecurityKeysTest, MissingLsmIsAClearErrorUnlessOptional) {
  if (read_text("/sys/kernel/security/lsm").find("apparmor") != std::string::npos)
    GTEST_SKIP() << "this host runs AppArmor";
  create_busybox("aa", "[security]\napparmor = generated\n");
  auto r = cove("cove-start", "aa");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("the host does not run the AppArmor LSM"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("optional"), std::string::npos) << r.err;
  if (read_text("/sys/kernel/security/lsm").find("selinux") == std::string::npos) {
    create_busybox("se", "[security]\nselinux = system_u:system_r:container_t:s0\n");
    r = cove("cove-start", "se");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("SELinux"), std::string::npos) << r.err;
  }
  // The shipped default (`apparmor = generated optional`) starts here.
  create_busybox("ok");
  EXPECT_EQ(cove("cove-start", "ok").status, 0);
}

}  // namespace

// The mount-locking helper (ns/locked_mounts.hpp) outside a container start: a step that fails
// is reported by name (a process in the host's user namespace: entering one's own user
// namespace is EINVAL), a second copy() is refused, and a locker destroyed without being asked
// leaves no helper behind (killed and reaped).
namespace {
std::string children_of_self() {
  return read_text("/proc/self/task/" + std::to_string(::gettid()) + "/children");
}
}  // namespace

TEST(MountLocker, AFailedStepIsReportedByNameAndASecondCopyIsRefused) {
  auto target = process::spawn([] {
    ::pause();
    return 0;
  });
  ASSERT_TRUE(target.has_value()) << target.error().message();
  auto locker = ns::MountLocker::start(target->pidfd());
  ASSERT_TRUE(locker.has_value()) << locker.error().message();
  auto ns = locker->copy();
  ASSERT_FALSE(ns.has_value());
  EXPECT_EQ(ns.error().code(), EINVAL);
  EXPECT_NE(ns.error().message().find("enter the container's user namespace"), std::string::npos)
      << ns.error().message();
  auto again = locker->copy();
  ASSERT_FALSE(again.has_value());
  EXPECT_NE(again.error().message().find("asked twice"), std::string::npos) << again.error().message();
}

TEST(MountLocker, ALockerNeverAskedLeavesNoHelper) {
  std::string before = children_of_self();
  {
    auto locker = ns::MountLocker::start(-1);
    ASSERT_TRUE(locker.has_value()) << locker.error().message();
    EXPECT_NE(children_of_self(), before) << "the helper is forked at start()";
  }
  EXPECT_EQ(children_of_self(), before);
}

}  // namespace cove::test
