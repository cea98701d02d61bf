#include "storage/view.hpp"

#include <sys/mount.h>

#include "base/fs.hpp"
#include "base/log.hpp"

namespace cove::storage {

RootfsView::~RootfsView() {
  if (mounted && ::umount2(path.c_str(), MNT_DETACH) < 0) log::warn("unmount `{}`: {}", path, strerror(errno));
}

RootfsView::RootfsView(RootfsView&& o) noexcept : path(std::move(o.path)), shifted(std::move(o.shifted)), mounted(o.mounted) {
  o.mounted = false;
}

namespace {
std::string dirname_of(const std::string& p) {
  auto slash = p.rfind('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}
}  // namespace

Result<RootfsView> open_view(const std::string& container_dir, const config::ContainerConfig& cfg, bool writable) {
  (void)container_dir;
  (void)writable;
  RootfsView v;
  v.path = cfg.rootfs;
  // A rootfs shifted by `[idmap] rootfs = shift` records its maps next to it.
  if (auto text = read_file(dirname_of(cfg.rootfs) + "/.rootfs-shift")) {
    auto rec = rootfs::parse_shift_record(*text);
    if (!rec) return std::move(rec).error().context("shift record of `" + cfg.rootfs + "`");
    v.shifted = std::move(*rec);
  }
  return v;
}

}  // namespace cove::storage
