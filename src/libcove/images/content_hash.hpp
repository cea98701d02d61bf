// The content hash of an image: SHA-256 over the rootfs entries as archived, so the packer and
// the unpacker compute it alike from what the archive holds, independent of the tar layout.
// Per entry: its header fields (path, type, mode, owners, mtime, size, link targets, device
// numbers, extended attributes sorted by name, ACLs as text), then its data regions in order,
// each hole of a sparse file as a marker with its range.
#pragma once

#include <nettle/sha2.h>

#include <cstdint>
#include <string>

struct archive_entry;

namespace cove::images {

class ContentHash {
 public:
  ContentHash();
  void begin_entry(archive_entry* e);
  // `size` bytes of the entry's data at `offset` (offsets grow; a gap is a hole).
  void add_data(const void* data, size_t size, int64_t offset);
  void end_entry();
  std::string hex();  // finishes the hash

 private:
  void add_field(const std::string& value);
  void add_number(int64_t n);
  struct sha256_ctx ctx_;
  int64_t next_offset_ = 0, size_ = 0;
  bool regular_ = false;
};

}  // namespace cove::images
