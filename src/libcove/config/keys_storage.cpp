// The [rootfs] section's keys (see key_table.hpp) and `[container] ephemeral`: which storage
// backend holds the root filesystem (storage/backend.hpp), its quota and an overlay's lowers.
#include "base/fs.hpp"
#include "base/strings.hpp"
#include "config/key_table.hpp"

namespace cove::config {

const char* storage_backend_name(StorageBackend b) {
  switch (b) {
    case StorageBackend::kDir: return "dir";
    case StorageBackend::kOverlay: return "overlay";
    case StorageBackend::kLoop: return "loop";
    case StorageBackend::kBtrfs: return "btrfs";
  }
  return "?";
}

namespace {

using Strings = std::vector<std::string>;
using C = ContainerConfig;

Error bad(const std::string& what) { return Error::invalid(what); }
std::string q(std::string_view v) { return "`" + std::string(v) + "`"; }

// The smallest image mkfs.ext4 makes a usable filesystem of, with room for a busybox rootfs.
constexpr uint64_t kMinSize = 16ULL << 20;

Result<void> parse_backend(C& c, const std::string& v, const KeyContext&) {
  for (auto b : {StorageBackend::kDir, StorageBackend::kOverlay, StorageBackend::kLoop, StorageBackend::kBtrfs})
    if (v == storage_backend_name(b)) {
      c.storage.backend = b;
      return {};
    }
  return bad(q(v) + " is not a storage backend");
}
Strings format_backend(const C& c) { return {storage_backend_name(c.storage.backend)}; }
void reset_backend(C& c) { c.storage.backend = StorageBackend::kDir; }

Result<void> parse_size_key(C& c, const std::string& v, const KeyContext&) {
  if (v.empty()) {
    c.storage.size.reset();
    return {};
  }
  auto n = parse_size(v);
  if (!n) return bad(q(v) + " is not a size");
  if (*n < kMinSize) return bad(q(v) + " is below the smallest size, 16M");
  c.storage.size = *n;
  return {};
}
Strings format_size_key(const C& c) {
  if (!c.storage.size) return {};
  uint64_t s = *c.storage.size;
  if (s % (1ULL << 30) == 0) return {std::to_string(s >> 30) + "G"};
  if (s % (1ULL << 20) == 0) return {std::to_string(s >> 20) + "M"};
  return {std::to_string(s)};
}
void reset_size(C& c) { c.storage.size.reset(); }

Result<void> parse_lower(C& c, const std::string& v, const KeyContext& ctx) {
  if (v.empty()) {
    c.storage.lower.clear();
    return {};
  }
  if (v.find(':') != std::string::npos || v.find(',') != std::string::npos)
    return bad(q(v) + " contains `:` or `,`, which overlayfs cannot take in a layer path");
  c.storage.lower.push_back(v.front() == '/' || ctx.dir.empty() ? absolute_path(v) : absolute_path(ctx.dir + "/" + v));
  return {};
}
Strings format_lower(const C& c) { return c.storage.lower; }
void reset_lower(C& c) { c.storage.lower.clear(); }

Result<void> parse_ephemeral(C& c, const std::string& v, const KeyContext&) {
  auto b = parse_bool(v);
  if (!b) return bad(q(v) + " is not a boolean");
  c.storage.ephemeral = *b;
  return {};
}
Strings format_ephemeral(const C& c) { return {c.storage.ephemeral ? "true" : "false"}; }
void reset_ephemeral(C& c) { c.storage.ephemeral = false; }

constexpr KeySpec kKeys[] = {
{"container", "ephemeral", "BOOL", "false", false,
 "The container is destroyed (config, rootfs and all) when it stops. `cove-copy -e` makes such clones.",
 parse_ephemeral, format_ephemeral, reset_ephemeral},
{"rootfs", "backend", "dir|overlay|loop|btrfs", "dir", false,
 "Where the root filesystem lives. dir: the directory `rootfs` itself. overlay: an overlayfs whose read-only "
 "lower layers are the `lower` directories (a snapshot, an image or another container's rootfs) and whose upper "
 "layer, in PATH/NAME/overlay, holds the container's own changes; with `size`, that upper layer lives on an ext4 "
 "image of that size (a quota'd clone). loop: an ext4 filesystem in the sparse image PATH/NAME/rootfs.img of "
 "`size` bytes, so `df /` inside shows the quota and a full disk is ENOSPC inside only (grow it with "
 "`cove-storage -n NAME resize SIZE`). btrfs: a btrfs subvolume (the cove path must be on btrfs), with a qgroup "
 "limit of `size` and snapshots that share extents. All work unprivileged (idmapped mounts) and with "
 "checkpoint/restore. The backend is chosen when the container is made (cove-create, cove-copy).",
 parse_backend, format_backend, reset_backend},
{"rootfs", "size", "SIZE", "", false,
 "The disk quota (K, M, G, T suffixes; at least 16M): the loop image's size, the btrfs qgroup limit, or the size "
 "of the ext4 image under an overlay's upper layer. Empty: none (required for loop).",
 parse_size_key, format_size_key, reset_size},
{"rootfs", "lower", "DIR", "", true,
 "An overlay's read-only lower layer, top first (repeatable). It must not change while containers use it; images "
 "and snapshots are never changed by cove.",
 parse_lower, format_lower, reset_lower},
};

}  // namespace

std::span<const KeySpec> storage_keys() { return kKeys; }

}  // namespace cove::config
