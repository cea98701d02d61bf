#include "images/archive_util.hpp"

namespace cove::images {

// Both kinds free alike: archive_free() dispatches on the handle's magic (read, write, ...).
void ArchiveFree::operator()(struct archive* a) const { archive_free(a); }

Error libarchive_error(struct archive* a, const std::string& what) {
  const char* msg = archive_error_string(a);
  int code = archive_errno(a);
  return Error(code > 0 ? code : EIO, what + ": " + (msg ? msg : "unknown libarchive error"));
}

}  // namespace cove::images
