#include "lifecycle/security_plan.hpp"

#include <linux/capability.h>
#include <unistd.h>

#include <optional>

#include <fmt/format.h>

#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/sha256.hpp"
#include "base/strings.hpp"
#include "host_config.hpp"
#include "security/capabilities.hpp"
#include "security/lsm/lsm.hpp"
#include "security/seccomp/compile.hpp"

namespace cove::lifecycle {

std::string generated_profile_name(const config::ContainerConfig& cfg) {
  // 128 bits of the rootfs path: two containers never share (or replace) one profile.
  return fmt::format("cove-{}-{}", cfg.name, sha256_hex(cfg.rootfs).substr(0, 32));
}

std::string generated_profile_dir() { return host_config().runtime_dir + "/apparmor"; }

Result<void> unload_generated_profile(const config::ContainerConfig& cfg) {
  std::string name = generated_profile_name(cfg);
  std::string file = generated_profile_dir() + "/" + name;
  if (!path_exists(file)) return {};
  auto lsm = security::lsm::open_lsm("apparmor");
  if (!lsm) {
    // Rendered on a boot that ran AppArmor, gone since: nothing is loaded, drop the file.
    if (::unlink(file.c_str()) < 0 && errno != ENOENT) return Error::from_errno(errno, "remove `" + file + "`");
    return {};
  }
  return (*lsm)->unload_generated(name, generated_profile_dir());
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

bool needs_open_by_handle_guard(const config::ContainerConfig& cfg, uint64_t bounding) {
  return cfg.privileged && (bounding & (1ULL << CAP_DAC_READ_SEARCH)) != 0;
}

void deny_open_by_handle_at(security::seccomp::Policy& p) {
  namespace sc = security::seccomp;
  for (auto& r : p.rules) std::erase(r.names, std::string(kOpenByHandleAt));
  std::erase_if(p.rules, [](const sc::Rule& r) { return r.names.empty(); });
  sc::Rule deny;
  deny.names = {kOpenByHandleAt};
  deny.action = sc::Action{sc::ActionKind::kErrno, EPERM};
  p.rules.push_back(std::move(deny));
}

namespace {

// The policy in force for a container: its configured file, or none; with the
// open_by_handle_at guard added where needed (a privileged container keeping dac_read_search).
Result<std::optional<security::seccomp::Policy>> load_policy(const config::ContainerConfig& cfg) {
  const auto& file = cfg.security.seccomp;
  std::optional<security::seccomp::Policy> policy;
  if (!file.empty()) {
    auto text = read_file(file);
    if (!text) return std::move(text).error().context("seccomp policy `" + file + "`");
    auto parsed = security::seccomp::parse_policy(*text, file);
    if (!parsed) return std::move(parsed).error();
    policy = std::move(*parsed);
  }
  return policy;
}

std::optional<security::seccomp::Policy> guarded(const config::ContainerConfig& cfg, uint64_t bounding,
                                                 std::optional<security::seccomp::Policy> policy) {
  if (needs_open_by_handle_guard(cfg, bounding)) {
    if (!policy) policy = security::seccomp::Policy{};  // default allow
    deny_open_by_handle_at(*policy);
    log::debug("privileged with dac_read_search: open_by_handle_at denied (EPERM)");
  }
  return policy;
}

}  // namespace

Result<security::ExecRestrictions> make_exec_restrictions(const config::ContainerConfig& cfg,
                                                          const std::string& lsm_file) {
  auto policy = load_policy(cfg);
  if (!policy) return std::move(policy).error();
  return make_exec_restrictions(cfg, std::move(*policy), cfg.security.seccomp, lsm_file);
}

Result<security::ExecRestrictions> make_exec_restrictions(const config::ContainerConfig& cfg,
                                                          std::optional<security::seccomp::Policy> seccomp,
                                                          const std::string& seccomp_source,
                                                          const std::string& lsm_file) {
  const auto& sec = cfg.security;
  security::ExecRestrictions r;
  int last = security::kernel_last_cap();
  r.bounding = security::compute_bounding(sec.cap_keep, sec.cap_drop, last);
  r.no_new_privs = sec.no_new_privs;
  for (const auto& l : sec.rlimits) r.rlimits.push_back({l.resource, l.soft, l.hard});
  auto policy = guarded(cfg, r.bounding, std::move(seccomp));
  if (policy) {
    std::string source = seccomp_source.empty() ? std::string("built-in open_by_handle_at guard") : seccomp_source;
    auto ctx = security::seccomp::host_context();
    ctx.caps = r.bounding;
    auto compiled = security::seccomp::compile(*policy, ctx);
    if (!compiled) return std::move(compiled).error().context("seccomp policy `" + source + "`");
    // Not an error: profiles name syscalls of newer kernels (runc skips them too); but a typo
    // silently weakens a denylist, so say which names were dropped.
    if (!compiled->unknown.empty())
      log::warn("seccomp policy `{}`: syscalls unknown to libseccomp, ignored: `{}`", source,
                join(compiled->unknown, "`, `"));
    r.seccomp = std::move(compiled->program);
    r.seccomp_source = source;
  }
  auto lsm = choose_lsm(sec, generated_profile_name(cfg), lsm_file);
  if (!lsm) return std::move(lsm).error();
  r.lsm = lsm->lsm;
  r.lsm_label = lsm->label;
  return r;
}

}  // namespace cove::lifecycle
