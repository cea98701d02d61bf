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
#include "config/container_config.hpp"
#include "config/storage_config.hpp"
#include "ns/idmap.hpp"

namespace cove::storage {

struct IdMaps {
  std::vector<ns::IdMapEntry> uid, gid;
  bool empty() const { return uid.empty() && gid.empty(); }
};

struct Layout {
  std::string dir;                 // PATH/NAME
  std::string rootfs;              // the config's rootfs (default PATH/NAME/rootfs)
  config::StorageConfig cfg;
  IdMaps maps;                     // the container's id maps (empty: privileged)
  std::string image() const { return dir + "/rootfs.img"; }
  std::string overlay_dir() const { return dir + "/overlay"; }
  std::string overlay_image() const { return dir + "/overlay.img"; }
  std::string snapshots_dir() const { return dir + "/snapshots"; }
};

// A rootfs ready for init: a detached mount tree (idmapped when asked) and the block device
// its I/O goes to (for `io.max = rootfs ...`).
struct RootfsTree {
  UniqueFd tree;                   // from open_tree/fsmount; attach with move_mount
  dev_t disk = 0;                  // whole-disk device, 0 when unknown (tmpfs, ...)
};

struct PreparedRootfs {
  UniqueFd mount;                  // loop: the ext4 mount; overlay: what holds the upper layer
  UniqueFd upper, work;            // overlay: the upper and work directories
  dev_t disk = 0;                  // whole disk of the rootfs's I/O, 0 when unknown
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual config::StorageBackend kind() const = 0;
  const char* name() const { return config::storage_backend_name(kind()); }

  // Makes the empty storage of a new container (directories, image of `cfg.size`, subvolume).
  virtual Result<void> create(const Layout& l) = 0;
  // The first half of a start or restore, before the container exists: what the rootfs needs
  // from the host (its loop device, the ext4 mounted, detached) and the disk its I/O goes to,
  // so that `io.max = rootfs` is bound before init runs.
  virtual Result<PreparedRootfs> prepare(const Layout& l);
  // The second half: the rootfs as a detached tree, from what prepare() made (consumed);
  // idmapped with the user namespace `userns_fd` unless it is -1 (privileged).
  virtual Result<RootfsTree> open_tree(const Layout& l, int userns_fd, PreparedRootfs& prepared) = 0;
  // Both halves at once (a copy's view, tests).
  Result<RootfsTree> open_tree(const Layout& l, int userns_fd) {
    auto p = prepare(l);
    if (!p) return std::move(p).error();
    return open_tree(l, userns_fd, *p);
  }
  // Mounts the rootfs on `l.rootfs` in the calling process's mount namespace, which must be
  // private to it (isolate_mounts()): for create's template, copies, snapshots and exports of a
  // stopped container. Nothing to do for dir and btrfs. Returns whether it mounted.
  virtual Result<bool> mount_view(const Layout& l, bool writable) = 0;
  // Whether ids in a view are host ids through `l.maps` (an unprivileged overlay).
  virtual bool view_is_shifted(const Layout& l) const { (void)l; return false; }
  // Removes what create() made that removing the directory does not (btrfs subvolumes).
  virtual Result<void> destroy(const Layout& l) { (void)l; return {}; }
  // Grows (never shrinks) the quota to `size`; `init_pid` > 0: the container runs (online).
  virtual Result<void> resize(const Layout& l, uint64_t size, pid_t init_pid) = 0;
  // Bytes the rootfs takes on the host (its own changes for overlay).
  virtual Result<uint64_t> used_bytes(const Layout& l) = 0;

  // Snapshots (cove-snapshot) of a stopped container, in `snap_dir` (made by the caller,
  // empty): a copy of the backend's data (`data_names`), sharing extents where the filesystem
  // can (reflink); btrfs takes subvolume snapshots.
  virtual Result<void> snapshot(const Layout& l, const std::string& snap_dir);
  virtual Result<void> restore_snapshot(const Layout& l, const std::string& snap_dir);
  virtual Result<void> destroy_snapshot(const Layout& l, const std::string& snap_dir);
  // A full, independent copy of the storage into `to` (same backend, made by the caller except
  // for the data): cove-copy without -s.
  virtual Result<void> copy(const Layout& from, const Layout& to);

 protected:
  // The entries of PATH/NAME that hold the rootfs's data ("rootfs", "rootfs.img", "overlay").
  virtual std::vector<std::string> data_names(const Layout& l) const = 0;
};

// `cp -a --reflink=auto --sparse=always FROM TO`: owners, modes, xattrs, ACLs, hard links kept.
Result<void> copy_tree(const std::string& from, const std::string& to);
// Allocated bytes of a tree (hard links once), not crossing into other filesystems.
Result<uint64_t> tree_bytes(const std::string& path);
// Moves the ids of the tree `dir` from `from`'s host range into `to`'s (rootfs/ownership_shift):
// a copied tree whose ids were another container's host ids. `to` empty: container ids.
Result<void> reshift_tree(const std::string& dir, const IdMaps& from, const IdMaps& to);
// The same for an overlay's copied upper layer (in its image too, mounted privately here).
Result<void> reshift_overlay_upper(const Layout& l, const IdMaps& from);
// The layout of a container from its directory and config.
Layout layout_of(const std::string& container_dir, const config::ContainerConfig& cfg);

Result<std::unique_ptr<Backend>> backend_for(config::StorageBackend kind);

// Unshares the calling process's mount namespace (propagation from the host kept as slave), so
// the storage it mounts is seen by nobody else and vanishes when it exits, even by SIGKILL.
// Idempotent. Tools that mount a stopped container's storage call it first.
Result<void> isolate_mounts();

}  // namespace cove::storage
