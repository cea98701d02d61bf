// LXCFS views for a container, the policy over rootfs/lxcfs.hpp: `[mount] lxcfs` decides which
// LXCFS mount, if any, a start binds from (auto: the default directory when LXCFS runs there,
// else none and a warning; off: none; PATH: that mount or a failed start), and where a restore
// binds dumped views from. Called by the monitor (start and restore) and by the checkpoint.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"
#include "config/container_config.hpp"
#include "rootfs/lxcfs.hpp"

namespace cove::lifecycle {

inline constexpr const char* kDefaultLxcfsDir = "/var/lib/lxcfs";

// $COVE_LXCFS_DIR when set (tests run a private LXCFS), else /var/lib/lxcfs.
std::string default_lxcfs_dir();

// The LXCFS directory `cfg` asks for: "" for none (off; auto without a running LXCFS, which is
// logged as a warning). A configured path that is not an LXCFS mount is an error naming the key.
Result<std::string> lxcfs_dir_for(const config::ContainerConfig& cfg);

// The views a start binds: those of lxcfs_dir_for() whose filesystem the container gets
// (/proc files only with a proc mount, /sys/devices/system/cpu only with sysfs).
Result<std::vector<rootfs::LxcfsView>> plan_lxcfs_views(const config::ContainerConfig& cfg);

// CRIU's key for the external mount of a view mounted at `mountpoint` ("/proc/meminfo").
std::string lxcfs_mount_key(const std::string& mountpoint);
bool is_lxcfs_mount_key(const std::string& key);

// Where a restore binds a dumped view mounted at `mountpoint` from, given lxcfs_dir_for(): the
// same file of that LXCFS, or without one the host's own file (the container then sees the
// host's values, as after a start without LXCFS).
std::string lxcfs_restore_source(const std::string& lxcfs_dir, const std::string& mountpoint);

}  // namespace cove::lifecycle
