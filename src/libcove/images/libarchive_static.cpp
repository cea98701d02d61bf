// Keeps libarchive's format table out of the static tools. In libarchive 3.6.2 the pax writer
// calls __archive_write_entry_filetype_unsupported(), which lives in archive_write_set_format.o
// next to the table of every writer; linking that member pulls in the xar writer, hence libxml2
// and ICU (+30 MB), and libxml2's HTTP client with glibc's getaddrinfo, which collides with
// network/nl_static.cpp's. Defined here (same behaviour: an error naming the format), the
// member is never needed. archive_pack.cpp pulls this file in with its first use of libarchive.
#include <archive.h>
#include <archive_entry.h>

#include <cerrno>

namespace cove::images {
void link_libarchive_static_stubs() {}
}  // namespace cove::images

extern "C" void __archive_write_entry_filetype_unsupported(struct archive* a, struct archive_entry* entry,
                                                          const char* format) {
  const char* name = entry ? archive_entry_pathname(entry) : nullptr;
  archive_set_error(a, EINVAL, "%s: file type not supported by the %s format", name ? name : "entry",
                    format);
}
