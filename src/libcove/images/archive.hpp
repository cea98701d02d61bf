// Image archives: a zstd-compressed pax tar holding, in this order, a few named entries
// (metadata.json, config), the tree under `rootfs/`, and last `rootfs.sha256`, the content
// hash of the rootfs entries (content_hash.hpp). What the tree keeps: owners as numbers (the
// container's ids), modes, mtimes, extended attributes (security.capability, trusted.*,
// user.*, ...), POSIX ACLs, hard links, sparse files, device nodes, FIFOs, symlinks. Sockets
// and other filesystems mounted inside the tree are left out.
//
// pack_tree() runs in the caller (compression on worker threads); unpack_tree() extracts in a
// child process chrooted into the destination (with root; without it, chdir'd there) and
// treats the archive as hostile: absolute paths, `..`, entries through a symlink and entries
// outside `rootfs/` are refused, so nothing is ever written outside the destination.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "images/image_info.hpp"
#include "rootfs/ownership_shift.hpp"

namespace cove::images {

inline constexpr const char* kMetadataEntry = "metadata.json";
inline constexpr const char* kConfigEntry = "config";
inline constexpr const char* kHashEntry = "rootfs.sha256";
// The largest metadata or config entry an archive may hold.
inline constexpr size_t kMaxSmallEntry = 1 << 20;

struct NamedEntry {
  std::string name;
  std::string data;
};

struct PackOptions {
  // Set when the tree's ids are host ids through these maps: they are archived as the
  // container ids they stand for.
  const rootfs::ShiftRecord* shifted = nullptr;
  std::vector<NamedEntry> first;  // written before the tree (metadata.json, config)
  // zstd level. 1, not zstd's default 3: on a rootfs of binaries and text, level 3 compresses
  // ~165 MB/s per core and level 1 ~310 MB/s, for an archive ~13% larger.
  int level = 1;
  unsigned threads = 0;           // compression threads; 0: one per CPU
  uint64_t total = 0;             // for progress: the expected bytes (measure_tree)
  ProgressFn progress;
};

struct PackResult {
  std::string content_hash;       // lowercase hex
  uint64_t rootfs_bytes = 0;      // file data archived (holes not counted)
  uint64_t entries = 0;
  uint64_t archive_bytes = 0;     // compressed, written to the fd
};

// Archives the tree at `dir` into `out_fd`.
Result<PackResult> pack_tree(const std::string& dir, int out_fd, const PackOptions& opts);

struct TreeSize {
  uint64_t bytes = 0;             // file sizes (apparent) of regular files, each inode once
  uint64_t allocated = 0;         // blocks allocated, in bytes
  uint64_t entries = 0;
};
// A quick walk (no file data read) of what pack_tree() would archive.
Result<TreeSize> measure_tree(const std::string& dir);

// The named entries before the tree: metadata.json and config, each at most kMaxSmallEntry.
struct ArchiveHead {
  std::string metadata, config;
};
Result<ArchiveHead> read_archive_head(int archive_fd);

struct UnpackResult {
  std::string content_hash;       // computed, and equal to the archive's rootfs.sha256
  uint64_t rootfs_bytes = 0;
  uint64_t entries = 0;
};
// Extracts the tree of the archive at `archive_fd` (read from offset 0: a regular file) into
// `dest_dir`, an existing empty directory. `total` is the expected byte count, for progress.
Result<UnpackResult> unpack_tree(int archive_fd, const std::string& dest_dir, uint64_t total,
                                 const ProgressFn& progress);

}  // namespace cove::images
