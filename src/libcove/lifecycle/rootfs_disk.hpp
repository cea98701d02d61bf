// `io.max = rootfs ...`: binding the symbolic device of [cgroup] io.max to the whole disk under
// the container's root filesystem, at start and for each live change. The disk comes from the
// storage backend when it knows it (a loop-backed rootfs: storage::RootfsTree::disk), else from
// the rootfs path (storage::disk_of_path). Called by the monitor before ContainerCgroups::apply.
#pragma once

#include <sys/types.h>

#include <string>

#include "base/result.hpp"
#include "cgroup/resources.hpp"

namespace cove::lifecycle {

// `limits` ready for the kernel: unchanged when no io.max entry names `rootfs`; else those
// entries bound to `rootfs_disk`. A `rootfs_disk` of 0 is first found from the path `rootfs`
// (and stored, so a later live change uses the same disk without looking again). Fails with an
// error naming io.max, the path and why (e.g. the rootfs is on tmpfs).
Result<cgroup::ResourceLimits> bind_rootfs_io(const cgroup::ResourceLimits& limits, dev_t& rootfs_disk,
                                              const std::string& rootfs);

}  // namespace cove::lifecycle
