// libarchive handles as unique_ptrs, and its errors as Errors: what archive_pack.cpp and
// archive_unpack.cpp share.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <string>

#include "base/result.hpp"

namespace cove::images {

inline constexpr const char* kRootfsPrefix = "rootfs/";

struct ArchiveFree {
  void operator()(struct archive* a) const;
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveFree>;
using EntryPtr = std::unique_ptr<archive_entry, EntryFree>;

// "<what>: <libarchive's message>", with its errno when it has one (else EIO).
Error libarchive_error(struct archive* a, const std::string& what);

}  // namespace cove::images
