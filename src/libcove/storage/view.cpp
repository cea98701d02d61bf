#include "storage/view.hpp"

#include <sys/mount.h>

#include "base/fs.hpp"
#include "base/log.hpp"
#include "storage/backend.hpp"

namespace cove::storage {

RootfsView::~RootfsView() {
  if (mounted && ::umount2(path.c_str(), MNT_DETACH) < 0) log::warn("unmount `{}`: {}", path, strerror(errno));
}

RootfsView::RootfsView(RootfsView&& o) noexcept : path(std::move(o.path)), shifted(std::move(o.shifted)), mounted(o.mounted) {
  o.mounted = false;
}

Result<RootfsView> open_view(const std::string& container_dir, const config::ContainerConfig& cfg, bool writable) {
  RootfsView v;
  v.path = cfg.rootfs;
  auto backend = backend_for(cfg.storage.backend);
  if (!backend) return std::move(backend).error();
  auto layout = layout_of(container_dir, cfg);
  if (cfg.storage.backend != config::StorageBackend::kDir && cfg.storage.backend != config::StorageBackend::kBtrfs) {
    COVE_TRY(isolate_mounts());
    auto mounted = (*backend)->mount_view(layout, writable);
    if (!mounted) return std::move(mounted).error().context("mount the rootfs of `" + container_dir + "`");
    v.mounted = *mounted;
  }
  if ((*backend)->view_is_shifted(layout)) {
    v.shifted = rootfs::ShiftRecord{layout.maps.uid, layout.maps.gid};
  } else if (auto text = read_file(dirname_of(cfg.rootfs) + "/.rootfs-shift")) {
    // A rootfs shifted by `[idmap] rootfs = shift` records its maps next to it.
    auto rec = rootfs::parse_shift_record(*text);
    if (!rec) return std::move(rec).error().context("shift record of `" + cfg.rootfs + "`");
    v.shifted = std::move(*rec);
  }
  return v;
}

}  // namespace cove::storage
