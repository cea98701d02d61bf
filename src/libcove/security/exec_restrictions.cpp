#include "security/exec_restrictions.hpp"

#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "security/capabilities.hpp"
#include "security/lsm/lsm.hpp"

namespace cove::security {

std::string describe(const ExecRestrictions& r) {
  std::string out = "caps=" + describe_caps(r.bounding, kernel_last_cap());
  out += fmt::format(" no_new_privs={} seccomp={}", r.no_new_privs,
                     r.seccomp.empty() ? std::string("none")
                                       : fmt::format("{} ({} instructions)", r.seccomp_source, r.seccomp.size()));
  if (!r.lsm.empty()) out += " " + r.lsm + "=" + r.lsm_label;
  if (r.identity) out += fmt::format(" user={}:{} groups={}", r.identity->uid, r.identity->gid, r.identity->groups.size());
  if (r.cap_sets)
    out += fmt::format(" effective={} ambient={}", describe_caps(r.cap_sets->effective, kernel_last_cap()),
                       describe_caps(r.cap_sets->ambient, kernel_last_cap()));
  for (const auto& l : r.rlimits) out += fmt::format(" rlimit{}={}:{}", l.resource, l.soft, l.hard);
  return out;
}

namespace {

// The user switch keeps the permitted set (PR_SET_KEEPCAPS), so the sets can be set after it.
Result<void> become(const Identity& id) {
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return Error::from_errno(errno, "keep capabilities");
  std::vector<gid_t> groups(id.groups.begin(), id.groups.end());
  if (::setgroups(groups.size(), groups.data()) < 0) return Error::from_errno(errno, "setgroups");
  if (::setresgid(id.gid, id.gid, id.gid) < 0) return Error::from_errno(errno, fmt::format("setresgid {}", id.gid));
  if (::setresuid(id.uid, id.uid, id.uid) < 0) return Error::from_errno(errno, fmt::format("setresuid {}", id.uid));
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) return Error::from_errno(errno, "reset keep-capabilities");
  return {};
}

}  // namespace

Result<void> apply_exec_restrictions(const ExecRestrictions& r) {
  for (const auto& l : r.rlimits) {
    struct rlimit rl = {static_cast<rlim_t>(l.soft), static_cast<rlim_t>(l.hard)};
    if (::setrlimit(l.resource, &rl) < 0) return Error::from_errno(errno, fmt::format("setrlimit {}", l.resource));
  }
  if (!r.lsm.empty() && !r.lsm_label.empty()) {
    // The label is written to /proc/self/attr: the container's own /proc, mounted by now. The
    // monitor checked that the host runs this LSM (the container has no securityfs to ask).
    auto lsm = r.lsm == "apparmor" ? lsm::make_apparmor() : lsm::make_selinux();
    if (!lsm) return std::move(lsm).error();
    COVE_TRY((*lsm)->set_exec_label(r.lsm_label));
  }
  // Loading a filter needs no_new_privs or CAP_SYS_ADMIN in our user namespace: keep the
  // latter until then when the config wants neither in the container (execve of root then
  // recomputes the sets from the bounding set, which no longer holds it).
  bool need_admin = !r.seccomp.empty() && !r.no_new_privs;
  if (r.identity) COVE_TRY(become(*r.identity));
  auto caps = r.cap_sets ? apply_cap_sets(r.bounding, *r.cap_sets, need_admin) : apply_capabilities(r.bounding, need_admin);
  if (!caps) return std::move(caps).error().context("capabilities");
  if (r.umask) ::umask(static_cast<mode_t>(*r.umask));
  if (r.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return Error::from_errno(errno, "set no_new_privs");
  if (!r.seccomp.empty()) {
    struct sock_fprog prog = {static_cast<unsigned short>(r.seccomp.size()),
                              const_cast<sock_filter*>(r.seccomp.data())};
    if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
      return Error::from_errno(errno, "load seccomp policy `" + r.seccomp_source + "`");
  }
  if (need_admin && r.cap_sets) {
    if (auto d = drop_kept_sys_admin(*r.cap_sets); !d) return std::move(d).error().context("capabilities");
  }
  return {};
}

}  // namespace cove::security
