// What a process must give up before it executes a container program: init (child_setup) and
// every cove-attach command get the same ExecRestrictions, applied by one function in one order:
//   rlimits -> LSM exec label -> capabilities (bounding, ambient+inheritable, then the sets)
//   -> no_new_privs -> seccomp (last: the filter would otherwise constrain the steps before it)
// Plain data, computed by the monitor (or cove-attach) from the config; printable.
// An OCI process (cove-oci) also names a user to become and the five capability sets: the
// user switch comes right after the LSM label (with every capability still held), the sets
// take the place of cove's "permitted = effective = bounding".
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "security/capabilities.hpp"

namespace cove::security {

struct Rlimit {
  int resource = 0;
  uint64_t soft = 0, hard = 0;
};

// Who the process becomes (OCI `process.user`): ids inside its user namespace.
struct Identity {
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> groups;             // supplementary groups (setgroups)
  bool operator==(const Identity&) const = default;
};

struct ExecRestrictions {
  uint64_t bounding = ~0ULL;                // capabilities kept (bit N = CAP N)
  bool no_new_privs = false;
  std::vector<sock_filter> seccomp;         // compiled program; empty = no filter
  std::string seccomp_source;               // the policy file, for messages
  std::vector<Rlimit> rlimits;
  std::string lsm;                          // "apparmor", "selinux" or "" (none)
  std::string lsm_label;                    // exec label for `lsm`
  std::optional<Identity> identity;         // nullopt: stay root of the container
  std::optional<CapSets> cap_sets;          // nullopt: permitted = effective = bounding
  std::optional<uint32_t> umask;            // nullopt: inherited
};

std::string describe(const ExecRestrictions& r);

// Runs in the process about to execve (root of the container's user namespace, or host root
// in a privileged container). On error the process must not exec.
Result<void> apply_exec_restrictions(const ExecRestrictions& r);

}  // namespace cove::security
