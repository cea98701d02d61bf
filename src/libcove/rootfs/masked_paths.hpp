// Masked and read-only paths inside the container's rootfs (/proc and /sys entries that expose
// the host: /proc/kcore, /proc/sysrq-trigger, /sys/firmware, ...). Called by the child after
// proc and sys are mounted and before pivot_root, with the rootfs dirfd; paths are resolved
// with open_in_root (no symlink can redirect a mask to a host path). Missing paths are skipped.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"

namespace cove::rootfs {

// A file gets /dev/null bind-mounted over it, a directory an empty read-only tmpfs
// (`mount_context`, if any, becomes its SELinux `context=` option). All masked directories
// show the same tmpfs, whose superblock is read-only: each is a read-only, nosuid, nodev,
// noexec bind of it.
Result<void> mask_paths(int rootfd, const std::vector<std::string>& rels, const std::string& mount_context = "");
// Each path becomes a read-only (nosuid, nodev, noexec) bind mount of itself.
Result<void> make_paths_readonly(int rootfd, const std::vector<std::string>& rels);

}  // namespace cove::rootfs
