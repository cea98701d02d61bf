#include "criu/image_files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "base/list_dir.hpp"
#include "base/log.hpp"

namespace cove::criu {

Result<ImageFiles> ImageFiles::open(const std::string& dir) {
  ImageFiles f;
  f.dir_ = dir;
  f.dir_fd_.reset(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!f.dir_fd_ || ::fstat(f.dir_fd_.get(), &f.dir_st_) < 0)
    return Error::from_errno(errno, "open image directory `" + dir + "`");
  auto names = list_dir(dir);
  if (!names) return std::move(names).error();
  for (const auto& n : *names) {
    UniqueFd fd(::openat(f.dir_fd_.get(), n.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    struct stat st;
    if (fd && ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode))
      f.files_.push_back({n, st.st_dev, st.st_ino, st.st_uid, st.st_gid, st.st_mode});
  }
  return f;
}

Result<void> ImageFiles::give_to(uid_t uid, gid_t gid) const {
  if (::fchown(dir_fd_.get(), uid, gid) < 0 || ::fchmod(dir_fd_.get(), 0711) < 0)
    return Error::from_errno(errno, "chown `" + dir_ + "`");
  for (const auto& e : files_) {
    UniqueFd fd = reopen(e);
    if (fd && (::fchown(fd.get(), uid, gid) < 0 || ::fchmod(fd.get(), 0644) < 0))
      return Error::from_errno(errno, "chown `" + dir_ + "/" + e.name + "`");
  }
  return {};
}

void ImageFiles::put_back() const {
  auto restore = [&](int fd, uid_t uid, gid_t gid, mode_t mode, const std::string& what) {
    if (::fchown(fd, uid, gid) < 0 || ::fchmod(fd, mode & 07777) < 0)
      log::warn("put back the owner of `{}`: {}", what, std::strerror(errno));
  };
  for (const auto& e : files_)
    if (UniqueFd fd = reopen(e)) restore(fd.get(), e.uid, e.gid, e.mode, dir_ + "/" + e.name);
  restore(dir_fd_.get(), dir_st_.st_uid, dir_st_.st_gid, dir_st_.st_mode, dir_);
}

UniqueFd ImageFiles::reopen(const Entry& e) const {
  UniqueFd fd(::openat(dir_fd_.get(), e.name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st;
  if (!fd || ::fstat(fd.get(), &st) < 0 || !S_ISREG(st.st_mode) || st.st_dev != e.dev || st.st_ino != e.ino)
    return UniqueFd();
  return fd;
}

}  // namespace cove::criu
