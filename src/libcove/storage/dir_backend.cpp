// backend `dir`: the rootfs is the directory itself (cove's original and LXC's default).
#include <sys/stat.h>

#include "base/fs.hpp"
#include "storage/backends.hpp"
#include "storage/mount_api.hpp"

namespace cove::storage {
namespace {

class DirBackend : public Backend {
 public:
  config::StorageBackend kind() const override { return config::StorageBackend::kDir; }
  Result<void> create(const Layout& l) override { return mkdir_p(l.rootfs, 0755); }
  Result<RootfsTree> open_tree(const Layout& l, int userns_fd, PreparedRootfs& prepared) override {
    auto tree = clone_path(l.rootfs);
    if (!tree) return std::move(tree).error();
    if (userns_fd >= 0) COVE_TRY(idmap_tree(*tree, userns_fd, "`" + l.rootfs + "`"));
    return RootfsTree{std::move(*tree), prepared.disk};
  }
  Result<bool> mount_view(const Layout&, bool) override { return false; }
  Result<void> resize(const Layout&, uint64_t, pid_t) override {
    return Error(ENOTSUP, "backend `dir` has no quota to grow (use loop, btrfs or an overlay with `size`)");
  }
  Result<uint64_t> used_bytes(const Layout& l) override { return tree_bytes(l.rootfs); }

 protected:
  std::vector<std::string> data_names(const Layout&) const override { return {"rootfs"}; }
};

}  // namespace

std::unique_ptr<Backend> make_dir_backend() { return std::make_unique<DirBackend>(); }

}  // namespace cove::storage
