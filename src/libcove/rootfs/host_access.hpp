// The host side of a container's rootfs: who on the host can reach it, and how host code
// opens files that may lie inside it. See doc/design/security.md, "Host files".
#pragma once

#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace cove::rootfs {

// With an idmapped rootfs a file the container's root makes is stored as uid 0 on disk, set-
// user-ID bit included: a host user who can reach the rootfs could run it as host root. So no
// host user may reach it. Called at every start and restore, whatever made the directory (a
// copy, a restore, a migration):
//  - the container's directory must be owned by root (EPERM otherwise) and is made 0700 when
//    group or others have any access (fchmod on the opened directory, logged as a warning);
//  - some directory above the rootfs (the container's directory, for the default rootfs) must
//    be private: owned by root with no search bit for others (nor for a group other than
//    root's). A rootfs that host users could reach is refused (EACCES).
Result<void> protect_rootfs(const std::string& container_dir, const std::string& rootfs);

// Opens `path`, a file host code writes (the console log, the monitor's log), for appending,
// creating it 0600. The part of `path` outside `rootfs` is the host's and resolves normally;
// from the rootfs on it resolves as in the container (openat2 RESOLVE_IN_ROOT |
// RESOLVE_NO_MAGICLINKS from the rootfs directory), so a symlink the container planted leads
// to a file inside its own tree, never to a host file. Opened without blocking (a FIFO) and
// refused unless it is a regular file.
Result<UniqueFd> open_host_append(const std::string& path, const std::string& rootfs);

}  // namespace cove::rootfs
