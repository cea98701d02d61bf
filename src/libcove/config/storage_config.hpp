// The `[rootfs]` section, typed: which storage backend holds a container's root filesystem.
// Parsed by config/keys_storage.cpp; used by storage/ (backend.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cove::config {

enum class StorageBackend { kDir, kOverlay, kLoop, kBtrfs };
const char* storage_backend_name(StorageBackend b);  // "dir", "overlay", "loop", "btrfs"

struct StorageConfig {
  StorageBackend backend = StorageBackend::kDir;
  // loop: the ext4 image's size; btrfs: the subvolume's qgroup limit; overlay: the upper layer
  // lives on an ext4 image of this size (a quota'd clone). nullopt: no quota.
  std::optional<uint64_t> size;
  // overlay: the read-only lower directories, top first (absolute host paths).
  std::vector<std::string> lower;
  // `[container] ephemeral`: the container is destroyed when it stops.
  bool ephemeral = false;

  bool operator==(const StorageConfig&) const = default;
};

}  // namespace cove::config
