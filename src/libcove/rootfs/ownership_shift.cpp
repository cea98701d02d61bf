#include "rootfs/ownership_shift.hpp"

#include <fcntl.h>
#include <limits.h>
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

struct Shift {
  const ShiftRecord* from = nullptr;
  const ShiftRecord* to = nullptr;
  size_t changed = 0;

  std::pair<uid_t, gid_t> ids_for(const struct stat& st) const {
    return {shifted_id(st.st_uid, from ? &from->uid_map : nullptr, to->uid_map),
            shifted_id(st.st_gid, from ? &from->gid_map : nullptr, to->gid_map)};
  }
};

// chown(2) also drops file capabilities and the set-user-ID and set-group-ID bits: keep them.
// A v2 `security.capability` (no root id) applies in every user namespace, so the same bytes
// stay right after the shift. Everything goes through an fd opened without following links.
Result<void> shift_fd(int fd, const struct stat& st, uid_t uid, gid_t gid, const std::string& shown) {
  char caps[64];
  ssize_t ncaps = S_ISREG(st.st_mode) ? ::fgetxattr(fd, "security.capability", caps, sizeof caps) : -1;
  if (::fchown(fd, uid, gid) < 0) return Error::from_errno(errno, "chown `" + shown + "`");
  if (ncaps > 0 && ::fsetxattr(fd, "security.capability", caps, static_cast<size_t>(ncaps), 0) < 0)
    return Error::from_errno(errno, "restore file capabilities of `" + shown + "`");
  if ((st.st_mode & (S_ISUID | S_ISGID)) && ::fchmod(fd, st.st_mode & 07777) < 0)
    return Error::from_errno(errno, "restore the mode of `" + shown + "`");
  return {};
}

Result<void> shift_entry(Shift& s, int dirfd, const std::string& name, const struct stat& st, const std::string& shown) {
  auto [uid, gid] = s.ids_for(st);
  if (uid == st.st_uid && gid == st.st_gid) return {};
  ++s.changed;
  if (S_ISLNK(st.st_mode)) {
    if (::fchownat(dirfd, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
      return Error::from_errno(errno, "chown `" + shown + "`");
    return {};
  }
  if (!S_ISREG(st.st_mode)) {  // devices, FIFOs, sockets: never opened
    if (::fchownat(dirfd, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
      return Error::from_errno(errno, "chown `" + shown + "`");
    if ((st.st_mode & (S_ISUID | S_ISGID)) && ::fchmodat(dirfd, name.c_str(), st.st_mode & 07777, 0) < 0)
      return Error::from_errno(errno, "restore the mode of `" + shown + "`");
    return {};
  }
  UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_NOATIME | O_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "open `" + shown + "`");
  return shift_fd(fd.get(), st, uid, gid, shown);
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
  Shift sh;
  sh.from = previous ? &*previous : nullptr;
  sh.to = &maps;
  // Iterative (any depth, two fds), never through a symlink, not into other filesystems.
  TreeVisitor v;
  v.skip_other_filesystems = true;
  v.file = [&](int dirfd, const std::string& name, const struct stat& st, const std::string& shown) {
    return shift_entry(sh, dirfd, name, st, shown);
  };
  v.dir_done = [&](int, const std::string&, int dirfd, const std::string& shown) -> Result<bool> {
    struct stat st;
    if (::fstat(dirfd, &st) < 0) return Error::from_errno(errno, "stat `" + shown + "`");
    auto [uid, gid] = sh.ids_for(st);
    if (uid == st.st_uid && gid == st.st_gid) return true;
    ++sh.changed;
    COVE_TRY(shift_fd(dirfd, st, uid, gid, shown));
    return true;
  };
  char real[PATH_MAX];  // the rootfs's own path is the host's: a symlink there is followed
  if (!::realpath(rootfs.c_str(), real)) return Error::from_errno(errno, "resolve `" + rootfs + "`");
  std::string parent = dirname_of(real);
  UniqueFd pfd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!pfd) return Error::from_errno(errno, "open `" + parent + "`");
  if (auto r = walk_tree_at(pfd.get(), basename_of(real), rootfs, v); !r)
    return std::move(r).error().context("shift ownership");
  COVE_TRY(write_file_atomic(record, want, 0644));
  stats.changed = sh.changed;
  return stats;
}

}  // namespace cove::rootfs
