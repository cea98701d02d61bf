// The host-wide registry of the id ranges given to unprivileged containers, so that no two
// containers on the host share host ids, whatever cove path (-P) they live in. Scanning config
// files cannot see other paths, so allocations are recorded in one file (default
// /var/lib/cove/.idmap-registry; COVE_IDMAP_REGISTRY overrides it), one line per range:
//   FIRST COUNT OWNER        (OWNER = the container's config file)
// changed only under a lock on FILE.lock. An entry whose owner's directory no longer exists is
// stale and dropped on the next change. Ranges delegated to users in /etc/subuid and
// /etc/subgid are never allocated, and explicit [idmap] ranges that overlap
// them or another container's are refused.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "ns/idmap.hpp"

namespace cove::ns {

struct RegistryEntry {
  uint64_t first = 0, count = 0;
  std::string owner;

  bool operator==(const RegistryEntry&) const = default;
};

// $COVE_IDMAP_REGISTRY, else STATE_DIR/.idmap-registry (the host config's `state_dir`,
// /var/lib/cove).
std::string registry_path();
std::vector<RegistryEntry> parse_registry(const std::string& text);
std::string format_registry(const std::vector<RegistryEntry>& entries);

// Messages for each of `ranges` (ids of `owner`) that overlaps a range of another owner or a
// delegation in `subids` (named by `subid_file`); empty when there is none. Pure.
std::vector<std::string> range_conflicts(const std::vector<HostRange>& ranges, const std::string& owner,
                                         const std::vector<RegistryEntry>& entries,
                                         const std::vector<HostRange>& subids, const std::string& subid_file);

// Allocates a fresh range for `owner` (ranges in `also_used` are avoided too), records it and
// returns its first id.
Result<uint64_t> registry_allocate(const std::string& owner, const std::vector<HostRange>& also_used = {},
                                   const std::string& path = registry_path());
// Checks an explicit map against the registry and /etc/sub[ug]id and records it for `owner`.
Result<void> registry_claim(const std::string& owner, const std::vector<HostRange>& uid_ranges,
                            const std::vector<HostRange>& gid_ranges, const std::string& path = registry_path(),
                            const std::string& subuid = "/etc/subuid", const std::string& subgid = "/etc/subgid");
// Forgets `owner`'s ranges (cove-destroy).
Result<void> registry_release(const std::string& owner, const std::string& path = registry_path());

}  // namespace cove::ns
