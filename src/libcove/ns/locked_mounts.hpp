// Locked mounts for user-namespaced containers.
//
// A mount made inside a user namespace can be unmounted again by that namespace's root, and a
// proc or sysfs mount whose masks were made there counts as "fully visible", so the kernel lets
// the container mount a fresh, unmasked instance. The kernel locks mounts (MNT_LOCKED, plus
// MNT_LOCK_READONLY/NODEV/NOSUID/NOEXEC/ATIME) only when it copies a mount namespace into a
// namespace owned by a *different* user namespace. So once the child has built its tree, a
// helper with host privileges copies it twice: into a mount namespace owned by the host user
// namespace (locks everything), then, after entering the container's user namespace, into one
// owned by that (locks again and gives the container a namespace it may enter). Init enters
// that last copy with setns(2) before exec: masks and read-only binds can no longer be
// unmounted or remounted, and a fresh proc or sysfs mount fails with EPERM.
#pragma once

#include <sys/types.h>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "process/child_process.hpp"

namespace cove::ns {

// The helper, forked ahead of time: started while the child still builds its tree (the fork
// and, after the copy, the helper's exit and reaping are then off the start's path), it makes
// the copies when copy() asks. `pidfd` refers to a process in the container's user and mount
// namespaces (the future init). The caller must be single-threaded (it forks) and have
// CAP_SYS_ADMIN on the host. Destroying it kills and reaps the helper.
class MountLocker {
 public:
  static Result<MountLocker> start(int pidfd);
  // Once the child has pivoted: an fd of the locked copy of its mount namespace, owned by its
  // user namespace. Once only; the helper then exits by itself.
  Result<UniqueFd> copy();

 private:
  MountLocker(UniqueFd sock, process::ChildProcess helper) : sock_(std::move(sock)), helper_(std::move(helper)) {}
  UniqueFd sock_;
  process::ChildProcess helper_;
};

}  // namespace cove::ns
