// Storage backends: where a container's root filesystem lives on the host, and how it becomes
// the tree a start (or restore) hands to init. One interface, one file per backend (dir, loop,
// overlay, btrfs), chosen by `[rootfs] backend`. Callers: the container façade (create,
// destroy, copy, snapshot), lifecycle (start, restore), images.
//
// On-disk layout in the container's directory PATH/NAME (`Layout`):
//   rootfs/        dir, btrfs (a subvolume): the files; loop, overlay: an empty mount point
//   rootfs.img     loop: the sparse ext4 image
//   overlay/       overlay: upper/ and work/ (or, with `size`, overlay.img holding them)
//   snapshots/S/   cove-snapshot S: what the backend needs to bring the rootfs back
// Ids on disk are the container's own (0 = its root) everywhere but in the upper layer of an
// unprivileged overlay container, which holds host ids (overlayfs is mounted by host root over
// an idmapped lower, and the overlay itself cannot be idmapped), and in a rootfs shifted with
// `[idmap] rootfs = shift`. `id_shift()` says which.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "config/storage_config.hpp"
#include "ns/idmap.hpp"

namespace cove::storage {

struct Layout {
  std::string dir;                 // PATH/NAME
  std::string rootfs;              // the config's rootfs (default PATH/NAME/rootfs)
  config::StorageConfig cfg;
  std::string image() const { return dir + "/rootfs.img"; }
  std::string overlay_dir() const { return dir + "/overlay"; }
  std::string overlay_image() const { return dir + "/overlay.img"; }
  std::string snapshots_dir() const { return dir + "/snapshots"; }
};

struct IdMaps {
  std::vector<ns::IdMapEntry> uid, gid;
  bool empty() const { return uid.empty() && gid.empty(); }
};

// A rootfs ready for init: a detached mount tree (idmapped when asked) and the block device
// its I/O goes to (for `io.max = rootfs ...`).
struct RootfsTree {
  UniqueFd tree;                   // from open_tree/fsmount; attach with move_mount
  dev_t disk = 0;                  // whole-disk device, 0 when unknown (tmpfs, ...)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual config::StorageBackend kind() const = 0;
  const char* name() const { return config::storage_backend_name(kind()); }

  // Makes the empty storage of a new container (directories, image of `cfg.size`, subvolume).
  virtual Result<void> create(const Layout& l) = 0;
  // The rootfs as a detached tree for a start or restore. `maps` (unprivileged): the tree is
  // idmapped with them (the userns is made from the maps, not taken from a process).
  virtual Result<RootfsTree> open_tree(const Layout& l, const IdMaps* maps) = 0;
  // Mounts the rootfs on `l.rootfs` in the calling process's mount namespace, which must be
  // private to it (isolate_mounts()): for create's template, copies, snapshots and exports of a
  // stopped container. Nothing to do for dir and btrfs. Read-only when `!writable`.
  virtual Result<void> mount_view(const Layout& l, const IdMaps* maps, bool writable) = 0;
  // Removes everything create() and later starts made (not the container directory).
  virtual Result<void> destroy(const Layout& l) = 0;
  // Grows (never shrinks) the quota to `size`; online when the container runs.
  virtual Result<void> resize(const Layout& l, uint64_t size) = 0;
  // Bytes the rootfs uses on the host (its own changes for overlay).
  virtual Result<uint64_t> used_bytes(const Layout& l) = 0;
};

Result<std::unique_ptr<Backend>> backend_for(config::StorageBackend kind);

// Unshares the calling process's mount namespace (propagation from the host kept as slave), so
// the storage it mounts is seen by nobody else and vanishes when it exits, even by SIGKILL.
// Idempotent. Tools that mount a stopped container's storage call it first.
Result<void> isolate_mounts();

}  // namespace cove::storage
