#include "lifecycle/rootfs_disk.hpp"

#include <sys/sysmacros.h>

#include "base/log.hpp"
#include "storage/disk_device.hpp"

namespace cove::lifecycle {

Result<cgroup::ResourceLimits> bind_rootfs_io(const cgroup::ResourceLimits& limits, dev_t& rootfs_disk,
                                              const std::string& rootfs) {
  if (!cgroup::names_rootfs_disk(limits)) return limits;
  if (rootfs_disk == 0) {
    auto disk = storage::disk_of_path(rootfs);
    if (!disk) return std::move(disk).error().context("io.max `rootfs`: find the disk of the rootfs");
    rootfs_disk = *disk;
    log::debug("io.max `rootfs`: the rootfs `{}` is on disk {}", rootfs, storage::device_number_text(rootfs_disk));
  }
  return cgroup::bind_rootfs_disk(limits, major(rootfs_disk), minor(rootfs_disk));
}

}  // namespace cove::lifecycle
