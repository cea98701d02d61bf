// Mount helpers for building a container's root inside its own mount namespace, and
// MountGuard, which undoes a mount on an error path.
// Targets inside the rootfs are resolved through a rootfs dirfd with
// openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so a symlink planted in the rootfs
// cannot redirect a mount to a host path; the mount then goes to /proc/self/fd/N.
#pragma once

#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace cove::rootfs {

// Unmounts (MNT_DETACH) what is mounted on its target when destroyed, unless `commit()`ed: a
// sequence of mounts that fails half-way leaves none of them behind. The target is a path, or
// an fd opened on the mount's root (an O_PATH fd from open_in_root after the mount), unmounted
// through /proc/self/fd/N so that nothing in the rootfs can redirect the unmount.
class MountGuard {
 public:
  MountGuard() = default;
  explicit MountGuard(std::string path) : path_(std::move(path)) {}
  explicit MountGuard(UniqueFd root);
  MountGuard(MountGuard&& o) noexcept;
  MountGuard& operator=(MountGuard&& o) noexcept;
  MountGuard(const MountGuard&) = delete;
  MountGuard& operator=(const MountGuard&) = delete;
  // Unmounts a mount not committed; a failure is logged (a destructor cannot return it).
  ~MountGuard();

  bool armed() const { return !path_.empty(); }
  // Keeps the mount: the guard does nothing any more.
  void commit();
  // Unmounts now and reports the result.
  Result<void> unmount();

 private:
  std::string path_;  // what umount2 is given ("" once committed or unmounted)
  UniqueFd root_;     // keeps /proc/self/fd/N valid when the target is an fd
};

enum class Create { kNone, kDir, kFile };

// Opens `rel` (relative to the rootfs, leading '/' ignored) as an O_PATH fd, creating the last
// component (and missing parent directories) when asked.
Result<UniqueFd> open_in_root(int rootfd, const std::string& rel, Create create);
// "/proc/self/fd/N" for an fd.
std::string fd_path(int fd);

// mount(2) with an error naming the target as the container will see it.
Result<void> do_mount(const std::string& source, const std::string& target_path, const char* fstype,
                      unsigned long flags, const std::string& data, const std::string& shown_target);
// Mount data `data` plus SELinux's `context="CONTEXT"` when `selinux_context` is not empty.
std::string with_mount_context(std::string data, const std::string& selinux_context);
// Mounts onto `rel` inside the rootfs (resolved safely).
Result<void> mount_in_root(int rootfd, const std::string& source, const std::string& rel, const char* fstype,
                           unsigned long flags, const std::string& data, Create create);
// Bind-mounts `source` (a host path in the current mount namespace) onto `rel`, then applies
// `flags` (MS_RDONLY, MS_NOSUID, ...) with a bind remount when any are set.
Result<void> bind_in_root(int rootfd, const std::string& source, const std::string& rel, bool recursive,
                          unsigned long flags, Create create);
// A detached copy of `source` (a path in the current mount namespace, with its submounts when
// `recursive`), to attach later with attach_in_root(): after pivot_root or in another mount
// namespace, where `source` is out of reach.
Result<UniqueFd> clone_tree(const std::string& source, bool recursive);
// The same, refusing a `source` whose path has a symlink anywhere (openat2 RESOLVE_NO_SYMLINKS):
// for a clone host root makes and idmaps, where a symlink a container swapped in would hand it
// host files as its own.
Result<UniqueFd> clone_tree_no_symlinks(const std::string& source, bool recursive);
// Attaches a tree from clone_tree() onto `rel`, then applies `flags` as bind_in_root() does.
// `what` names the source in errors.
Result<void> attach_in_root(int rootfd, UniqueFd tree, const std::string& rel, unsigned long flags, Create create,
                            const std::string& what);
// The mount whose root is `rel` (one this process made) gets `flags` (MS_RDONLY, MS_NOSUID,
// ...) by a bind remount; its submounts keep theirs. It is unmounted if that fails.
Result<void> remount_in_root(int rootfd, const std::string& rel, unsigned long flags);
// Makes an existing path in the rootfs a read-only bind of itself (its submounts are not in it:
// for a path that has none).
Result<void> make_readonly_in_root(int rootfd, const std::string& rel);
Result<void> symlink_in_root(int rootfd, const std::string& target, const std::string& rel);

// A directory of the rootfs this process has just mounted (a new tmpfs's root: /dev,
// /sys/fs/cgroup) before any container code ran: nothing in it can lead elsewhere, so its
// entries are made and used by name below its fd (O_NOFOLLOW), not resolved again from the
// container's root, probed, walked and re-walked for each one (~0.5 ms of a start for /dev's
// and the cgroup hierarchies' entries; bench/README.md, 2026-12-06 evening).
class FreshDir {
 public:
  // `rel` as open_in_root takes it, after the mount there.
  static Result<FreshDir> open(int rootfd, const std::string& rel);
  // `name` below it as an O_PATH fd (on what is mounted there, if anything).
  Result<UniqueFd> at(const std::string& name) const;
  // Mounts on a new directory `name`.
  Result<void> mount(const std::string& source, const std::string& name, const char* fstype, unsigned long flags,
                     const std::string& data) const;
  // attach_in_root() for `name`.
  Result<void> attach(UniqueFd tree, const std::string& name, unsigned long flags, Create kind,
                      const std::string& what) const;
  // Binds `source` (a host path) on a new file `name`.
  Result<void> bind(const std::string& source, const std::string& name) const;
  Result<void> symlink(const std::string& target, const std::string& name) const;

 private:
  FreshDir(UniqueFd dir, std::string rel);
  // An empty file or directory `name` (one there already is fine), as an O_PATH fd.
  Result<UniqueFd> make(const std::string& name, Create kind) const;
  std::string shown(const std::string& name) const;
  UniqueFd dir_;
  std::string rel_;  // for errors: "/REL/NAME"
};

}  // namespace cove::rootfs
