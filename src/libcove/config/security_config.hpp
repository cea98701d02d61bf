// SecurityConfig: the typed [security] section (capabilities, no_new_privs, seccomp, LSMs,
// rlimits, sysctls, masked paths) plus how the rootfs gets its ownership in a user namespace.
// Filled by keys_security.cpp; turned into an exec-time plan by lifecycle/ and applied by
// security/. No kernel calls here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cove::config {

// A MAC profile request: `apparmor = PROFILE [optional]`, `selinux = CONTEXT [optional]`.
struct LsmRequest {
  std::string value;      // "" = not asked for; AppArmor: a profile name, `unconfined` or `generated`
  bool optional = false;  // a host without the LSM starts the container unconfined (with a warning)

  bool operator==(const LsmRequest&) const = default;
};

struct RlimitEntry {
  int resource = 0;                           // RLIMIT_*
  uint64_t soft = 0, hard = 0;                // RLIM_INFINITY for `unlimited`

  bool operator==(const RlimitEntry&) const = default;
};

struct SysctlEntry {
  std::string key;                            // dotted, e.g. "net.ipv4.ip_forward"
  std::string value;

  bool operator==(const SysctlEntry&) const = default;
};

// How an unprivileged container's rootfs gets mapped ownership.
enum class RootfsIdmap {
  kAuto,      // an idmapped mount; a one-time ownership shift where the filesystem cannot be idmapped
  kIdmapped,  // an idmapped mount or fail
  kShift,     // always the one-time ownership shift (chown into the mapped range, recorded)
};

struct SecurityConfig {
  // Capability numbers (CAP_*). The bounding set is (keep, or every capability when keep is
  // empty) minus drop.
  std::vector<int> cap_drop;
  std::vector<int> cap_keep;
  bool no_new_privs = false;
  std::string seccomp;                        // policy file (LXC text or OCI JSON), "" = none
  LsmRequest apparmor;
  LsmRequest selinux;
  std::string selinux_mount_context;          // `context=` of the filesystems cove mounts
  std::vector<RlimitEntry> rlimits;
  std::vector<SysctlEntry> sysctls;
  std::vector<std::string> masked_paths;      // relative to the rootfs, normalised ("proc/kcore")
  std::vector<std::string> readonly_paths;
  RootfsIdmap rootfs_idmap = RootfsIdmap::kAuto;
};

}  // namespace cove::config
