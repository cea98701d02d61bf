// User-namespace id maps: writing uid_map/gid_map of a child from the parent, and allocating a
// host id range per unprivileged container from the pool, never overlapping another container's
// range or a range delegated in /etc/subuid or /etc/subgid.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace cove::ns {

// One line of a uid_map or gid_map: `count` ids from `container_id` inside the user namespace
// map to `count` ids from `host_id` outside. config/ parses these from `[idmap]`; ns/, rootfs/
// and criu/ take them from here, so that none of them depends on config/.
struct IdMapEntry {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t count = 0;

  bool operator==(const IdMapEntry&) const = default;
};

// "0 1000000 65536\n..." as the kernel wants it.
std::string format_idmap(const std::vector<IdMapEntry>& map);
// Writes /proc/PID/uid_map and gid_map (the caller is root in the parent user namespace).
Result<void> write_idmaps(pid_t pid, const std::vector<IdMapEntry>& uid_map, const std::vector<IdMapEntry>& gid_map);
// The host id that container id `id` maps to, or nullopt.
std::optional<uint32_t> host_id_of(const std::vector<IdMapEntry>& map, uint32_t id);

struct HostRange {
  uint64_t first = 0;
  uint64_t count = 0;
};
// Ranges from /etc/subuid-style text ("user:first:count" lines; malformed lines are skipped).
std::vector<HostRange> parse_subid(const std::string& text);
// Host ranges used by the [idmap] sections of config text (light scan; no full parse).
std::vector<HostRange> scan_config_ranges(const std::string& config_text, const char* key /* "uid" or "gid" */);

inline constexpr uint64_t kPoolFirst = 1000000;     // above the usual /etc/subuid ranges
inline constexpr uint64_t kPoolEnd = 1ULL << 31;
inline constexpr uint64_t kRangeSize = 65536;
// The first range of `size` ids at or after `pool_first` overlapping none of `used`.
Result<uint64_t> allocate_range(const std::vector<HostRange>& used, uint64_t size = kRangeSize,
                                uint64_t pool_first = kPoolFirst, uint64_t pool_end = kPoolEnd);

}  // namespace cove::ns
