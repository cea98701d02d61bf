// backend `loop`: an ext4 filesystem in the sparse image PATH/NAME/rootfs.img. Its size is the
// quota `df` shows inside; a full disk is ENOSPC inside only.
#include <sys/stat.h>

#include "base/fs.hpp"
#include "storage/backends.hpp"
#include "storage/mount_api.hpp"

namespace cove::storage {
namespace {

class LoopBackend : public Backend {
 public:
  config::StorageBackend kind() const override { return config::StorageBackend::kLoop; }
  Result<void> create(const Layout& l) override {
    if (!l.cfg.size) return Error::invalid("backend `loop` needs [rootfs] size");
    COVE_TRY(mkdir_p(l.rootfs, 0755));
    return make_ext4_image(l.image(), *l.cfg.size);
  }
  Result<PreparedRootfs> prepare(const Layout& l) override {
    PreparedRootfs p;
    auto m = mount_ext4_image(l.image(), false, &p.disk);
    if (!m) return std::move(m).error();
    p.mount = std::move(*m);
    return p;
  }
  // The ext4 mount was never attached: it can be idmapped itself.
  Result<RootfsTree> open_tree(const Layout& l, int userns_fd, PreparedRootfs& prepared) override {
    if (!prepared.mount) {  // consumed by an earlier boot (a reboot): again
      auto again = prepare(l);
      if (!again) return std::move(again).error();
      prepared = std::move(*again);
    }
    if (userns_fd >= 0) COVE_TRY(idmap_tree(prepared.mount, userns_fd, "image `" + l.image() + "`"));
    return RootfsTree{std::move(prepared.mount), prepared.disk};
  }
  Result<bool> mount_view(const Layout& l, bool writable) override {
    auto m = mount_ext4_image(l.image(), !writable, nullptr);
    if (!m) return std::move(m).error();
    COVE_TRY(attach_tree(*m, l.rootfs));
    return true;
  }
  Result<void> resize(const Layout& l, uint64_t size, pid_t init_pid) override {
    return grow_ext4_image(l.image(), size, init_pid);
  }
  Result<uint64_t> used_bytes(const Layout& l) override {
    struct stat st;
    if (::stat(l.image().c_str(), &st) < 0) return Error::from_errno(errno, "stat `" + l.image() + "`");
    return static_cast<uint64_t>(st.st_blocks) * 512;
  }

 protected:
  std::vector<std::string> data_names(const Layout&) const override { return {"rootfs.img"}; }
};

}  // namespace

std::unique_ptr<Backend> make_loop_backend() { return std::make_unique<LoopBackend>(); }

}  // namespace cove::storage
