#include "storage/mount_api.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "base/syscalls.hpp"

namespace cove::storage {
namespace {

// The fs context's messages ("e overlay: ...") after a failed fsconfig.
std::string context_log(int fs) {
  std::string out;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(fs, buf, sizeof buf - 1);
    if (n <= 0) break;
    std::string line(buf, static_cast<size_t>(n));
    if (line.size() > 2 && line[1] == ' ') line = line.substr(2);
    out += (out.empty() ? "" : "; ") + line;
  }
  return out;
}

Error fs_error(int err, int fs, const std::string& what) {
  std::string log = context_log(fs);
  return Error::from_errno(err, log.empty() ? what : what + " (" + log + ")");
}

Result<void> set_string(const UniqueFd& fs, const std::string& key, const std::string& value, const std::string& what) {
  const char* v = value.empty() ? nullptr : value.c_str();
  unsigned cmd = value.empty() ? FSCONFIG_SET_FLAG : FSCONFIG_SET_STRING;
  if (sys::fsconfig(fs.get(), cmd, key.c_str(), v, 0) < 0) return fs_error(errno, fs.get(), what + ": option `" + key + "`");
  return {};
}

Result<UniqueFd> finish(const UniqueFd& fs, bool readonly, const std::string& what) {
  if (sys::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0) return fs_error(errno, fs.get(), what);
  UniqueFd m(sys::fsmount(fs.get(), FSMOUNT_CLOEXEC, readonly ? MOUNT_ATTR_RDONLY : 0));
  if (!m) return Error::from_errno(errno, what + ": fsmount");
  return m;
}

}  // namespace

Result<UniqueFd> mount_detached(const std::string& fstype, const std::string& source,
                                const std::vector<std::string>& options, bool readonly) {
  std::string what = "mount " + fstype + (source.empty() ? "" : " `" + source + "`");
  UniqueFd fs(sys::fsopen(fstype.c_str(), FSOPEN_CLOEXEC));
  if (!fs) return Error::from_errno(errno, what + ": fsopen");
  if (!source.empty()) COVE_TRY(set_string(fs, "source", source, what));
  for (const auto& o : options) {
    auto eq = o.find('=');
    COVE_TRY(set_string(fs, o.substr(0, eq), eq == std::string::npos ? "" : o.substr(eq + 1), what));
  }
  if (readonly) COVE_TRY(set_string(fs, "ro", "", what));
  return finish(fs, readonly, what);
}

Result<UniqueFd> mount_overlay(const OverlayLayers& layers) {
  const std::string what = "mount overlay";
  UniqueFd fs(sys::fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fs) return Error::from_errno(errno, what + ": fsopen");
  auto set_fd = [&](const char* key, int fd) -> Result<void> {
    if (sys::fsconfig(fs.get(), FSCONFIG_SET_FD, key, nullptr, fd) < 0)
      return fs_error(errno, fs.get(), what + ": layer `" + key + "` (kernel 6.13 or later takes layers by fd)");
    return {};
  };
  COVE_TRY(set_string(fs, "source", "overlay", what));
  for (int fd : layers.lowers) COVE_TRY(set_fd("lowerdir+", fd));
  if (layers.upper >= 0) {
    COVE_TRY(set_fd("upperdir", layers.upper));
    COVE_TRY(set_fd("workdir", layers.work));
  }
  // The upper layer's inodes keep their numbers across remounts (checkpoint/restore compares
  // them) only with xino off and a single lower filesystem; `index=off` lets a lower be shared
  // by many overlays.
  COVE_TRY(set_string(fs, "index", "off", what));
  COVE_TRY(set_string(fs, "redirect_dir", "nofollow", what));
  return finish(fs, layers.upper < 0, what);
}

Result<UniqueFd> clone_path(const std::string& path) {
  UniqueFd tree(sys::open_tree(AT_FDCWD, path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
  if (!tree) return Error::from_errno(errno, "clone mount of `" + path + "`");
  return tree;
}

Result<void> idmap_tree(const UniqueFd& tree, int userns_fd, const std::string& what, bool recursive) {
  struct mount_attr attr = {};
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = static_cast<uint64_t>(userns_fd);
  if (sys::mount_setattr(tree.get(), "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr) < 0)
    return Error::from_errno(errno, "idmap mount of " + what + " (the filesystem must support idmapped mounts)");
  return {};
}

Result<void> attach_tree(const UniqueFd& tree, const std::string& path) {
  if (sys::move_mount(tree.get(), "", AT_FDCWD, path.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return Error::from_errno(errno, "attach mount on `" + path + "`");
  return {};
}

}  // namespace cove::storage
