// File helpers returning Result: whole-file read/write, mkdir -p, atomic replace.
#pragma once

#include <sys/stat.h>

#include <functional>
#include <optional>
#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace cove {

Result<std::string> read_file(const std::string& path);
// For files a user names (configs): opens without blocking (a FIFO) or taking a terminal,
// accepts only a regular file (EINVAL naming its type) of at most `max_size` bytes (EFBIG).
Result<std::string> read_regular_file(const std::string& path, size_t max_size);
// Writes `data` with a single write(2) (what cgroup and /proc files need); no O_CREAT.
Result<void> write_existing(const std::string& path, const std::string& data);
// Creates or truncates `path` with `mode` and writes `data`.
Result<void> write_file(const std::string& path, const std::string& data, mode_t mode = 0644);
// Appends `data` (O_APPEND; the file made with `mode` if missing). Not atomic: for files a
// lock guards, whose readers skip a torn last line.
Result<void> append_file(const std::string& path, const std::string& data, mode_t mode = 0644);
// Writes to a temp file in the same directory and renames it over `path`: readers see the old
// or the new content, never a mix. `durable` adds an fsync first (configs, registries); runtime
// state that a reboot clears anyway skips it (/run is not always a tmpfs: an fsync there costs ms)
// and is swapped in rather than renamed over the old file (no writeback started on ext4).
enum class Durability { kDurable, kVolatile };
Result<void> write_file_atomic(const std::string& path, const std::string& data, mode_t mode = 0644,
                               Durability durability = Durability::kDurable);
Result<void> mkdir_p(const std::string& path, mode_t mode = 0755);
// An flock on the file `path` (made, with its directory, when missing) that is still `path`'s
// file once held: a holder may remove the file when it is done (nothing left behind), and the
// waiters then retry on the new one instead of locking a dead inode. EBUSY after `timeout_ms`,
// naming `what`.
Result<UniqueFd> lock_removable_file(const std::string& path, const std::string& what, int timeout_ms);
bool path_exists(const std::string& path);
// Whether this kernel has time namespaces (/proc/self/ns/time), looked up once per process: a
// kernel does not gain or lose them while it runs.
bool kernel_has_time_ns();
bool is_directory(const std::string& path);
// Removes a tree without crossing into other mounts; errors carry the failing path. Never
// follows a symlink and needs two descriptors at any depth (see walk_tree_at).
Result<void> remove_tree(const std::string& path);

// What walk_tree_at() does with each entry. `shown` is the entry's path for messages.
struct TreeVisitor {
  // Every entry that is not a directory, found in directory `dirfd` under `name`.
  std::function<Result<void>(int dirfd, const std::string& name, const struct stat& st, const std::string& shown)> file;
  // A directory once everything below it was visited (post-order); `dirfd` is the directory
  // itself, `parentfd` its parent. Returning false lists it again (entries appeared).
  std::function<Result<bool>(int parentfd, const std::string& name, int dirfd, const std::string& shown)> dir_done;
  // A directory on another filesystem (a mount point): skipped when true, else EBUSY.
  bool skip_other_filesystems = false;
};
// Walks the tree at `name` in `parentfd` (a file alone is just visited). Iterative: only the
// current directory's descriptor is held (going up is openat("..") checked against the device
// and inode seen on the way down), so any depth works under a small RLIMIT_NOFILE. Never
// follows a symlink (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW) and never enters another filesystem
// (EBUSY naming the mount point). A directory replaced or moved during the walk is EAGAIN.
Result<void> walk_tree_at(int parentfd, const std::string& name, const std::string& shown, const TreeVisitor& visit);
// A file's status as far as a change of its content shows: device, inode, size, mtime and
// ctime. The kernel sets ctime to the current time on every change and no caller can set it
// back; a rename over the path gives another inode.
struct FileStamp {
  dev_t dev;
  ino_t ino;
  off_t size;
  timespec mtime, ctime;
  bool operator==(const FileStamp& o) const {
    return dev == o.dev && ino == o.ino && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
           mtime.tv_nsec == o.mtime.tv_nsec && ctime.tv_sec == o.ctime.tv_sec && ctime.tv_nsec == o.ctime.tv_nsec;
  }
};
FileStamp file_stamp(const struct stat& st);
std::optional<FileStamp> file_stamp(const std::string& path);  // nullopt: cannot stat it
std::string dirname_of(const std::string& path);
std::string basename_of(const std::string& path);
// Absolute, lexically normalised path (no symlink resolution).
std::string absolute_path(const std::string& path);

}  // namespace cove
