// Capabilities of the container's processes (libcap). The bounding set is what matters: every
// process in the container descends from init (or cove-attach), and a capability outside the
// bounding set can never be gained again, not even by a set-user-ID-root or file-capability
// execve. compute_bounding() is pure (unit-tested); apply_capabilities() runs in the child.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace cove::security {

// Bit N = capability N. `keep` empty = all of 0..last_cap.
uint64_t compute_bounding(const std::vector<int>& keep, const std::vector<int>& drop, int last_cap);
// The kernel's highest capability (/proc/sys/kernel/cap_last_cap), or kCapTableLast.
int kernel_last_cap();
// "chown dac_override ..." for a set.
std::string describe_caps(uint64_t caps, int last_cap);

// In the child, right before execve: drops every capability outside `bounding` from the
// bounding set, clears the ambient and inheritable sets, and sets permitted = effective =
// `bounding`, plus CAP_SYS_ADMIN when `keep_sys_admin` (the caller still has to load a seccomp
// filter without no_new_privs; execve then recomputes root's sets from the bounding set alone).
Result<void> apply_capabilities(uint64_t bounding, bool keep_sys_admin);

// The five sets of an OCI process (bit N = CAP N; the bounding set is ExecRestrictions').
struct CapSets {
  uint64_t effective = 0, permitted = 0, inheritable = 0, ambient = 0;
  bool operator==(const CapSets&) const = default;
};

// apply_capabilities for explicit sets, in a process that may have switched to a non-root
// uid with PR_SET_KEEPCAPS (its effective set is then empty, its permitted set whole): raises
// effective to permitted, drops what is outside `bounding` from the bounding set, sets
// effective, permitted and inheritable (each limited to what is held; plus CAP_SYS_ADMIN in
// effective and permitted when `keep_sys_admin`), then raises the ambient set.
Result<void> apply_cap_sets(uint64_t bounding, const CapSets& sets, bool keep_sys_admin);
// Drops CAP_SYS_ADMIN from the effective and permitted sets again unless `sets` hold it (after
// the seccomp filter it was kept for is loaded).
Result<void> drop_kept_sys_admin(const CapSets& sets);

}  // namespace cove::security
