#include "images/entry_attrs.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <sys/xattr.h>

#include <cstring>
#include <vector>

#include "base/strings.hpp"

namespace cove::images {

namespace {

uint32_t back(uint32_t host, const std::vector<rootfs::IdMapEntry>& map) {
  for (const auto& e : map)
    if (host >= e.host_id && host - e.host_id < e.count) return e.container_id + (host - e.host_id);
  return host;
}

// listxattr/getxattr with a size query first, retried while the value grows (ERANGE).
template <typename Call>
Result<std::string> sized_read(Call call, const std::string& what) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    ssize_t n = call(nullptr, 0);
    if (n < 0) return Error::from_errno(errno, what);
    std::string buf(static_cast<size_t>(n), '\0');
    if (n == 0) return buf;
    ssize_t got = call(buf.data(), buf.size());
    if (got >= 0) {
      buf.resize(static_cast<size_t>(got));
      return buf;
    }
    if (errno != ERANGE) return Error::from_errno(errno, what);
  }
  return Error(ERANGE, what + ": keeps changing size");
}

Result<std::string> list_names(const AttrSource& s) {
  return sized_read(
      [&](char* b, size_t n) { return s.fd >= 0 ? ::flistxattr(s.fd, b, n) : ::llistxattr(s.path.c_str(), b, n); },
      "list extended attributes");
}

Result<std::string> get_value(const AttrSource& s, const std::string& name) {
  return sized_read(
      [&](char* b, size_t n) {
        return s.fd >= 0 ? ::fgetxattr(s.fd, name.c_str(), b, n) : ::lgetxattr(s.path.c_str(), name.c_str(), b, n);
      },
      "read extended attribute `" + name + "`");
}

uint32_t le32(const std::string& s, size_t at) {
  uint32_t v;
  std::memcpy(&v, s.data() + at, 4);
  return le32toh(v);
}
uint16_t le16(const std::string& s, size_t at) {
  uint16_t v;
  std::memcpy(&v, s.data() + at, 2);
  return le16toh(v);
}

// The kernel's posix_acl_xattr format: a version (2), then {tag u16, perm u16, id u32} each.
Result<void> add_acl(archive_entry* e, int type, const std::string& raw, const IdsBack& ids) {
  if (raw.size() < 4 || (raw.size() - 4) % 8 != 0 || le32(raw, 0) != 2) return Error::invalid("malformed POSIX ACL");
  for (size_t at = 4; at < raw.size(); at += 8) {
    uint16_t tag = le16(raw, at), perm = le16(raw, at + 2) & 7;
    uint32_t id = le32(raw, at + 4);
    int atag = 0, aid = -1;
    switch (tag) {
      case 0x01: atag = ARCHIVE_ENTRY_ACL_USER_OBJ; break;
      case 0x02: atag = ARCHIVE_ENTRY_ACL_USER; aid = static_cast<int>(ids.uid(id)); break;
      case 0x04: atag = ARCHIVE_ENTRY_ACL_GROUP_OBJ; break;
      case 0x08: atag = ARCHIVE_ENTRY_ACL_GROUP; aid = static_cast<int>(ids.gid(id)); break;
      case 0x10: atag = ARCHIVE_ENTRY_ACL_MASK; break;
      case 0x20: atag = ARCHIVE_ENTRY_ACL_OTHER; break;
      default: return Error::invalid("unknown POSIX ACL tag " + std::to_string(tag));
    }
    if (archive_entry_acl_add_entry(e, type, perm, atag, aid, nullptr) != ARCHIVE_OK)
      return Error::invalid("POSIX ACL entry not accepted");
  }
  return {};
}

// A v3 file capability names the host id of the user namespace's root it applies to: the
// container's root becomes a v2 capability (valid in any namespace), as setcap inside it makes.
std::string caps_back(std::string raw, const IdsBack& ids) {
  constexpr size_t kV2Size = 20, kV3Size = 24;
  if (!ids.shifted || raw.size() != kV3Size || (le32(raw, 0) & 0xff000000) != 0x03000000) return raw;
  uint32_t root = ids.uid(le32(raw, 20));
  if (root == 0) {
    uint32_t magic = htole32((le32(raw, 0) & 0x00ffffff) | 0x02000000);
    std::memcpy(raw.data(), &magic, 4);
    raw.resize(kV2Size);
  } else {
    uint32_t r = htole32(root);
    std::memcpy(raw.data() + 20, &r, 4);
  }
  return raw;
}

}  // namespace

uint32_t IdsBack::uid(uint32_t host) const { return shifted ? back(host, shifted->uid_map) : host; }
uint32_t IdsBack::gid(uint32_t host) const { return shifted ? back(host, shifted->gid_map) : host; }

Result<void> add_entry_attrs(archive_entry* e, const AttrSource& src, const IdsBack& ids) {
  auto names = list_names(src);
  if (!names) {
    if (names.error().code() == ENOTSUP) return {};  // a filesystem without xattrs
    return std::move(names).error();
  }
  for (const auto& name : split(*names, '\0')) {
    if (name.empty()) continue;
    // The host's SELinux label is the host's policy, not the image's content.
    if (name == "security.selinux") continue;
    auto value = get_value(src, name);
    if (!value && value.error().code() == ENODATA) continue;  // removed meanwhile
    if (!value) return std::move(value).error();
    if (name == "system.posix_acl_access") {
      if (auto r = add_acl(e, ARCHIVE_ENTRY_ACL_TYPE_ACCESS, *value, ids); !r) return std::move(r).error().context(name);
    } else if (name == "system.posix_acl_default") {
      if (auto r = add_acl(e, ARCHIVE_ENTRY_ACL_TYPE_DEFAULT, *value, ids); !r) return std::move(r).error().context(name);
    } else if (starts_with(name, "system.")) {
      continue;  // other filesystem-specific attributes (NFSv4 ACLs, ...) do not carry over
    } else {
      std::string v = name == "security.capability" ? caps_back(*value, ids) : *value;
      archive_entry_xattr_add_entry(e, name.c_str(), v.data(), v.size());
    }
  }
  return {};
}

}  // namespace cove::images
