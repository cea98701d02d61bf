#include "security/seccomp/compile.hpp"

#include <seccomp.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

#include "base/unique_fd.hpp"

namespace cove::security::seccomp {
namespace {

struct CtxDeleter {
  void operator()(void* c) const { seccomp_release(c); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

uint32_t to_scmp(const Action& a) {
  switch (a.kind) {
    case ActionKind::kAllow: return SCMP_ACT_ALLOW;
    case ActionKind::kErrno: return SCMP_ACT_ERRNO(a.errno_value);
    case ActionKind::kKillProcess: return SCMP_ACT_KILL_PROCESS;
    case ActionKind::kKillThread: return SCMP_ACT_KILL_THREAD;
    case ActionKind::kTrap: return SCMP_ACT_TRAP;
    case ActionKind::kLog: return SCMP_ACT_LOG;
  }
  return SCMP_ACT_KILL_PROCESS;
}

scmp_compare to_scmp(CmpOp op) {
  switch (op) {
    case CmpOp::kNe: return SCMP_CMP_NE;
    case CmpOp::kLt: return SCMP_CMP_LT;
    case CmpOp::kLe: return SCMP_CMP_LE;
    case CmpOp::kEq: return SCMP_CMP_EQ;
    case CmpOp::kGe: return SCMP_CMP_GE;
    case CmpOp::kGt: return SCMP_CMP_GT;
    case CmpOp::kMaskedEq: return SCMP_CMP_MASKED_EQ;
  }
  return SCMP_CMP_EQ;
}

bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

// Builds the filter for one architecture.
Result<Ctx> build_for_arch(const Policy& p, const ResolveContext& rc, const std::string& arch, Compiled& out) {
  Ctx ctx(seccomp_init(to_scmp(p.default_action)));
  if (!ctx) return Error(ENOMEM, "seccomp_init");
  uint32_t token = seccomp_arch_resolve_name(arch.c_str());
  if (token == 0) return Error::invalid("architecture `" + arch + "` is unknown to libseccomp");
  // A fresh context holds the native arch; replace it by ours.
  if (token != seccomp_arch_native()) {
    if (int e = seccomp_arch_add(ctx.get(), token); e < 0) return Error(-e, "seccomp: add arch `" + arch + "`");
    if (int e = seccomp_arch_remove(ctx.get(), SCMP_ARCH_NATIVE); e < 0)
      return Error(-e, "seccomp: remove native arch");
  }
  // The filter we export must not turn on no_new_privs by itself (it is a config key).
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0);
  for (const auto& r : p.rules) {
    if (!applies(r, rc)) continue;
    if (!r.arches.empty() && !has(r.arches, arch)) continue;
    if (has(r.exclude_arches, arch)) continue;
    if (r.action == p.default_action) continue;  // libseccomp refuses such rules; they change nothing
    for (const auto& name : r.names) {
      // Skip what this arch lacks (x86 has no kexec_file_load); a negative number is one of
      // libseccomp's pseudo-syscalls, i.e. not on this arch either.
      int arch_nr = seccomp_syscall_resolve_name_arch(token, name.c_str());
      if (arch_nr == __NR_SCMP_ERROR || arch_nr < 0) continue;
      // Rules take the native number (or pseudo number) and libseccomp translates it per arch.
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) continue;
      // Several conditions on one argument cannot be ANDed in one rule: one rule each (runc).
      bool same_index = false;
      for (size_t i = 0; i < r.args.size(); ++i)
        for (size_t j = i + 1; j < r.args.size(); ++j) same_index = same_index || r.args[i].index == r.args[j].index;
      std::vector<std::vector<scmp_arg_cmp>> sets;
      std::vector<scmp_arg_cmp> all;
      for (const auto& a : r.args) {
        scmp_arg_cmp c{a.index, to_scmp(a.op), a.value, a.value2};
        if (same_index) sets.push_back({c});
        else all.push_back(c);
      }
      if (!same_index) sets.push_back(all);
      for (const auto& s : sets) {
        int e = seccomp_rule_add_array(ctx.get(), to_scmp(r.action), nr, static_cast<unsigned>(s.size()),
                                       s.empty() ? nullptr : s.data());
        if (e < 0)
          return Error(-e, "seccomp: rule for `" + name + "` (" + describe(r.action) + ") on " + arch + ": " +
                               std::strerror(-e));
        ++out.rules;
      }
    }
  }
  return ctx;
}

}  // namespace

ResolveContext host_context() {
  ResolveContext c;
  const char* native = seccomp_arch_resolve_name("x86_64") == seccomp_arch_native() ? "x86_64" : nullptr;
  if (!native) {
    for (const char* a : {"aarch64", "x86", "arm", "ppc64le", "s390x", "riscv64", "mips64", "mipsel64"})
      if (seccomp_arch_resolve_name(a) == seccomp_arch_native()) native = a;
  }
  c.native_arch = native ? native : "";
  struct utsname u;
  if (::uname(&u) == 0) std::sscanf(u.release, "%d.%d", &c.kernel_major, &c.kernel_minor);
  return c;
}

std::vector<std::string> filter_arches(const Policy& p, const ResolveContext& ctx) {
  if (!p.architectures.empty()) {
    std::vector<std::string> out = p.architectures;
    // The kernel runs native syscalls first of all; make sure the filter covers them.
    if (!has(out, ctx.native_arch)) out.insert(out.begin(), ctx.native_arch);
    return out;
  }
  if (ctx.native_arch == "x86_64") return {"x86_64", "x86", "x32"};
  if (ctx.native_arch == "aarch64") return {"aarch64", "arm"};
  return {ctx.native_arch};
}

bool applies(const Rule& r, const ResolveContext& ctx) {
  for (int c : r.include_caps)
    if (c >= 64 || !(ctx.caps & (1ULL << c))) return false;
  for (int c : r.exclude_caps)
    if (c < 64 && (ctx.caps & (1ULL << c))) return false;
  if (!r.min_kernel.empty()) {
    int maj = 0, min = 0;
    if (std::sscanf(r.min_kernel.c_str(), "%d.%d", &maj, &min) < 1) return false;
    if (ctx.kernel_major < maj || (ctx.kernel_major == maj && ctx.kernel_minor < min)) return false;
  }
  return true;
}

Result<Compiled> compile(const Policy& p, const ResolveContext& rc) {
  Compiled out;
  out.arches = filter_arches(p, rc);
  Ctx merged;
  for (const auto& arch : out.arches) {
    auto ctx = build_for_arch(p, rc, arch, out);
    if (!ctx) return std::move(ctx).error();
    if (!merged) {
      merged = std::move(*ctx);
    } else {
      // seccomp_merge consumes the second filter on success.
      if (int e = seccomp_merge(merged.get(), ctx->get()); e < 0) return Error(-e, "seccomp: merge `" + arch + "`");
      (void)ctx->release();
    }
  }
  // Unknown: libseccomp has no such name on any arch (a name of another arch resolves to a
  // negative pseudo number; one in a rule that does not apply here is still known).
  for (const auto& r : p.rules)
    for (const auto& n : r.names)
      if (seccomp_syscall_resolve_name(n.c_str()) == __NR_SCMP_ERROR && !has(out.unknown, n)) out.unknown.push_back(n);
  UniqueFd mem(::memfd_create("cove-seccomp", MFD_CLOEXEC));
  if (!mem) return Error::from_errno(errno, "memfd for the seccomp program");
  if (int e = seccomp_export_bpf(merged.get(), mem.get()); e < 0) return Error(-e, "seccomp: export program");
  off_t size = ::lseek(mem.get(), 0, SEEK_END);
  if (size <= 0 || size % sizeof(sock_filter) != 0) return Error(EIO, "seccomp: exported program has a bad size");
  out.program.resize(static_cast<size_t>(size) / sizeof(sock_filter));
  if (::pread(mem.get(), out.program.data(), static_cast<size_t>(size), 0) != size)
    return Error::from_errno(errno, "read the seccomp program");
  return out;
}

}  // namespace cove::security::seccomp
