// LXCFS views, the mechanism: whether a directory is an LXCFS mount, and which of its files
// stand in for a container's /proc and /sys files. Knows nothing of config: lifecycle/lxcfs.hpp
// decides whether a container gets them, child_setup binds them (read-only, before the masks).
// LXCFS lays its files out as the kernel does (DIR/proc/meminfo for /proc/meminfo), so a view's
// target is its path inside the LXCFS mount.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"

namespace cove::rootfs {

inline constexpr const char* kLxcfsFsType = "fuse.lxcfs";

struct LxcfsView {
  std::string source;  // host path inside the LXCFS mount, e.g. /var/lib/lxcfs/proc/meminfo
  std::string target;  // relative to the rootfs, e.g. proc/meminfo
};

// The filesystem type mounted on `dir` in our mount namespace (the topmost mount there), from
// mountinfo; ENOENT when nothing is mounted on `dir` itself.
Result<std::string> mounted_fstype(const std::string& dir);
// Every file of DIR/proc, and DIR/sys/devices/system/cpu as one directory, those that exist.
Result<std::vector<LxcfsView>> lxcfs_views(const std::string& dir);

}  // namespace cove::rootfs
