#include "lifecycle/security_plan.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "security/capabilities.hpp"
#include "security/lsm/lsm.hpp"
#include "security/seccomp/compile.hpp"

namespace cove::lifecycle {

std::string generated_profile_name(const config::ContainerConfig& cfg) {
  return fmt::format("cove-{}-{:08x}", cfg.name, static_cast<uint32_t>(fnv1a(cfg.rootfs)));
}

Result<void> unload_generated_profile(const config::ContainerConfig& cfg) {
  std::string name = generated_profile_name(cfg);
  std::string file = std::string(kGeneratedProfileDir) + "/" + name;
  if (!path_exists(file)) return {};
  auto lsm = security::lsm::open_lsm("apparmor");
  if (!lsm) {
    // Rendered on a boot that ran AppArmor, gone since: nothing is loaded, drop the file.
    if (::unlink(file.c_str()) < 0 && errno != ENOENT) return Error::from_errno(errno, "remove `" + file + "`");
    return {};
  }
  return (*lsm)->unload_generated(name, kGeneratedProfileDir);
}

Result<LsmChoice> choose_lsm(const config::SecurityConfig& sec, const std::string& profile_name,
                             const std::string& lsm_file) {
  LsmChoice out;
  struct Want {
    const char* lsm;
    const char* shown;
    const config::LsmRequest& req;
  };
  for (const Want& w : {Want{"apparmor", "AppArmor", sec.apparmor}, Want{"selinux", "SELinux", sec.selinux}}) {
    if (w.req.value.empty()) continue;
    if (!security::lsm::is_active(w.lsm, lsm_file)) {
      // Without the LSM every process is unconfined already.
      if (w.req.optional || w.req.value == "unconfined") {
        log::debug("{} is not active on this host: `{}` not applied", w.shown, w.req.value);
        continue;
      }
      auto act = security::lsm::active_lsms(lsm_file);
      return Error(ENOTSUP, fmt::format("[security] {} = {}: the host does not run the {} LSM (active LSMs: {}); "
                                        "append `optional` to start without it",
                                        w.lsm, w.req.value, w.shown, act.empty() ? "unknown" : join(act, ",")));
    }
    if (!out.lsm.empty()) return Error::invalid("both AppArmor and SELinux are active and configured");
    out.lsm = w.lsm;
    out.value = w.req.value;
    out.generate = out.lsm == "apparmor" && out.value == "generated";
    out.label = out.generate ? profile_name : out.value;
  }
  return out;
}

Result<security::ExecRestrictions> make_exec_restrictions(const config::ContainerConfig& cfg,
                                                          const std::string& lsm_file) {
  const auto& sec = cfg.security;
  security::ExecRestrictions r;
  int last = security::kernel_last_cap();
  r.bounding = security::compute_bounding(sec.cap_keep, sec.cap_drop, last);
  r.no_new_privs = sec.no_new_privs;
  for (const auto& l : sec.rlimits) r.rlimits.push_back({l.resource, l.soft, l.hard});
  if (!sec.seccomp.empty()) {
    std::string what = "seccomp policy `" + sec.seccomp + "`";
    auto text = read_file(sec.seccomp);
    if (!text) return std::move(text).error().context(what);
    auto policy = security::seccomp::parse_policy(*text, sec.seccomp);
    if (!policy) return std::move(policy).error();
    auto ctx = security::seccomp::host_context();
    ctx.caps = r.bounding;
    auto compiled = security::seccomp::compile(*policy, ctx);
    if (!compiled) return std::move(compiled).error().context(what);
    if (!compiled->unknown.empty())
      log::debug("{}: syscalls unknown here, skipped: {}", what, join(compiled->unknown, " "));
    r.seccomp = std::move(compiled->program);
    r.seccomp_source = sec.seccomp;
  }
  auto lsm = choose_lsm(sec, generated_profile_name(cfg), lsm_file);
  if (!lsm) return std::move(lsm).error();
  r.lsm = lsm->lsm;
  r.lsm_label = lsm->label;
  return r;
}

}  // namespace cove::lifecycle
