#include "images/content_hash.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

namespace cove::images {

ContentHash::ContentHash() { sha256_init(&ctx_); }

// Length-prefixed, so no two field lists hash alike.
void ContentHash::add_field(const std::string& value) {
  std::string len = std::to_string(value.size()) + ":";
  sha256_update(&ctx_, len.size(), reinterpret_cast<const uint8_t*>(len.data()));
  sha256_update(&ctx_, value.size(), reinterpret_cast<const uint8_t*>(value.data()));
}

void ContentHash::add_number(int64_t n) { add_field(std::to_string(n)); }

namespace {
std::string or_empty(const char* s) { return s ? s : ""; }

// By name, each once: the pax reader gives an attribute twice (its LIBARCHIVE.xattr and
// SCHILY.xattr records).
std::map<std::string, std::string> sorted_xattrs(archive_entry* e) {
  std::map<std::string, std::string> out;
  archive_entry_xattr_reset(e);
  const char* name;
  const void* value;
  size_t size;
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
    out.emplace(or_empty(name), std::string(static_cast<const char*>(value), size));
  return out;
}

// The ACL entries beyond the three the mode already gives (owner, group, others), sorted.
std::string acl_text(archive_entry* e) {
  std::vector<std::string> entries;
  archive_entry_acl_reset(e, ARCHIVE_ENTRY_ACL_TYPE_ACCESS | ARCHIVE_ENTRY_ACL_TYPE_DEFAULT);
  int type, perm, tag, id;
  const char* name;
  while (archive_entry_acl_next(e, ARCHIVE_ENTRY_ACL_TYPE_ACCESS | ARCHIVE_ENTRY_ACL_TYPE_DEFAULT, &type, &perm, &tag,
                                &id, &name) == ARCHIVE_OK) {
    bool base = tag == ARCHIVE_ENTRY_ACL_USER_OBJ || tag == ARCHIVE_ENTRY_ACL_GROUP_OBJ || tag == ARCHIVE_ENTRY_ACL_OTHER;
    if (base && type == ARCHIVE_ENTRY_ACL_TYPE_ACCESS) continue;
    entries.push_back(std::to_string(type) + "," + std::to_string(tag) + "," + std::to_string(perm) + "," +
                      std::to_string(id));
  }
  std::sort(entries.begin(), entries.end());
  std::string out;
  for (const auto& x : entries) out += x + ";";
  return out;
}
}  // namespace

void ContentHash::begin_entry(archive_entry* e) {
  add_field("entry");
  add_field(or_empty(archive_entry_pathname(e)));
  // A hard link's type is its target's: the tar reader gives none.
  add_number(archive_entry_hardlink(e) ? 0 : archive_entry_filetype(e));
  add_number(archive_entry_perm(e));
  add_number(archive_entry_uid(e));
  add_number(archive_entry_gid(e));
  add_number(archive_entry_mtime(e));
  add_number(archive_entry_mtime_nsec(e));
  add_number(archive_entry_size(e));
  add_field(or_empty(archive_entry_symlink(e)));
  add_field(or_empty(archive_entry_hardlink(e)));
  add_number(archive_entry_rdevmajor(e));
  add_number(archive_entry_rdevminor(e));
  for (const auto& [name, value] : sorted_xattrs(e)) {
    add_field(name);
    add_field(value);
  }
  add_field(acl_text(e));
  regular_ = archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e);
  size_ = archive_entry_size(e);
  next_offset_ = 0;
}

void ContentHash::add_data(const void* data, size_t size, int64_t offset) {
  if (size == 0) return;
  if (offset != next_offset_) {
    add_field("hole");
    add_number(next_offset_);
    add_number(offset);
  }
  sha256_update(&ctx_, size, static_cast<const uint8_t*>(data));
  next_offset_ = offset + static_cast<int64_t>(size);
}

void ContentHash::end_entry() {
  if (regular_ && next_offset_ < size_) {
    add_field("hole");
    add_number(next_offset_);
    add_number(size_);
  }
  regular_ = false;
}

std::string ContentHash::hex() {
  uint8_t digest[SHA256_DIGEST_SIZE];
  sha256_digest(&ctx_, sizeof digest, digest);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (uint8_t b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace cove::images
