#include "base/fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

namespace cove {

Result<std::string> read_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "open `" + path + "`");
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno(errno, "read `" + path + "`");
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

static Result<void> write_all(int fd, const std::string& data, const std::string& path) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno(errno, "write `" + path + "`");
    }
    off += static_cast<size_t>(n);
  }
  return {};
}

Result<void> write_existing(const std::string& path, const std::string& data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "open `" + path + "`");
  ssize_t n = ::write(fd.get(), data.data(), data.size());
  if (n < 0) return Error::from_errno(errno, "write `" + path + "`");
  if (static_cast<size_t>(n) != data.size()) return Error(EIO, "short write to `" + path + "`");
  return {};
}

Result<void> write_file(const std::string& path, const std::string& data, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) return Error::from_errno(errno, "create `" + path + "`");
  return write_all(fd.get(), data, path);
}

Result<void> write_file_atomic(const std::string& path, const std::string& data, mode_t mode,
                               Durability durability) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (!fd) return Error::from_errno(errno, "create `" + tmp + "`");
    if (auto r = write_all(fd.get(), data, tmp); !r) {
      ::unlink(tmp.c_str());
      return r;
    }
    if (durability == Durability::kDurable) ::fsync(fd.get());
  }
  if (::rename(tmp.c_str(), path.c_str()) < 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return Error::from_errno(e, "rename to `" + path + "`");
  }
  return {};
}

Result<void> mkdir_p(const std::string& path, mode_t mode) {
  if (path.empty()) return {};
  std::string cur;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || (path[i] == '/' && i > 0)) {
      cur = path.substr(0, i);
      if (::mkdir(cur.c_str(), mode) < 0 && errno != EEXIST) return Error::from_errno(errno, "mkdir `" + cur + "`");
    }
  }
  if (!is_directory(path)) return Error(ENOTDIR, "`" + path + "` is not a directory");
  return {};
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

static Result<void> remove_tree_at(int parentfd, const std::string& name, dev_t dev, const std::string& shown) {
  struct stat st;
  if (::fstatat(parentfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) return {};
    return Error::from_errno(errno, "stat `" + shown + "`");
  }
  if (S_ISDIR(st.st_mode)) {
    if (st.st_dev != dev) return Error(EBUSY, "`" + shown + "` is a mount point of another filesystem; not removing it");
    int fd = ::openat(parentfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Error::from_errno(errno, "open `" + shown + "`");
    DIR* d = ::fdopendir(fd);
    if (!d) {
      ::close(fd);
      return Error::from_errno(errno, "opendir `" + shown + "`");
    }
    Result<void> res;
    while (struct dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n == "." || n == "..") continue;
      res = remove_tree_at(::dirfd(d), n, dev, shown + "/" + n);
      if (!res) break;
    }
    ::closedir(d);
    if (!res) return res;
    if (::unlinkat(parentfd, name.c_str(), AT_REMOVEDIR) < 0 && errno != ENOENT)
      return Error::from_errno(errno, "rmdir `" + shown + "`");
    return {};
  }
  if (::unlinkat(parentfd, name.c_str(), 0) < 0 && errno != ENOENT)
    return Error::from_errno(errno, "unlink `" + shown + "`");
  return {};
}

Result<void> remove_tree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) < 0) {
    if (errno == ENOENT) return {};
    return Error::from_errno(errno, "stat `" + path + "`");
  }
  std::string parent = dirname_of(path);
  UniqueFd pfd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!pfd) return Error::from_errno(errno, "open `" + parent + "`");
  return remove_tree_at(pfd.get(), basename_of(path), st.st_dev, path);
}

std::string dirname_of(const std::string& path) {
  auto p = std::filesystem::path(path).parent_path().string();
  return p.empty() ? "." : p;
}

std::string basename_of(const std::string& path) { return std::filesystem::path(path).filename().string(); }

std::string absolute_path(const std::string& path) {
  return std::filesystem::absolute(path).lexically_normal().string();
}

}  // namespace cove
