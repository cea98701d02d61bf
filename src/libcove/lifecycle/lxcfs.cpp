#include "lifecycle/lxcfs.hpp"

#include <dirent.h>

#include <cstdlib>
#include <cstring>

#include "base/log.hpp"
#include "base/strings.hpp"

namespace cove::lifecycle {

namespace {

using Mode = config::LxcfsSetting::Mode;

std::string where_set(const config::ContainerConfig& cfg) {
  auto it = cfg.origin.find("mount.lxcfs");
  return it == cfg.origin.end() ? "" : it->second + ": ";
}

// A working LXCFS on `dir`, or why there is none (for messages). A mount whose daemon ended
// (killed: nothing unmounted it) does not count: every lookup in it fails with ENOTCONN.
Result<void> check_working_lxcfs(const std::string& dir) {
  auto fstype = rootfs::mounted_fstype(dir);
  if (!fstype) return std::move(fstype).error();
  if (*fstype != rootfs::kLxcfsFsType) return Error::invalid("`" + *fstype + "` is mounted there");
  // Read, not stat: the kernel answers a stat from FUSE's attribute cache for a while after
  // the daemon died (a start right after another lookup passed the check, then failed).
  // Opening and reading the directory always asks the daemon.
  errno = 0;
  DIR* d = ::opendir((dir + "/proc").c_str());
  if (d) {
    (void)::readdir(d);
    int read_err = errno;
    ::closedir(d);
    errno = read_err;
  }
  if (!d || errno != 0) {
    int err = errno ? errno : EIO;
    return Error(err, std::string("the LXCFS mounted there does not answer (") + std::strerror(err) +
                          "): its daemon has ended; unmount it and start LXCFS again");
  }
  return {};
}

}  // namespace

std::string default_lxcfs_dir() {
  const char* env = std::getenv("COVE_LXCFS_DIR");
  return env && *env ? std::string(env) : std::string(kDefaultLxcfsDir);
}

Result<std::string> lxcfs_dir_for(const config::ContainerConfig& cfg) {
  const auto& s = cfg.lxcfs;
  if (s.mode == Mode::kOff) return std::string();
  std::string dir = s.mode == Mode::kPath ? s.path : default_lxcfs_dir();
  auto working = check_working_lxcfs(dir);
  if (working) return dir;
  const std::string& found = working.error().message();
  if (s.mode == Mode::kPath)
    return Error::invalid(where_set(cfg) + "[mount] lxcfs = " + s.path + ": `" + dir + "` is not a working LXCFS (" +
                          rootfs::kLxcfsFsType + ") mount: " + found +
                          " (allowed: auto, off, or the directory of a running LXCFS, such as " + kDefaultLxcfsDir +
                          "; start one with `scripts/lxcfs-service start`)");
  log::warn("lxcfs is not running at {} ({}): /proc/meminfo, /proc/cpuinfo, /proc/stat, /proc/uptime, "
            "/proc/loadavg, /proc/swaps, /proc/diskstats and /sys/devices/system/cpu in `{}` show the host's "
            "values; start it with `lxcfs {}` (scripts/lxcfs-service start), or set `[mount] lxcfs = off`",
            dir, found, cfg.name, dir);
  return std::string();
}

Result<std::vector<rootfs::LxcfsView>> plan_lxcfs_views(const config::ContainerConfig& cfg) {
  auto dir = lxcfs_dir_for(cfg);
  if (!dir) return std::move(dir).error();
  if (dir->empty()) return std::vector<rootfs::LxcfsView>{};
  auto views = rootfs::lxcfs_views(*dir);
  if (!views && cfg.lxcfs.mode == Mode::kAuto) {
    // It answered a moment ago: it has just ended. auto never fails a start for it.
    log::warn("lxcfs at {} stopped answering ({}): `{}` starts without it", *dir, views.error().message(), cfg.name);
    return std::vector<rootfs::LxcfsView>{};
  }
  if (!views) return std::move(views).error();
  using config::AutoMountMode;
  std::erase_if(*views, [&](const rootfs::LxcfsView& v) {
    if (starts_with(v.target, "proc/")) return cfg.auto_mounts.proc == AutoMountMode::kNone;
    return cfg.auto_mounts.sys == AutoMountMode::kNone;
  });
  return views;
}

std::string lxcfs_mount_key(const std::string& mountpoint) {
  std::string key = "lxcfs";
  for (char c : mountpoint) key += (c == '/' ? '-' : c);
  return key;
}

bool is_lxcfs_mount_key(const std::string& key) { return starts_with(key, "lxcfs-"); }

std::string lxcfs_restore_source(const std::string& lxcfs_dir, const std::string& mountpoint) {
  return lxcfs_dir.empty() ? mountpoint : lxcfs_dir + mountpoint;
}

}  // namespace cove::lifecycle
