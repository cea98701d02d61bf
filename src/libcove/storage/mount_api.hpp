// Detached mounts through the new mount API (fsopen/fsconfig/fsmount, open_tree): a rootfs is
// built as a tree that no path on the host shows, handed to the container's init by fd, and
// gone with the last reference to it (the container's mount namespace). Kernel messages of a
// failed fsconfig (the fs context's log) go into the error.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace cove::storage {

// A new filesystem of `fstype` from `source` ("" for none) with string options (KEY or
// KEY=VALUE), as a detached mount.
Result<UniqueFd> mount_detached(const std::string& fstype, const std::string& source,
                                const std::vector<std::string>& options, bool readonly);
// An overlayfs over `lowers` (fds of directories or detached trees, top first) with `upper` and
// `work` (paths or fds: -1 for a read-only overlay), as a detached mount.
struct OverlayLayers {
  std::vector<int> lowers;
  int upper = -1, work = -1;
};
Result<UniqueFd> mount_overlay(const OverlayLayers& layers);
// A detached clone of the tree at `path` (recursive).
Result<UniqueFd> clone_path(const std::string& path);
// Idmaps a detached tree (not yet attached) with the user namespace `userns_fd`; `recursive`:
// every mount of the tree. `what` names it in errors ("`PATH`", "image `X`").
Result<void> idmap_tree(const UniqueFd& tree, int userns_fd, const std::string& what, bool recursive = false);
// Attaches a detached tree on `path` in the current mount namespace.
Result<void> attach_tree(const UniqueFd& tree, const std::string& path);

}  // namespace cove::storage
