// Which block device a file system's I/O goes to, for `io.max = rootfs ...` ([cgroup]): the
// kernel's io.max and blkio.throttle.* take whole disks only (a partition is EINVAL), so a
// device is always widened to its disk. Reads sysfs (given as a root, so unit tests can pass a
// fake tree), statfs, mountinfo and btrfs' device ioctls; changes nothing. Callers: the monitor
// when it applies limits (the rootfs path, unless the storage backend already knows the disk,
// as a loop-backed rootfs does: storage::RootfsTree::disk).
#pragma once

#include <sys/types.h>

#include <string>

#include "base/result.hpp"

namespace cove::storage {

// The whole disk that block device `dev` belongs to: `dev` itself for a disk (sda, loop0,
// nvme0n1, dm-0), its parent for a partition (sysfs `dev/block/MAJ:MIN/partition`). Fails
// (ENODEV) when sysfs does not know `dev` as a block device.
Result<dev_t> whole_disk(dev_t dev, const std::string& sysfs = "/sys");

// The whole disk under the file system that holds `path`:
//  - a file system on a block device (ext4, xfs, ...): that device's disk;
//  - btrfs (an anonymous st_dev): its one device, from BTRFS_IOC_FS_INFO/BTRFS_IOC_DEV_INFO or
//    /sys/fs/btrfs/FSID/devices; a btrfs over several devices is an error (io.max names one);
//  - overlayfs: the disk of its upper directory (from the mount's `upperdir=`).
// Any other file system is an error naming the path and the type, e.g. "`/x` is on `tmpfs`,
// which has no block device for io.max".
Result<dev_t> disk_of_path(const std::string& path, const std::string& sysfs = "/sys");

// "MAJ:MIN".
std::string device_number_text(dev_t dev);

}  // namespace cove::storage
