// The one-time ownership shift: the fallback for an unprivileged container whose rootfs cannot
// be idmapped. Every file's owner and group are rewritten from container ids to the host ids the
// container's maps give them (lchown), and the maps are recorded in a file next to the rootfs so
// a later start with the same maps does nothing; a start with changed maps shifts from the
// recorded ones. Runs in the monitor, as host root, before init exists.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"
#include "ns/idmap.hpp"

namespace cove::rootfs {

using ns::IdMapEntry;

struct ShiftRecord {
  std::vector<IdMapEntry> uid_map, gid_map;
};
std::string format_shift_record(const ShiftRecord& r);
Result<ShiftRecord> parse_shift_record(const std::string& text);

// Maps a disk id under `from` (nullptr: ids on disk are container ids) to its id under `to`.
// Ids that neither map covers, and ids already in `to`'s host range, are left as they are.
uint32_t shifted_id(uint32_t disk, const std::vector<IdMapEntry>* from, const std::vector<IdMapEntry>& to);

struct ShiftStats {
  bool already_done = false;
  size_t changed = 0;
};
// Shifts `rootfs` (without crossing into other filesystems) to `maps`; `record` is the file
// that records the done shift. Keeps set-user-ID and set-group-ID bits, which chown clears.
Result<ShiftStats> shift_ownership(const std::string& rootfs, const ShiftRecord& maps, const std::string& record);

}  // namespace cove::rootfs
