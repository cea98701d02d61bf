#include "rootfs/host_access.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <deque>
#include <fmt/format.h>

#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "base/syscalls.hpp"

namespace cove::rootfs {
namespace {

constexpr int kAppendFlags = O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
constexpr int kMaxSymlinks = 40;

// Root-owned, and neither others nor a non-root group may search it.
bool is_private_dir(const struct stat& st) {
  if (st.st_uid != 0 || (st.st_mode & S_IXOTH)) return false;
  return !(st.st_mode & S_IXGRP) || st.st_gid == 0;
}

Result<void> tighten_container_dir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "open `" + dir + "`");
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) return Error::from_errno(errno, "stat `" + dir + "`");
  if (st.st_uid != 0)
    return Error(EPERM, fmt::format("`{}` is owned by uid {}, not root: its owner could open the rootfs to anyone",
                                    dir, st.st_uid));
  if ((st.st_mode & 077) == 0) return {};
  if (::fchmod(fd.get(), 0700) < 0) return Error::from_errno(errno, "make `" + dir + "` mode 0700");
  log::warn("`{}` was mode {:04o}; made it 0700 so that host users cannot reach the rootfs", dir, st.st_mode & 07777);
  return {};
}

Result<void> check_unreachable(const std::string& rootfs) {
  char real[PATH_MAX];
  if (!::realpath(rootfs.c_str(), real)) return Error::from_errno(errno, "resolve rootfs `" + rootfs + "`");
  std::string dir = real;
  while (dir != "/") {
    dir = dirname_of(dir);
    struct stat st;
    if (::stat(dir.c_str(), &st) < 0) return Error::from_errno(errno, "stat `" + dir + "`");
    if (is_private_dir(st)) return {};
  }
  return Error(EACCES, fmt::format("rootfs `{}` can be reached by host users: no directory above it is private "
                                   "(root-owned, no search bit for others); keep it in the container's directory "
                                   "or make a directory above it mode 0700",
                                   rootfs));
}

bool same_file(int fd, const struct stat& want) {
  struct stat st;
  return ::fstat(fd, &st) == 0 && st.st_dev == want.st_dev && st.st_ino == want.st_ino;
}

Result<UniqueFd> checked_regular(UniqueFd fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) return Error::from_errno(errno, "stat `" + path + "`");
  if (!S_ISREG(st.st_mode)) return Error(EINVAL, "`" + path + "` is not a regular file");
  return fd;
}

// The rest of the path, from the rootfs directory on, as the container sees it.
Result<UniqueFd> open_in_rootfs(int rootfd, const std::deque<std::string>& rest, const std::string& path) {
  std::string rel = join(std::vector<std::string>(rest.begin(), rest.end()), "/");
  struct open_how how = {};
  how.flags = kAppendFlags;
  how.mode = 0600;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  UniqueFd fd(sys::openat2(rootfd, rel.c_str(), &how, sizeof how));
  if (!fd) return Error::from_errno(errno, "open `" + path + "` inside the rootfs");
  return checked_regular(std::move(fd), path);
}

void push_front_components(std::deque<std::string>& rest, const std::string& target) {
  auto parts = split(target, '/');
  for (auto it = parts.rbegin(); it != parts.rend(); ++it)
    if (!it->empty() && *it != ".") rest.push_front(*it);
}

}  // namespace

Result<void> protect_rootfs(const std::string& container_dir, const std::string& rootfs) {
  COVE_TRY(tighten_container_dir(container_dir));
  return check_unreachable(rootfs);
}

Result<UniqueFd> open_host_append(const std::string& path, const std::string& rootfs) {
  struct stat root_st = {};
  bool have_root = !rootfs.empty() && ::stat(rootfs.c_str(), &root_st) == 0;
  std::deque<std::string> rest;
  push_front_components(rest, absolute_path(path));
  UniqueFd cur(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!cur) return Error::from_errno(errno, "open `/`");
  int links = 0;
  // One component at a time with O_NOFOLLOW: a symlink outside the rootfs is the host's and is
  // followed by hand; once the walk stands on the rootfs, the rest is the container's.
  while (!rest.empty()) {
    if (have_root && same_file(cur.get(), root_st)) return open_in_rootfs(cur.get(), rest, path);
    std::string name = std::move(rest.front());
    rest.pop_front();
    UniqueFd next;
    if (rest.empty()) {
      next.reset(::openat(cur.get(), name.c_str(), kAppendFlags | O_NOFOLLOW, 0600));
      if (next) return checked_regular(std::move(next), path);
      if (errno != ELOOP) return Error::from_errno(errno, "open `" + path + "`");
    } else {
      next.reset(::openat(cur.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (!next) return Error::from_errno(errno, "open `" + path + "`");
      struct stat st;
      if (::fstat(next.get(), &st) < 0) return Error::from_errno(errno, "stat `" + path + "`");
      if (S_ISDIR(st.st_mode)) {
        cur = std::move(next);
        continue;
      }
      if (!S_ISLNK(st.st_mode)) return Error(ENOTDIR, "open `" + path + "`: `" + name + "` is not a directory");
    }
    if (++links > kMaxSymlinks) return Error(ELOOP, "open `" + path + "`: too many symlinks");
    char target[PATH_MAX];
    ssize_t n = ::readlinkat(cur.get(), name.c_str(), target, sizeof target - 1);
    if (n < 0) return Error::from_errno(errno, "read link `" + name + "` in `" + path + "`");
    target[n] = '\0';
    push_front_components(rest, target);
    if (target[0] == '/') {
      cur.reset(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!cur) return Error::from_errno(errno, "open `/`");
    }
  }
  return Error(EISDIR, "`" + path + "` is a directory");
}

}  // namespace cove::rootfs
