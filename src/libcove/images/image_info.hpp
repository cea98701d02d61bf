// What an image says about itself (metadata.json in the archive and in the store), and the
// progress callback of exports and imports. Part of the public API (container.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/result.hpp"

namespace cove::images {

// Called as the work goes on: bytes of file data done, and the expected total. Returning
// false stops the operation (ECANCELED "interrupted"), leaving nothing half-made behind.
using ProgressFn = std::function<bool(uint64_t done, uint64_t total)>;

struct ImageMetadata {
  int format = 1;
  std::string distro, release;   // os-release ID and VERSION_ID ("" when the rootfs has none)
  std::string arch;              // Debian's name: amd64, arm64, ...
  std::string created;           // UTC, "2025-01-31T12:00:00Z"
  std::string cove_version;
  std::string content_hash;      // SHA-256 of the rootfs entries, hex ("" inside an archive)
  uint64_t size = 0;             // bytes of file data in the rootfs
  uint64_t entries = 0;          // files, directories, links, ... in the rootfs
  std::string source;            // the container it was exported from
  std::string version;           // cove-build's VERSION ("" for an export)

  bool operator==(const ImageMetadata&) const = default;
};

std::string metadata_to_json(const ImageMetadata& m);
// Checks every field: metadata.json comes from an archive, which may be hostile.
Result<ImageMetadata> metadata_from_json(const std::string& text);

}  // namespace cove::images
