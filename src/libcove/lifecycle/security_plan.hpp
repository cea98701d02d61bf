// The security part of a launch: config -> ExecRestrictions (capability bounding set, compiled
// seccomp program, LSM and label, no_new_privs, rlimits). Used by make_launch_plan() for init
// and by cove-attach for its command, so both run under the same restrictions.
#pragma once

#include <optional>
#include <string>

#include "base/result.hpp"
#include "config/container_config.hpp"
#include "security/exec_restrictions.hpp"
#include "security/seccomp/policy.hpp"

namespace cove::lifecycle {

struct LsmChoice {
  std::string lsm;            // "apparmor", "selinux" or "" (none)
  std::string value;          // the configured value ("generated", a profile name, a context)
  std::string label;          // what the child enters
  bool generate = false;      // AppArmor `generated`: the monitor loads the profile before clone
};

// Which LSM applies on this host (`lsm_file` lists the active ones): a requested LSM the host
// lacks is an error naming it, unless the request is marked optional. `profile_name` is the
// name a generated AppArmor profile gets.
Result<LsmChoice> choose_lsm(const config::SecurityConfig& sec, const std::string& profile_name,
                             const std::string& lsm_file = "/sys/kernel/security/lsm");

// The generated AppArmor profile's name for a container: "cove-NAME-HASH" (HASH of the rootfs
// path keeps containers of different paths apart).
std::string generated_profile_name(const config::ContainerConfig& cfg);

// Where generated profiles are rendered (and kept while loaded): RUNTIME_DIR/apparmor.
std::string generated_profile_dir();

// cove-destroy: unloads the container's generated AppArmor profile if this boot loaded one.
Result<void> unload_generated_profile(const config::ContainerConfig& cfg);

// The "shocker" escape: open_by_handle_at with CAP_DAC_READ_SEARCH opens any inode of a
// filesystem by its handle, past the mount namespace (the host's `/` from a privileged
// container). A privileged container whose bounding set keeps dac_read_search therefore gets
// open_by_handle_at -> EPERM added to whatever seccomp policy is in force (a filter of that
// rule alone when none is configured), replacing any rule of the policy for that syscall.
inline constexpr const char* kOpenByHandleAt = "open_by_handle_at";
bool needs_open_by_handle_guard(const config::ContainerConfig& cfg, uint64_t bounding);
void deny_open_by_handle_at(security::seccomp::Policy& p);

// The restrictions of init and attached commands. Seccomp names the policy does not know are
// skipped with a warning naming the file and the syscall.
Result<security::ExecRestrictions> make_exec_restrictions(const config::ContainerConfig& cfg,
                                                          const std::string& lsm_file = "/sys/kernel/security/lsm");
// The same with the seccomp policy given (an OCI bundle's `linux.seccomp`, nullopt = none)
// instead of read from `[security] seccomp`; `seccomp_source` names it in messages.
Result<security::ExecRestrictions> make_exec_restrictions(const config::ContainerConfig& cfg,
                                                          std::optional<security::seccomp::Policy> seccomp,
                                                          const std::string& seccomp_source,
                                                          const std::string& lsm_file = "/sys/kernel/security/lsm");

}  // namespace cove::lifecycle
