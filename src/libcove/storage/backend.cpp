#include "storage/backend.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include "base/dir.hpp"
#include "base/fs.hpp"
#include "base/run_program.hpp"
#include "ns/mapping_namespace.hpp"
#include "rootfs/ownership_shift.hpp"
#include "storage/backends.hpp"
#include "storage/disk_device.hpp"

namespace cove::storage {

Result<std::unique_ptr<Backend>> backend_for(config::StorageBackend kind) {
  switch (kind) {
    case config::StorageBackend::kDir: return make_dir_backend();
    case config::StorageBackend::kLoop: return make_loop_backend();
    case config::StorageBackend::kOverlay: return make_overlay_backend();
    case config::StorageBackend::kBtrfs: return make_btrfs_backend();
  }
  return Error::invalid("unknown storage backend");
}

Layout layout_of(const std::string& container_dir, const config::ContainerConfig& cfg) {
  Layout l;
  l.dir = container_dir;
  l.rootfs = cfg.rootfs;
  l.cfg = cfg.storage;
  if (!cfg.privileged) l.maps = IdMaps{cfg.uid_map, cfg.gid_map};
  return l;
}

Result<void> isolate_mounts() {
  static bool done = false;
  if (done) return {};
  if (::unshare(CLONE_NEWNS) < 0) return Error::from_errno(errno, "unshare the mount namespace");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) < 0)
    return Error::from_errno(errno, "make the mount namespace a slave of the host's");
  done = true;
  return {};
}

Result<UniqueFd> userns_for(const IdMaps& maps) { return ns::user_ns_with_maps(maps.uid, maps.gid); }

Result<void> copy_tree(const std::string& from, const std::string& to) {
  auto r = run_checked_program({"cp", "-a", "--reflink=auto", "--sparse=always", "--", from, to});
  if (!r) return std::move(r).error().context("copy `" + from + "` to `" + to + "`");
  return {};
}

namespace {

Result<void> add_bytes(int dirfd, dev_t dev, std::set<std::pair<dev_t, ino_t>>& seen, uint64_t& total) {
  auto dir = Dir::open_at(dirfd);
  if (!dir) return std::move(dir).error();
  auto names = dir->names();
  if (!names) return std::move(names).error();
  for (const auto& n : *names) {
    struct stat st;
    if (::fstatat(dirfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
    if (st.st_dev != dev) continue;
    if (st.st_nlink > 1 && !seen.insert({st.st_dev, st.st_ino}).second) continue;
    total += static_cast<uint64_t>(st.st_blocks) * 512;
    if (S_ISDIR(st.st_mode)) {
      UniqueFd sub(::openat(dirfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub) COVE_TRY(add_bytes(sub.get(), dev, seen, total));
    }
  }
  return {};
}

}  // namespace

Result<uint64_t> tree_bytes(const std::string& path) {
  UniqueFd root(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root) return Error::from_errno(errno, "open `" + path + "`");
  struct stat st;
  if (::fstat(root.get(), &st) < 0) return Error::from_errno(errno, "stat `" + path + "`");
  std::set<std::pair<dev_t, ino_t>> seen;
  uint64_t total = static_cast<uint64_t>(st.st_blocks) * 512;
  COVE_TRY(add_bytes(root.get(), st.st_dev, seen, total));
  return total;
}

Result<void> reshift_tree(const std::string& dir, const IdMaps& from, const IdMaps& to) {
  if (from.empty()) return {};
  IdMaps target = to.empty() ? IdMaps{{{0, 0, 65536}}, {{0, 0, 65536}}} : to;
  // shift_ownership shifts from the maps its record names (written here) to the ones given.
  std::string record = dir + ".shift-from";
  COVE_TRY(write_file(record, rootfs::format_shift_record({from.uid, from.gid}), 0600));
  auto r = rootfs::shift_ownership(dir, {target.uid, target.gid}, record);
  ::unlink(record.c_str());
  if (!r) return std::move(r).error().context("shift the ids of `" + dir + "`");
  return {};
}

// dir and btrfs: nothing to make; the disk is the filesystem's (none for tmpfs: io.max then
// says so if it names `rootfs`).
Result<PreparedRootfs> Backend::prepare(const Layout& l) {
  PreparedRootfs p;
  if (auto d = disk_of_path(l.rootfs)) p.disk = *d;
  return p;
}

Result<void> Backend::snapshot(const Layout& l, const std::string& snap_dir) {
  for (const auto& n : data_names(l))
    if (path_exists(l.dir + "/" + n)) COVE_TRY(copy_tree(l.dir + "/" + n, snap_dir + "/" + n));
  return {};
}

// The snapshot's copy is made beside the live data first, then swapped in by rename, so a
// failure (a full disk) leaves the container as it was.
Result<void> Backend::restore_snapshot(const Layout& l, const std::string& snap_dir) {
  auto names = data_names(l);
  for (const auto& n : names) {
    std::string tmp = l.dir + "/." + n + ".restoring";
    (void)remove_tree(tmp);
    if (path_exists(snap_dir + "/" + n)) COVE_TRY(copy_tree(snap_dir + "/" + n, tmp));
  }
  for (const auto& n : names) {
    std::string live = l.dir + "/" + n, tmp = l.dir + "/." + n + ".restoring", old = l.dir + "/." + n + ".old";
    (void)remove_tree(old);
    if (path_exists(live) && ::rename(live.c_str(), old.c_str()) < 0) return Error::from_errno(errno, "move `" + live + "` aside");
    if (path_exists(tmp) && ::rename(tmp.c_str(), live.c_str()) < 0) return Error::from_errno(errno, "restore `" + live + "`");
    COVE_TRY(remove_tree(old));
  }
  return {};
}

Result<void> Backend::destroy_snapshot(const Layout&, const std::string& snap_dir) { return remove_tree(snap_dir); }

Result<void> Backend::copy(const Layout& from, const Layout& to) {
  for (const auto& n : data_names(from)) {
    std::string src = from.dir + "/" + n, dst = to.dir + "/" + n;
    if (!path_exists(src)) continue;
    (void)remove_tree(dst);  // create()'s empty one
    COVE_TRY(copy_tree(src, dst));
  }
  return {};
}

}  // namespace cove::storage
