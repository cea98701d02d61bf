// The security plan of privileged containers (issue 10): whatever seccomp policy is in force, a
// privileged container keeping dac_read_search gets open_by_handle_at -> EPERM (the "shocker"
// escape); and names a seccomp policy uses that libseccomp does not know are logged as
// warnings naming the file and the syscall. Programs are enforced in a forked child.
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "base/log.hpp"
#include "lifecycle/security_plan.hpp"
#include "support.hpp"

namespace cove::lifecycle {
namespace {

using config::Namespace;

const std::string kDocker = std::string(COVE_TEST_DATADIR) + "/docker-default-seccomp.json";

config::ContainerConfig privileged_config() {
  config::ContainerConfig c;
  c.name = "web";
  c.rootfs = "/var/lib/cove/web/rootfs";
  c.privileged = true;
  c.clone_ns = {Namespace::kMnt, Namespace::kPid, Namespace::kUts, Namespace::kIpc, Namespace::kNet};
  return c;
}

std::string no_lsm(const test::TempDir& d) {
  std::ofstream(d.file("lsm")) << "capability,landlock";
  return d.file("lsm");
}

// open_by_handle_at(-1, ...) fails with EBADF before the kernel checks capabilities, so the
// child tells "denied by the filter" (EPERM) from "reached the kernel" (EBADF) without root.
int open_by_handle_errno(const std::vector<sock_filter>& program) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (!program.empty()) {
      struct sock_fprog prog = {static_cast<unsigned short>(program.size()), const_cast<sock_filter*>(program.data())};
      if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
        ::_exit(200);
    }
    struct {
      unsigned int bytes = 8;
      int type = 1;
      unsigned char h[8] = {};
    } fh;
    long rc = ::syscall(SYS_open_by_handle_at, -1, &fh, O_RDONLY);
    ::_exit(rc >= 0 ? 0 : errno);
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

TEST(ShockerGuard, DockerProfileWithDacReadSearchIsDeniedWhenPrivileged) {
  test::TempDir d;
  auto c = privileged_config();
  c.security.seccomp = kDocker;
  auto r = make_exec_restrictions(c, no_lsm(d));
  ASSERT_OK(r);
  EXPECT_TRUE(r->bounding & (1ULL << CAP_DAC_READ_SEARCH));
  EXPECT_EQ(open_by_handle_errno(r->seccomp), EPERM);
  // Without a filter the call reaches the kernel (the probe's baseline).
  EXPECT_EQ(open_by_handle_errno({}), EBADF);
}

TEST(ShockerGuard, NoPolicyConfiguredGetsAFilterOfTheGuardAlone) {
  test::TempDir d;
  auto c = privileged_config();
  auto r = make_exec_restrictions(c, no_lsm(d));
  ASSERT_OK(r);
  ASSERT_FALSE(r->seccomp.empty());
  EXPECT_EQ(open_by_handle_errno(r->seccomp), EPERM);
}

TEST(ShockerGuard, NotAddedWithoutDacReadSearchOrWithAUserNamespace) {
  auto c = privileged_config();
  EXPECT_TRUE(needs_open_by_handle_guard(c, ~0ULL));
  EXPECT_FALSE(needs_open_by_handle_guard(c, ~0ULL & ~(1ULL << CAP_DAC_READ_SEARCH)));
  c.privileged = false;
  EXPECT_FALSE(needs_open_by_handle_guard(c, ~0ULL));
  test::TempDir d;
  auto p = privileged_config();
  p.security.cap_drop = {CAP_DAC_READ_SEARCH};
  auto r = make_exec_restrictions(p, no_lsm(d));
  ASSERT_OK(r);
  EXPECT_TRUE(r->seccomp.empty());
}

TEST(ShockerGuard, ReplacesAnAllowRuleWithArguments) {
  security::seccomp::Policy p;
  p.default_action = {security::seccomp::ActionKind::kErrno, 38};
  security::seccomp::Rule allow;
  allow.names = {"open_by_handle_at", "getpid"};
  allow.args = {{2, security::seccomp::CmpOp::kEq, 0, 0}};
  p.rules.push_back(allow);
  deny_open_by_handle_at(p);
  ASSERT_EQ(p.rules.size(), 2u);
  EXPECT_EQ(p.rules[0].names, std::vector<std::string>{"getpid"});
  EXPECT_EQ(p.rules[1].names, std::vector<std::string>{"open_by_handle_at"});
  EXPECT_EQ(p.rules[1].action, (security::seccomp::Action{security::seccomp::ActionKind::kErrno, EPERM}));
  EXPECT_TRUE(p.rules[1].args.empty());
}

// --- unknown syscall names ------------------------------------------------------------------

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class LogCapture {
 public:
  explicit LogCapture(const std::string& file) : saved_(log::level()) {
    log::set_level(log::Level::kWarn);
    EXPECT_TRUE(log::set_file(file).has_value());
  }
  ~LogCapture() {
    (void)log::set_file("");
    log::set_level(saved_);
  }

 private:
  log::Level saved_;
};

TEST(SeccompUnknownNames, OciProfileTypoIsAWarningNamingFileAndSyscall) {
  test::TempDir d;
  std::string profile = d.file("typo.json");
  std::ofstream(profile) << R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
      {"names": ["keyctl", "kexec_lod", "arm_fadvise64_64"], "action": "SCMP_ACT_ERRNO"}]})";
  config::ContainerConfig c = privileged_config();
  c.privileged = false;
  c.clone_ns.push_back(Namespace::kUser);
  c.security.seccomp = profile;
  std::string logfile = d.file("log");
  {
    LogCapture cap(logfile);
    ASSERT_OK(make_exec_restrictions(c, no_lsm(d)));
  }
  std::string text = slurp(logfile);
  EXPECT_NE(text.find("seccomp policy `" + profile + "`: syscalls unknown to libseccomp, ignored: `kexec_lod`"),
            std::string::npos)
      << text;
  // A real syscall of another architecture is not unknown, nor is one that is skipped here.
  EXPECT_EQ(text.find("arm_fadvise64_64"), std::string::npos) << text;
  EXPECT_EQ(text.find("`keyctl`"), std::string::npos) << text;
}

TEST(SeccompUnknownNames, DockerProfileNamesOnlyWhatLibseccompLacks) {
  test::TempDir d;
  auto c = privileged_config();
  c.security.seccomp = kDocker;
  std::string logfile = d.file("log");
  {
    LogCapture cap(logfile);
    ASSERT_OK(make_exec_restrictions(c, no_lsm(d)));
  }
  // Syscalls gated on capabilities (e.g. `bpf` without sys_admin) or on other arches are known.
  std::string text = slurp(logfile);
  for (const char* known : {"`bpf`", "`open_by_handle_at`", "`arm_fadvise64_64`", "`s390_pci_mmio_read`"})
    EXPECT_EQ(text.find(known), std::string::npos) << known << " in:\n" << text;
}

}  // namespace
}  // namespace cove::lifecycle
