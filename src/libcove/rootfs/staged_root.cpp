#include "rootfs/staged_root.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "base/log.hpp"
#include "base/syscalls.hpp"

namespace cove::rootfs {

Result<std::string> StagedRoot::attach(const UniqueFd& tree, const std::string& path) {
  path_ = path;
  if (::mkdir(path_.c_str(), 0700) < 0 && errno != EEXIST) return Error::from_errno(errno, "create `" + path_ + "`");
  if (sys::move_mount(tree.get(), "", AT_FDCWD, path_.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return Error::from_errno(errno, "attach idmapped rootfs on `" + path_ + "`");
  mounted_ = true;
  return path_;
}

void StagedRoot::release() {
  if (mounted_ && ::umount2(path_.c_str(), MNT_DETACH) < 0) log::warn("detach `{}`: {}", path_, std::strerror(errno));
  mounted_ = false;
  if (!path_.empty()) ::rmdir(path_.c_str());
  path_.clear();
}

}  // namespace cove::rootfs
