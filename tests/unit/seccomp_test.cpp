// The seccomp rule model from both formats (LXC text, OCI JSON including Docker's default
// profile), its per-container resolution, and compiled programs enforced in a forked child
// (no root needed: the child sets no_new_privs itself).
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "security/cap_names.hpp"
#include "security/seccomp/compile.hpp"
#include "security/seccomp/policy.hpp"
#include "support.hpp"

namespace cove::security::seccomp {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const Rule* find_rule(const Policy& p, const std::string& name) {
  for (const auto& r : p.rules)
    for (const auto& n : r.names)
      if (n == name) return &r;
  return nullptr;
}

// Runs `fn` in a child under `program`; returns what the child exits with.
template <typename Fn>
int run_filtered(const std::vector<sock_filter>& program, Fn fn) {
  pid_t pid = ::fork();
  if (pid == 0) {
    struct sock_fprog prog = {static_cast<unsigned short>(program.size()), const_cast<sock_filter*>(program.data())};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
      ::_exit(200);
    ::_exit(fn());
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

TEST(SeccompLxc, ParsesDenylistWithSectionsActionsAndArgs) {
  auto p = parse_lxc_policy(
      "2\ndenylist\n# comment\nkexec_load errno 1\n[x86_64]\nkeyctl errno 38\n[all]\nreboot\n"
      "personality allow [0,8,SCMP_CMP_EQ]\nclone trap [0,0x10000000,SCMP_CMP_MASKED_EQ,0x10000000]\nsync log\n",
      "p.seccomp");
  ASSERT_OK(p);
  EXPECT_EQ(p->default_action, (Action{ActionKind::kAllow, 0}));
  ASSERT_EQ(p->rules.size(), 6u);
  EXPECT_EQ(p->rules[0].action, (Action{ActionKind::kErrno, 1}));
  EXPECT_TRUE(p->rules[0].arches.empty());
  EXPECT_EQ(p->rules[1].arches, (std::vector<std::string>{"x86_64"}));
  EXPECT_EQ(p->rules[1].line, 6);
  EXPECT_TRUE(p->rules[2].arches.empty());
  EXPECT_EQ(p->rules[2].action.kind, ActionKind::kKillProcess);  // denylist: no action = kill
  EXPECT_EQ(p->rules[3].args, (std::vector<ArgCondition>{{0, CmpOp::kEq, 8, 0}}));
  EXPECT_EQ(p->rules[4].args[0].op, CmpOp::kMaskedEq);
  EXPECT_EQ(p->rules[4].args[0].value2, 0x10000000u);
  EXPECT_EQ(p->rules[4].action.kind, ActionKind::kTrap);
  EXPECT_EQ(p->rules[5].action.kind, ActionKind::kLog);
}

TEST(SeccompLxc, AllowlistDefaults) {
  auto p = parse_lxc_policy("2\nallowlist errno 1\nread\nwrite\n", "p");
  ASSERT_OK(p);
  EXPECT_EQ(p->default_action, (Action{ActionKind::kErrno, 1}));
  EXPECT_EQ(p->rules[0].action.kind, ActionKind::kAllow);
}

TEST(SeccompLxc, ErrorsNameFileAndLine) {
  EXPECT_ERROR_CONTAINS(parse_lxc_policy("2\ndenylist\nkexec_load errno\n", "p.seccomp"), "p.seccomp:3: `errno` needs a number");
  EXPECT_ERROR_CONTAINS(parse_lxc_policy("2\ndenylist\nmount teleport\n", "p"), "p:3: unknown action `teleport`");
  EXPECT_ERROR_CONTAINS(parse_lxc_policy("2\ndenylist\n[vax]\n", "p"), "p:3: unknown architecture section `[vax]`");
  EXPECT_ERROR_CONTAINS(parse_lxc_policy("2\ndenylist\nclone allow [7,1,==]\n", "p"), "argument index");
  EXPECT_ERROR_CONTAINS(parse_lxc_policy("2\ndenylist\nclone allow [0,1,~=]\n", "p"), "unknown comparison `~=`");
  EXPECT_ERROR_CONTAINS(parse_lxc_policy("1\n", "p"), "version 1");
  EXPECT_ERROR_CONTAINS(parse_lxc_policy("2\nmaybelist\n", "p"), "expected `denylist` or `allowlist`");
  EXPECT_ERROR_CONTAINS(parse_lxc_policy("2\ndenylist\nptrace notify\n", "p"), "`notify` is not supported");
}

TEST(SeccompOci, ParsesFieldsIntoTheSameModel) {
  auto p = parse_policy(R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
    "syscalls": [
      {"names": ["kexec_load", "init_module"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
      {"names": ["personality"], "action": "SCMP_ACT_KILL_PROCESS", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_NE"}]},
      {"names": ["mount"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
      {"names": ["bpf"], "action": "SCMP_ACT_LOG", "includes": {"arches": ["amd64"], "minKernel": "4.8"}}]})",
                        "p.json");
  ASSERT_OK(p);
  EXPECT_EQ(p->architectures, (std::vector<std::string>{"x86_64", "x86"}));
  ASSERT_EQ(p->rules.size(), 4u);
  EXPECT_EQ(p->rules[0].names.size(), 2u);
  EXPECT_EQ(p->rules[0].action, (Action{ActionKind::kErrno, 38}));
  EXPECT_EQ(p->rules[1].args, (std::vector<ArgCondition>{{0, CmpOp::kNe, 8, 0}}));
  EXPECT_EQ(p->rules[2].action, (Action{ActionKind::kErrno, 1}));  // no errnoRet: EPERM
  EXPECT_EQ(p->rules[2].exclude_caps, (std::vector<int>{21}));
  EXPECT_EQ(p->rules[3].arches, (std::vector<std::string>{"x86_64"}));
  EXPECT_EQ(p->rules[3].min_kernel, "4.8");
}

TEST(SeccompOci, Errors) {
  EXPECT_ERROR_CONTAINS(parse_oci_policy("{", "p.json"), "p.json: not valid JSON");
  EXPECT_ERROR_CONTAINS(parse_oci_policy(R"({"defaultAction": "SCMP_ACT_ALLOW", "sycalls": []})", "p.json"),
                        "unknown field `sycalls`");
  EXPECT_ERROR_CONTAINS(parse_oci_policy(R"({"syscalls": []})", "p.json"), "no `defaultAction`");
  EXPECT_ERROR_CONTAINS(parse_oci_policy(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_NOTIFY"}]})", "p"),
                        "syscalls[0]: action `SCMP_ACT_NOTIFY` is not supported");
  EXPECT_ERROR_CONTAINS(parse_oci_policy(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_FLY"]}}]})", "p"),
                        "unknown capability `CAP_FLY`");
}

TEST(SeccompOci, DockerDefaultProfileParses) {
  auto p = parse_policy(read_text(std::string(COVE_TEST_DATADIR) + "/docker-default-seccomp.json"), "docker.json");
  ASSERT_OK(p);
  EXPECT_EQ(p->default_action, (Action{ActionKind::kErrno, 1}));
  EXPECT_TRUE(p->architectures.empty());  // archMap: resolved to native + sub-arches
  EXPECT_EQ(p->rules.size(), 33u);
  const Rule* read = find_rule(*p, "read");
  ASSERT_NE(read, nullptr);
  EXPECT_EQ(read->action.kind, ActionKind::kAllow);
  const Rule* mount = find_rule(*p, "mount");
  ASSERT_NE(mount, nullptr);
  EXPECT_EQ(mount->include_caps, (std::vector<int>{21}));  // CAP_SYS_ADMIN
  EXPECT_EQ(find_rule(*p, "kexec_load"), nullptr);  // denied by the default action (needs CAP_SYS_BOOT... or nothing)
}

TEST(SeccompResolve, IncludesAndExcludesByCapsArchesKernel) {
  Rule r;
  r.include_caps = {21};
  ResolveContext ctx{"x86_64", ~0ULL, 6, 18};
  EXPECT_TRUE(applies(r, ctx));
  ctx.caps &= ~(1ULL << 21);
  EXPECT_FALSE(applies(r, ctx));
  Rule e;
  e.exclude_caps = {21};
  EXPECT_TRUE(applies(e, ctx));
  Rule k;
  k.min_kernel = "6.19";
  EXPECT_FALSE(applies(k, ctx));
  k.min_kernel = "5.8";
  EXPECT_TRUE(applies(k, ctx));
  Policy p;
  EXPECT_EQ(filter_arches(p, ctx), (std::vector<std::string>{"x86_64", "x86", "x32"}));
  p.architectures = {"x86"};
  EXPECT_EQ(filter_arches(p, ctx), (std::vector<std::string>{"x86_64", "x86"}));
}

TEST(SeccompCompile, ShippedDefaultPolicyDeniesWithConfiguredErrno) {
  auto p = parse_policy(read_text(std::string(COVE_SRCDIR) + "/config/seccomp/default.seccomp"), "default.seccomp");
  ASSERT_OK(p);
  for (const char* name : {"kexec_load", "kexec_file_load", "open_by_handle_at", "init_module", "finit_module",
                           "delete_module", "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "swapon",
                           "swapoff", "userfaultfd"})
    EXPECT_NE(find_rule(*p, name), nullptr) << name;
  EXPECT_EQ(find_rule(*p, "reboot"), nullptr);  // reboot(2) in a PID namespace ends only the container
  auto c = compile(*p, host_context());
  ASSERT_OK(c);
  EXPECT_EQ(c->arches, (std::vector<std::string>{"x86_64", "x86", "x32"}));
  EXPECT_TRUE(c->unknown.empty()) << c->unknown.front();
  EXPECT_GT(c->program.size(), 20u);
  // keyctl -> ENOSYS, bpf -> EPERM, getpid allowed.
  int rc = run_filtered(c->program, [] {
    errno = 0;
    if (::syscall(SYS_keyctl, 0, -4, 0) != -1 || errno != ENOSYS) return 1;
    if (::syscall(SYS_bpf, 0, nullptr, 0) != -1 || errno != EPERM) return 2;
    if (::syscall(SYS_userfaultfd, 0) != -1 || errno != EPERM) return 3;
    if (::getpid() <= 0) return 4;
    return 0;
  });
  EXPECT_EQ(rc, 0);
}

TEST(SeccompCompile, ArgumentConditionsAndOtherActions) {
  auto p = parse_lxc_policy("2\ndenylist\nprctl errno 22 [0,1234,SCMP_CMP_EQ]\ngetppid errno 7\n", "p");
  ASSERT_OK(p);
  auto c = compile(*p, host_context());
  ASSERT_OK(c);
  int rc = run_filtered(c->program, [] {
    if (::prctl(1234, 0, 0, 0, 0) != -1 || errno != EINVAL) return 1;  // by the rule (22 = EINVAL anyway)
    if (::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) < 0) return 2;            // other values pass
    if (::syscall(SYS_getppid) != -1 || errno != E2BIG) return 3;
    return 0;
  });
  EXPECT_EQ(rc, 0);
  auto kill = parse_lxc_policy("2\ndenylist\ngetppid kill\n", "p");
  ASSERT_OK(kill);
  auto ck = compile(*kill, host_context());
  ASSERT_OK(ck);
  EXPECT_EQ(run_filtered(ck->program, [] { return static_cast<int>(::syscall(SYS_getppid) * 0); }), 128 + SIGSYS);
}

TEST(SeccompCompile, DockerProfileEnforces) {
  auto p = parse_policy(read_text(std::string(COVE_TEST_DATADIR) + "/docker-default-seccomp.json"), "docker.json");
  ASSERT_OK(p);
  auto ctx = host_context();
  // A container without CAP_SYS_ADMIN: Docker's profile then denies mount and unshare.
  ctx.caps &= ~(1ULL << 21);
  auto c = compile(*p, ctx);
  ASSERT_OK(c);
  EXPECT_GT(c->rules, 300u);
  int rc = run_filtered(c->program, [] {
    if (::syscall(SYS_keyctl, 0, -4, 0) != -1 || errno != EPERM) return 1;   // not in the allowlist
    if (::syscall(SYS_mount, "none", "/", "tmpfs", 0, nullptr) != -1 || errno != EPERM) return 2;
    if (::getpid() <= 0 || ::syscall(SYS_getppid) < 0) return 3;              // allowed
    if (::syscall(SYS_personality, 0xffffffffUL) < 0) return 4;                // allowed by an args rule
    return 0;
  });
  EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace cove::security::seccomp
