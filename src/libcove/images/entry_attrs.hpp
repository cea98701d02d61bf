// The extended attributes of a file as an archive entry holds them: POSIX ACLs (the
// `system.posix_acl_*` attributes) become the entry's ACL entries, the others stay raw
// attributes. A tree whose ids are host ids (a shifted rootfs) gets its ACL ids and the root
// id of a file capability mapped back to the container's ids.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "base/result.hpp"
#include "rootfs/ownership_shift.hpp"

struct archive_entry;

namespace cove::images {

// Host ids -> container ids through a shift record; the identity without one. An id outside
// every map entry stays as it is.
struct IdsBack {
  const rootfs::ShiftRecord* shifted = nullptr;
  uint32_t uid(uint32_t host) const;
  uint32_t gid(uint32_t host) const;
};

// Where the attributes are read: an open regular file or directory (`fd`), else (symlinks,
// devices, FIFOs) `path`, which the l*xattr calls read without following.
struct AttrSource {
  int fd = -1;
  std::string path;
};

Result<void> add_entry_attrs(archive_entry* e, const AttrSource& src, const IdsBack& ids);

}  // namespace cove::images
