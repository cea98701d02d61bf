#include "storage/disk_device.hpp"

#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>
#include <cstdlib>
#include <filesystem>

#include "base/fs.hpp"
#include "base/mountinfo.hpp"
#include "base/strings.hpp"
#include "base/unique_fd.hpp"

namespace cove::storage {
namespace {

std::string q(const std::string& s) { return "`" + s + "`"; }

// "MAJ:MIN\n" as sysfs' `dev` files hold it.
Result<dev_t> read_dev_file(const std::string& file) {
  auto text = read_file(file);
  if (!text) return std::move(text).error();
  auto t = std::string(trim(*text));
  auto colon = t.find(':');
  auto ma = parse_uint(std::string_view(t).substr(0, colon));
  auto mi = colon == std::string::npos ? std::nullopt : parse_uint(std::string_view(t).substr(colon + 1));
  if (!ma || !mi || *ma > UINT32_MAX || *mi > UINT32_MAX)
    return Error::invalid(q(file) + " holds " + q(t) + ", not a device number MAJ:MIN");
  return ::makedev(static_cast<unsigned>(*ma), static_cast<unsigned>(*mi));
}

// mountinfo escapes space, tab, newline and backslash in options as \ooo.
std::string unescape_octal(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' &&
        s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The mountinfo line of the file system with device number `dev` (any of its mounts).
std::optional<MountInfo> mount_of(dev_t dev) {
  auto mounts = read_mountinfo("self");
  if (!mounts) return std::nullopt;
  std::string want = device_number_text(dev);
  for (auto& m : *mounts)
    if (m.device == want) return std::move(m);
  return std::nullopt;
}

// The one device of the btrfs holding `fd`: BTRFS_IOC_DEV_INFO gives its path (stat'ed for the
// number); when that path is stale (a renamed node), /sys/fs/btrfs/FSID/devices/NAME/dev.
Result<dev_t> btrfs_device(int fd, const std::string& path, const std::string& sysfs) {
  struct btrfs_ioctl_fs_info_args fs = {};
  if (::ioctl(fd, BTRFS_IOC_FS_INFO, &fs) < 0) return Error::from_errno(errno, "BTRFS_IOC_FS_INFO on " + q(path));
  if (fs.num_devices != 1)
    return Error(EINVAL, q(path) + " is on a btrfs over " + std::to_string(fs.num_devices) +
                             " devices; io.max limits one device: name it as MAJ:MIN or /dev/PATH instead");
  for (uint64_t id = 1; id <= fs.max_id; ++id) {
    auto dev = std::make_unique<struct btrfs_ioctl_dev_info_args>();
    *dev = {};
    dev->devid = id;
    if (::ioctl(fd, BTRFS_IOC_DEV_INFO, dev.get()) < 0) {
      if (errno == ENODEV) continue;
      return Error::from_errno(errno, "BTRFS_IOC_DEV_INFO on " + q(path));
    }
    std::string node(reinterpret_cast<const char*>(dev->path), strnlen(reinterpret_cast<const char*>(dev->path),
                                                                         sizeof dev->path));
    struct stat st;
    if (::stat(node.c_str(), &st) == 0 && S_ISBLK(st.st_mode)) return st.st_rdev;
    break;
  }
  char uuid[37];
  const unsigned char* u = fs.fsid;
  std::snprintf(uuid, sizeof uuid, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
                u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
  std::string devices = sysfs + "/fs/btrfs/" + uuid + "/devices";
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(devices, ec)) {
    auto d = read_dev_file(e.path().string() + "/dev");
    if (d) return *d;
  }
  return Error(ENODEV, "cannot find the device of the btrfs holding " + q(path) + " (neither BTRFS_IOC_DEV_INFO nor " +
                           q(devices) + " names one)");
}

}  // namespace

std::string device_number_text(dev_t dev) { return std::to_string(major(dev)) + ":" + std::to_string(minor(dev)); }

Result<dev_t> whole_disk(dev_t dev, const std::string& sysfs) {
  std::string node = sysfs + "/dev/block/" + device_number_text(dev);
  if (!path_exists(node))
    return Error(ENODEV, "device " + device_number_text(dev) + " is not a block device (no " + q(node) + ")");
  if (!path_exists(node + "/partition")) return dev;
  // dev/block/MAJ:MIN links to .../block/sda/sda1: the disk is the partition's parent.
  char real[PATH_MAX];
  if (!::realpath(node.c_str(), real)) return Error::from_errno(errno, "resolve " + q(node));
  auto disk = read_dev_file(dirname_of(real) + "/dev");
  if (!disk) return std::move(disk).error().context("the disk of partition " + device_number_text(dev));
  return *disk;
}

Result<dev_t> disk_of_path(const std::string& path, const std::string& sysfs) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) return Error::from_errno(errno, "open " + q(path));
  struct stat st;
  struct statfs sfs;
  if (::fstat(fd.get(), &st) < 0) return Error::from_errno(errno, "stat " + q(path));
  if (::fstatfs(fd.get(), &sfs) < 0) return Error::from_errno(errno, "statfs " + q(path));
  if (sfs.f_type == BTRFS_SUPER_MAGIC) {
    auto d = btrfs_device(fd.get(), path, sysfs);
    if (!d) return std::move(d).error();
    return whole_disk(*d, sysfs);
  }
  auto mount = mount_of(st.st_dev);
  if (sfs.f_type == OVERLAYFS_SUPER_MAGIC) {
    std::string upper;
    if (mount)
      for (const auto& o : split(mount->super_options, ','))
        if (starts_with(o, "upperdir=")) upper = unescape_octal(std::string_view(o).substr(9));
    if (upper.empty())
      return Error(ENODEV, q(path) + " is on an overlayfs without an upper directory in its mount options; name "
                                     "the device of its upper layer as MAJ:MIN instead");
    auto d = disk_of_path(upper, sysfs);
    if (!d) return std::move(d).error().context(q(path) + " is on an overlayfs with upper directory " + q(upper));
    return *d;
  }
  if (major(st.st_dev) != 0 && path_exists(sysfs + "/dev/block/" + device_number_text(st.st_dev)))
    return whole_disk(st.st_dev, sysfs);
  char magic[32];
  std::snprintf(magic, sizeof magic, "0x%lx", static_cast<unsigned long>(sfs.f_type));
  std::string type = mount ? q(mount->fstype) : "a file system of type " + std::string(magic);
  return Error(ENODEV, q(path) + " is on " + type + ", which has no block device for io.max");
}

}  // namespace cove::storage
