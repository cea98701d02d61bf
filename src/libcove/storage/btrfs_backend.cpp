// backend `btrfs`: the rootfs is a btrfs subvolume (the cove path must be on btrfs), its quota
// a qgroup limit (grown online), its snapshots and clones subvolume snapshots that share
// extents until written.
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "base/fs.hpp"
#include "base/list_dir.hpp"
#include "base/run_program.hpp"
#include "storage/backends.hpp"
#include "storage/mount_api.hpp"

namespace cove::storage {
namespace {

Result<void> btrfs(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"btrfs"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_checked_program(argv);
  if (!r) return std::move(r).error();
  return {};
}

Result<void> require_btrfs(const std::string& dir) {
  struct statfs sf;
  if (::statfs(dir.c_str(), &sf) < 0) return Error::from_errno(errno, "statfs `" + dir + "`");
  if (sf.f_type != BTRFS_SUPER_MAGIC)
    return Error(ENOTSUP, "backend `btrfs` needs the cove path on a btrfs filesystem; `" + dir + "` is not on btrfs");
  return {};
}

bool is_subvolume(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_ino == 256;
}

Result<void> limit(const std::string& subvol, const std::optional<uint64_t>& size) {
  if (!size) return {};
  // Quotas are a property of the whole filesystem; enabling them again is harmless.
  COVE_TRY(btrfs({"quota", "enable", subvol}));
  return btrfs({"qgroup", "limit", std::to_string(*size), subvol});
}

// Subvolumes nested anywhere below `dir` (a container's root may make some: creating one
// needs no privilege), which `subvolume delete` of the outer one refuses to remove.
void find_nested(const std::string& dir, dev_t dev, std::vector<std::string>& out, int depth) {
  if (depth > 64) return;
  auto names = list_dir(dir);
  if (!names) return;
  for (const auto& n : *names) {
    std::string p = dir + "/" + n;
    struct stat st;
    if (::lstat(p.c_str(), &st) < 0 || !S_ISDIR(st.st_mode)) continue;
    if (st.st_dev != dev && st.st_ino == 256) out.push_back(p);
    else if (st.st_dev == dev) find_nested(p, dev, out, depth + 1);
  }
}

Result<void> delete_subvolume(const std::string& path) {
  if (!is_subvolume(path)) return remove_tree(path);
  if (btrfs({"subvolume", "delete", "--commit-after", path})) return {};
  struct stat st;
  if (::lstat(path.c_str(), &st) < 0) return Error::from_errno(errno, "stat `" + path + "`");
  std::vector<std::string> nested;
  find_nested(path, st.st_dev, nested, 0);
  for (const auto& n : nested) COVE_TRY(delete_subvolume(n));
  return btrfs({"subvolume", "delete", "--commit-after", path});
}

class BtrfsBackend : public Backend {
 public:
  config::StorageBackend kind() const override { return config::StorageBackend::kBtrfs; }
  Result<void> create(const Layout& l) override {
    COVE_TRY(require_btrfs(l.dir));
    if (is_directory(l.rootfs)) COVE_TRY(remove_tree(l.rootfs));
    COVE_TRY(btrfs({"subvolume", "create", l.rootfs}));
    return limit(l.rootfs, l.cfg.size);
  }
  Result<RootfsTree> open_tree(const Layout& l, int userns_fd, PreparedRootfs& prepared) override {
    auto tree = clone_path(l.rootfs);
    if (!tree) return std::move(tree).error();
    if (userns_fd >= 0) COVE_TRY(idmap_tree(*tree, userns_fd, "subvolume `" + l.rootfs + "`"));
    return RootfsTree{std::move(*tree), prepared.disk};
  }
  Result<bool> mount_view(const Layout&, bool) override { return false; }
  Result<void> destroy(const Layout& l) override {
    if (is_directory(l.snapshots_dir())) {
      auto names = list_dir(l.snapshots_dir());
      if (names)
        for (const auto& n : *names) COVE_TRY(delete_subvolume(l.snapshots_dir() + "/" + n + "/rootfs"));
    }
    return delete_subvolume(l.rootfs);
  }
  Result<void> resize(const Layout& l, uint64_t size, pid_t) override { return limit(l.rootfs, size); }
  Result<uint64_t> used_bytes(const Layout& l) override { return tree_bytes(l.rootfs); }

  Result<void> snapshot(const Layout& l, const std::string& snap_dir) override {
    return btrfs({"subvolume", "snapshot", "-r", l.rootfs, snap_dir + "/rootfs"});
  }
  Result<void> restore_snapshot(const Layout& l, const std::string& snap_dir) override {
    std::string tmp = l.dir + "/.rootfs.restoring";
    if (path_exists(tmp)) COVE_TRY(delete_subvolume(tmp));
    COVE_TRY(btrfs({"subvolume", "snapshot", snap_dir + "/rootfs", tmp}));
    COVE_TRY(limit(tmp, l.cfg.size));
    std::string old = l.dir + "/.rootfs.old";
    if (::rename(l.rootfs.c_str(), old.c_str()) < 0) return Error::from_errno(errno, "move `" + l.rootfs + "` aside");
    if (::rename(tmp.c_str(), l.rootfs.c_str()) < 0) return Error::from_errno(errno, "restore `" + l.rootfs + "`");
    return delete_subvolume(old);
  }
  Result<void> destroy_snapshot(const Layout&, const std::string& snap_dir) override {
    COVE_TRY(delete_subvolume(snap_dir + "/rootfs"));
    return remove_tree(snap_dir);
  }
  Result<void> copy(const Layout& from, const Layout& to) override {
    // A writable snapshot is a full copy as far as anyone can tell, in O(1).
    if (is_subvolume(to.rootfs)) COVE_TRY(delete_subvolume(to.rootfs));
    COVE_TRY(btrfs({"subvolume", "snapshot", from.rootfs, to.rootfs}));
    return limit(to.rootfs, to.cfg.size);
  }

 protected:
  std::vector<std::string> data_names(const Layout&) const override { return {"rootfs"}; }
};

}  // namespace

std::unique_ptr<Backend> make_btrfs_backend() { return std::make_unique<BtrfsBackend>(); }

}  // namespace cove::storage
