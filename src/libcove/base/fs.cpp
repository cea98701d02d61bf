#include "base/fs.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "base/clock.hpp"
#include "base/dir.hpp"

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

namespace {
const char* file_type_name(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISLNK(m)) return "a symlink";
  return "not a regular file";
}
}  // namespace

Result<std::string> read_regular_file(const std::string& path, size_t max_size) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOCTTY: a terminal must not
  // become ours. Neither changes how a regular file reads.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "open `" + path + "`");
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) return Error::from_errno(errno, "stat `" + path + "`");
  if (!S_ISREG(st.st_mode))
    return Error(EINVAL, "`" + path + "` is " + file_type_name(st.st_mode) + ", not a regular file");
  auto too_big = [&] {
    return Error(EFBIG, fmt::format("`{}` is larger than {} bytes (the limit for this file)", path, max_size));
  };
  if (static_cast<uint64_t>(st.st_size) > max_size) return too_big();
  std::string out;
  char buf[8192];
  for (;;) {  // the file may grow after fstat: the bound holds for what is read
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno(errno, "read `" + path + "`");
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_size) return too_big();
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

Result<void> append_file(const std::string& path, const std::string& data, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, mode));
  if (!fd) return Error::from_errno(errno, "open `" + path + "`");
  return write_all(fd.get(), data, path);
}

namespace {

// `tmp` replaces `path`. A volatile file is swapped with the one it replaces (renameat2
// RENAME_EXCHANGE), whose content then goes with the temporary name: ext4 (auto_da_alloc)
// starts writing out a file that replaces another through rename(2), to spare a crash a
// zero-length file, which cost every runtime-state record ~160 us where /run is on a disk
// (270 against 110 us here). A durable file was synced already and takes the plain rename.
Result<void> move_into_place(const std::string& tmp, const std::string& path, Durability durability) {
  if (durability == Durability::kVolatile &&
      ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_EXCHANGE) == 0) {
    if (::unlink(tmp.c_str()) < 0) return Error::from_errno(errno, "remove `" + tmp + "` (the replaced content)");
    return {};
  }
  // Not swapped (nothing to replace yet, or a filesystem without the exchange): renamed.
  if (::rename(tmp.c_str(), path.c_str()) < 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return Error::from_errno(e, "rename to `" + path + "`");
  }
  return {};
}

}  // namespace

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
    // A durable write that did not reach the disk must not replace the old file as if it had.
    if (durability == Durability::kDurable && ::fsync(fd.get()) < 0) {
      int e = errno;
      ::unlink(tmp.c_str());
      return Error::from_errno(e, "sync `" + tmp + "`");
    }
  }
  return move_into_place(tmp, path, durability);
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

bool kernel_has_time_ns() {
  static const bool has = path_exists("/proc/self/ns/time");
  return has;
}

bool is_directory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

namespace {

// One directory on the way down: how to find it again from its parent (name, device, inode)
// and the subdirectories still to visit.
struct Level {
  std::string name;
  dev_t dev;
  ino_t ino;
  std::string shown;
  bool listed = false;
  std::vector<std::string> subdirs;
};

// Lists `dirfd`: calls `visit` on every entry that is not a directory and queues the
// directories (which must be on `dev`: another filesystem is a mount point, not ours to touch).
Result<void> list_level(int dirfd, Level& lv, dev_t dev, const TreeVisitor& visit) {
  auto d = Dir::open_at(dirfd);
  if (!d) return Error::from_errno(d.error().code(), "open `" + lv.shown + "`");
  auto names = d->names();
  if (!names) return Error::from_errno(names.error().code(), "read `" + lv.shown + "`");
  for (auto& n : *names) {
    struct stat st;
    if (::fstatat(dirfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT) continue;
      return Error::from_errno(errno, "stat `" + lv.shown + "/" + n + "`");
    }
    if (S_ISDIR(st.st_mode)) {
      if (st.st_dev != dev && visit.skip_other_filesystems) continue;
      if (st.st_dev != dev)
        return Error(EBUSY, "`" + lv.shown + "/" + n + "` is a mount point of another filesystem; not going into it");
      lv.subdirs.push_back(std::move(n));
      continue;
    }
    COVE_TRY(visit.file(dirfd, n, st, lv.shown + "/" + n));
  }
  std::reverse(lv.subdirs.begin(), lv.subdirs.end());  // visited from the back, in listing order
  return {};
}

// Opens directory `name` in `dirfd` without following a symlink, checking it is the one stat'ed.
Result<UniqueFd> open_level(int dirfd, const std::string& name, const struct stat& want, const std::string& shown) {
  UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "open `" + shown + "`");
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) return Error::from_errno(errno, "stat `" + shown + "`");
  if (st.st_dev != want.st_dev || st.st_ino != want.st_ino)
    return Error(EAGAIN, "`" + shown + "` was replaced while walking the tree");
  return fd;
}

// The parent of `cur` through "..", which must be the directory we came down from (a tree
// moved meanwhile, or a bind mount of the same filesystem, would lead elsewhere).
Result<UniqueFd> open_parent(int cur, const Level& parent) {
  UniqueFd fd(::openat(cur, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "open the parent of `" + parent.shown + "`'s child");
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) return Error::from_errno(errno, "stat `" + parent.shown + "`");
  if (st.st_dev != parent.dev || st.st_ino != parent.ino)
    return Error(EAGAIN, "`" + parent.shown + "` was moved while walking the tree");
  return fd;
}

}  // namespace

Result<void> walk_tree_at(int parentfd, const std::string& name, const std::string& shown, const TreeVisitor& visit) {
  struct stat st;
  if (::fstatat(parentfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0)
    return Error::from_errno(errno, "stat `" + shown + "`");
  if (!S_ISDIR(st.st_mode)) return visit.file(parentfd, name, st, shown);
  const dev_t dev = st.st_dev;
  auto top = open_level(parentfd, name, st, shown);
  if (!top) return std::move(top).error();
  UniqueFd cur = std::move(*top);
  // Only `cur` and `parentfd` stay open: going up is openat(cur, "..") checked against the
  // device and inode recorded on the way down, so depth costs memory, not descriptors.
  std::vector<Level> stack;
  stack.push_back(Level{name, st.st_dev, st.st_ino, shown, false, {}});
  while (!stack.empty()) {
    Level& lv = stack.back();
    if (!lv.listed) {
      COVE_TRY(list_level(cur.get(), lv, dev, visit));
      lv.listed = true;
    }
    if (!lv.subdirs.empty()) {
      std::string n = std::move(lv.subdirs.back());
      lv.subdirs.pop_back();
      std::string child_shown = lv.shown + "/" + n;
      struct stat cst;
      if (::fstatat(cur.get(), n.c_str(), &cst, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT) continue;
        return Error::from_errno(errno, "stat `" + child_shown + "`");
      }
      if (!S_ISDIR(cst.st_mode)) {  // replaced since the listing
        COVE_TRY(visit.file(cur.get(), n, cst, child_shown));
        continue;
      }
      if (cst.st_dev != dev && visit.skip_other_filesystems) continue;
      if (cst.st_dev != dev)
        return Error(EBUSY, "`" + child_shown + "` is a mount point of another filesystem; not going into it");
      auto child = open_level(cur.get(), n, cst, child_shown);
      if (!child) return std::move(child).error();
      cur = std::move(*child);
      stack.push_back(Level{n, cst.st_dev, cst.st_ino, child_shown, false, {}});
      continue;
    }
    // Every entry below is done.
    UniqueFd up;
    int up_fd = parentfd;
    if (stack.size() > 1) {
      auto p = open_parent(cur.get(), stack[stack.size() - 2]);
      if (!p) return std::move(p).error();
      up = std::move(*p);
      up_fd = up.get();
    }
    auto done = visit.dir_done(up_fd, lv.name, cur.get(), lv.shown);
    if (!done) return std::move(done).error();
    if (!*done) {  // something appeared meanwhile: list again
      lv.listed = false;
      continue;
    }
    stack.pop_back();
    if (up) cur = std::move(up);
  }
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
  TreeVisitor v;
  v.file = [](int dirfd, const std::string& n, const struct stat&, const std::string& shown) -> Result<void> {
    if (::unlinkat(dirfd, n.c_str(), 0) < 0 && errno != ENOENT) return Error::from_errno(errno, "unlink `" + shown + "`");
    return {};
  };
  v.dir_done = [](int parentfd, const std::string& n, int, const std::string& shown) -> Result<bool> {
    if (::unlinkat(parentfd, n.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) return true;
    if (errno == ENOTEMPTY || errno == EEXIST) return false;
    return Error::from_errno(errno, "rmdir `" + shown + "`");
  };
  auto r = walk_tree_at(pfd.get(), basename_of(path), path, v);
  if (!r && r.error().code() == ENOENT && !path_exists(path)) return {};
  return r;
}

FileStamp file_stamp(const struct stat& st) { return FileStamp{st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim}; }

std::optional<FileStamp> file_stamp(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) < 0) return std::nullopt;
  return file_stamp(st);
}

std::string dirname_of(const std::string& path) {
  auto p = std::filesystem::path(path).parent_path().string();
  return p.empty() ? "." : p;
}

std::string basename_of(const std::string& path) { return std::filesystem::path(path).filename().string(); }

std::string absolute_path(const std::string& path) {
  return std::filesystem::absolute(path).lexically_normal().string();
}

Result<UniqueFd> lock_removable_file(const std::string& path, const std::string& what, int timeout_ms) {
  int64_t deadline = monotonic_ms() + timeout_ms;
  for (;;) {
    if (auto r = mkdir_p(dirname_of(path), 0755); !r) return std::move(r).error().context("lock " + what);
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) return Error::from_errno(errno, fmt::format("lock {}: open `{}`", what, path));
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
      struct stat held, now;
      if (::fstat(fd.get(), &held) == 0 && ::stat(path.c_str(), &now) == 0 && held.st_dev == now.st_dev &&
          held.st_ino == now.st_ino)
        return fd;
      continue;  // removed or replaced while we waited: lock the current one
    }
    if (errno != EWOULDBLOCK && errno != EINTR) return Error::from_errno(errno, fmt::format("lock {}", what));
    if (monotonic_ms() > deadline) return Error(EBUSY, fmt::format("{} is locked by another operation", what));
    ::usleep(10000);
  }
}

}  // namespace cove
