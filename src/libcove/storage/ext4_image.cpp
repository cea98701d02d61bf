// ext4 images on loop devices: the loop backend's rootfs and an overlay's quota'd upper layer.
#include <fcntl.h>
#include <linux/loop.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "base/fs.hpp"
#include "base/run_program.hpp"
#include "storage/backends.hpp"
#include "storage/mount_api.hpp"

#ifndef EXT4_IOC_RESIZE_FS
#define EXT4_IOC_RESIZE_FS _IOW('f', 16, uint64_t)
#endif

namespace cove::storage {

Result<void> make_ext4_image(const std::string& image, uint64_t size) {
  UniqueFd fd(::open(image.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return Error::from_errno(errno, "create image `" + image + "`");
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) < 0) return Error::from_errno(errno, "size image `" + image + "`");
  fd.reset();
  // No quota feature (this kind of kernel may lack QFMT_V2). mkfs discards the file first (holes
  // read as zeros), so it marks the inode tables zeroed and no lazy-init thread writes them
  // later; the journal is not written either: the image stays sparse (~1 MB of 1 GB).
  auto r = run_checked_program({"mkfs.ext4", "-q", "-F", "-O", "^quota", "-E", "lazy_journal_init=1", "-m", "0", image});
  if (!r) return std::move(r).error().context("make ext4 on `" + image + "`");
  return {};
}

Result<UniqueFd> mount_ext4_image(const std::string& image, bool readonly, dev_t* disk) {
  auto loop = attach_loop(image, readonly);
  if (!loop) return std::move(loop).error();
  // `discard`: freed blocks become holes in the image again (the loop driver punches them), so
  // the image takes what the container stores now, not the most it ever stored.
  auto m = mount_detached("ext4", loop->path, readonly ? std::vector<std::string>{} : std::vector<std::string>{"discard"},
                          readonly);
  if (!m) return std::move(m).error().context("image `" + image + "`");
  if (disk) *disk = loop->dev;
  return m;  // the loop device goes with the mount (autoclear)
}

namespace {

bool has_sys_resource() {
  cap_t caps = cap_get_proc();
  if (!caps) return false;
  cap_flag_value_t v = CAP_CLEAR;
  cap_get_flag(caps, CAP_SYS_RESOURCE, CAP_EFFECTIVE, &v);
  cap_free(caps);
  return v == CAP_SET;
}

Result<void> grow_file(const std::string& image, uint64_t size) {
  struct stat st;
  if (::stat(image.c_str(), &st) < 0) return Error::from_errno(errno, "stat `" + image + "`");
  if (size < static_cast<uint64_t>(st.st_size))
    return Error::invalid("the image `" + image + "` is " + std::to_string(st.st_size >> 20) +
                          " MiB; shrinking is not supported");
  if (::truncate(image.c_str(), static_cast<off_t>(size)) < 0) return Error::from_errno(errno, "grow `" + image + "`");
  return {};
}

// Online: the loop device learns the new size, then ext4 grows through its mounted root.
Result<void> grow_online(const std::string& image, uint64_t size, pid_t init_pid) {
  if (!has_sys_resource())
    return Error(EPERM, "growing a mounted ext4 filesystem needs CAP_SYS_RESOURCE, which this host's root lacks: "
                        "stop the container and resize it then");
  std::string dev = loop_of_image(image);
  if (dev.empty()) return Error(ENOENT, "no loop device backs `" + image + "`");
  std::string root = "/proc/" + std::to_string(init_pid) + "/root";
  UniqueFd rootfd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!rootfd) return Error::from_errno(errno, "open the container's root");
  struct statfs sf;
  if (::fstatfs(rootfd.get(), &sf) < 0) return Error::from_errno(errno, "statfs the container's root");
  COVE_TRY(grow_file(image, size));
  UniqueFd loop(::open(dev.c_str(), O_RDONLY | O_CLOEXEC));
  if (!loop || ::ioctl(loop.get(), LOOP_SET_CAPACITY, 0) < 0) return Error::from_errno(errno, "resize `" + dev + "`");
  uint64_t blocks = size / static_cast<uint64_t>(sf.f_bsize);
  if (::ioctl(rootfd.get(), EXT4_IOC_RESIZE_FS, &blocks) < 0) return Error::from_errno(errno, "grow ext4 online");
  return {};
}

}  // namespace

Result<void> grow_ext4_image(const std::string& image, uint64_t size, pid_t init_pid) {
  if (init_pid > 0) return grow_online(image, size, init_pid);
  COVE_TRY(grow_file(image, size));
  // resize2fs wants a freshly checked filesystem; e2fsck -p exits 1 when it fixed something.
  auto fsck = run_program({"e2fsck", "-f", "-p", image});
  if (!fsck) return std::move(fsck).error();
  if (fsck->status > 1) return Error(EIO, "e2fsck `" + image + "` exited with status " + std::to_string(fsck->status) + ": " + fsck->err);
  auto r = run_checked_program({"resize2fs", image});
  if (!r) return std::move(r).error();
  return {};
}

}  // namespace cove::storage
