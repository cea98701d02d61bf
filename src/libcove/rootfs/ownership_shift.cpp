#include "rootfs/ownership_shift.hpp"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fmt/format.h>

#include "base/fs.hpp"
#include "base/strings.hpp"

namespace cove::rootfs {

std::string format_shift_record(const ShiftRecord& r) {
  std::string out = "# cove: this rootfs was shifted into these id maps (CONTAINER-ID HOST-ID COUNT)\n";
  for (const auto& e : r.uid_map) out += fmt::format("uid {} {} {}\n", e.container_id, e.host_id, e.count);
  for (const auto& e : r.gid_map) out += fmt::format("gid {} {} {}\n", e.container_id, e.host_id, e.count);
  return out;
}

Result<ShiftRecord> parse_shift_record(const std::string& text) {
  ShiftRecord r;
  for (const auto& line : split(text, '\n')) {
    auto w = split_ws(line);
    if (w.empty() || w[0][0] == '#') continue;
    if (w.size() != 4 || (w[0] != "uid" && w[0] != "gid")) return Error::invalid("bad shift record line `" + line + "`");
    auto c = parse_uint(w[1]), h = parse_uint(w[2]), n = parse_uint(w[3]);
    if (!c || !h || !n) return Error::invalid("bad shift record line `" + line + "`");
    (w[0] == "uid" ? r.uid_map : r.gid_map).push_back({uint32_t(*c), uint32_t(*h), uint32_t(*n)});
  }
  return r;
}

uint32_t shifted_id(uint32_t disk, const std::vector<IdMapEntry>* from, const std::vector<IdMapEntry>& to) {
  for (const auto& e : to)
    if (disk >= e.host_id && disk - e.host_id < e.count) return disk;  // already shifted
  uint32_t container = disk;
  if (from) {
    bool found = false;
    for (const auto& e : *from) {
      if (disk >= e.host_id && disk - e.host_id < e.count) {
        container = e.container_id + (disk - e.host_id);
        found = true;
      }
    }
    if (!found) return disk;
  }
  for (const auto& e : to)
    if (container >= e.container_id && container - e.container_id < e.count) return e.host_id + (container - e.container_id);
  return disk;
}

namespace {

// nftw has no user pointer: the walk's state lives here for the duration of one call.
struct Walk {
  const ShiftRecord* from = nullptr;
  const ShiftRecord* to = nullptr;
  size_t changed = 0;
  int error = 0;
  std::string error_path;
};
thread_local Walk* g_walk = nullptr;

int visit(const char* path, const struct stat* st, int type, struct FTW*) {
  Walk& w = *g_walk;
  if (type == FTW_NS || type == FTW_DNR) {
    w.error = EACCES;
    w.error_path = path;
    return 1;
  }
  uid_t uid = shifted_id(st->st_uid, w.from ? &w.from->uid_map : nullptr, w.to->uid_map);
  gid_t gid = shifted_id(st->st_gid, w.from ? &w.from->gid_map : nullptr, w.to->gid_map);
  if (uid == st->st_uid && gid == st->st_gid) return 0;
  // chown(2) also drops file capabilities: keep them. A v2 `security.capability` (no root id)
  // applies in every user namespace, so the same bytes stay right after the shift.
  char caps[64];
  ssize_t ncaps = S_ISREG(st->st_mode) ? ::lgetxattr(path, "security.capability", caps, sizeof caps) : -1;
  if (::lchown(path, uid, gid) < 0) {
    w.error = errno;
    w.error_path = path;
    return 1;
  }
  if (ncaps > 0 && ::lsetxattr(path, "security.capability", caps, static_cast<size_t>(ncaps), 0) < 0) {
    w.error = errno;
    w.error_path = path;
    return 1;
  }
  // chown(2) clears set-user-ID and set-group-ID bits: put them back.
  if (!S_ISLNK(st->st_mode) && (st->st_mode & (S_ISUID | S_ISGID)) && ::chmod(path, st->st_mode & 07777) < 0) {
    w.error = errno;
    w.error_path = path;
    return 1;
  }
  ++w.changed;
  return 0;
}

}  // namespace

Result<ShiftStats> shift_ownership(const std::string& rootfs, const ShiftRecord& maps, const std::string& record) {
  ShiftStats stats;
  std::string want = format_shift_record(maps);
  std::optional<ShiftRecord> previous;
  if (auto text = read_file(record)) {
    if (*text == want) {
      stats.already_done = true;
      return stats;
    }
    auto p = parse_shift_record(*text);
    if (!p) return std::move(p).error().context("`" + record + "`");
    previous = *p;
  }
  Walk w;
  w.from = previous ? &*previous : nullptr;
  w.to = &maps;
  g_walk = &w;
  int rc = ::nftw(rootfs.c_str(), visit, 64, FTW_PHYS | FTW_MOUNT);
  g_walk = nullptr;
  if (w.error) return Error::from_errno(w.error, "shift ownership of `" + w.error_path + "`");
  if (rc < 0) return Error::from_errno(errno, "walk `" + rootfs + "`");
  COVE_TRY(write_file_atomic(record, want, 0644));
  stats.changed = w.changed;
  return stats;
}

}  // namespace cove::rootfs
