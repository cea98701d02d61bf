#include "base/dir.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "base/unique_fd.hpp"

namespace cove {

Result<Dir> Dir::open(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (!d) return Error::from_errno(errno, "open directory `" + path + "`");
  return Dir(d);
}

Result<Dir> Dir::open_at(int dirfd) {
  UniqueFd fd(::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "open directory");
  DIR* d = ::fdopendir(fd.get());
  if (!d) return Error::from_errno(errno, "open directory");
  fd.release();  // the DIR* owns it now
  return Dir(d);
}

void Dir::Iterator::advance() {
  if (!dir_) return;
  for (;;) {
    errno = 0;
    const struct dirent* e = ::readdir(dir_->dir_.get());
    if (!e) {
      dir_->error_ = errno;
      dir_ = nullptr;
      return;
    }
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    entry_ = DirEntry{name, e->d_type};
    return;
  }
}

Result<std::vector<std::string>> Dir::names() {
  std::vector<std::string> out;
  for (const DirEntry& e : *this) out.emplace_back(e.name);
  if (error_) return Error::from_errno(error_, "read directory");
  return out;
}

}  // namespace cove
