#include "criu/wire.hpp"

#include <algorithm>

namespace cove::criu::wire {

uint32_t le32(const std::string& b, size_t at) {
  return uint32_t(uint8_t(b[at])) | uint32_t(uint8_t(b[at + 1])) << 8 | uint32_t(uint8_t(b[at + 2])) << 16 |
         uint32_t(uint8_t(b[at + 3])) << 24;
}

bool read_varint(const std::string& b, size_t& pos, size_t end, uint64_t& out) {
  out = 0;
  for (int shift = 0; pos < end && shift < 64; shift += 7) {
    uint8_t c = uint8_t(b[pos++]);
    out |= uint64_t(c & 0x7f) << shift;
    if (!(c & 0x80)) return true;
  }
  return false;
}

Result<Fields> decode(const std::string& b, size_t pos, size_t end) {
  Fields f;
  while (pos < end) {
    uint64_t key;
    if (!read_varint(b, pos, end, key)) return Error(EPROTO, "truncated field");
    uint32_t field = uint32_t(key >> 3);
    f.max_field = std::max(f.max_field, field);
    size_t skip = 0;
    switch (key & 7) {
      case 0: {
        uint64_t v;
        f.varint_at[field] = pos;
        if (!read_varint(b, pos, end, v)) return Error(EPROTO, "truncated value");
        f.varints[field] = v;
        break;
      }
      case 2: {
        uint64_t len;
        if (!read_varint(b, pos, end, len) || len > end - pos) return Error(EPROTO, "truncated message");
        f.nested[field] = {pos, pos + len};
        pos += len;
        break;
      }
      case 1: skip = 8; break;
      case 5: skip = 4; break;
      default: return Error(EPROTO, "unexpected wire type");
    }
    if (skip > end - pos) return Error(EPROTO, "truncated fixed-size field");
    pos += skip;
  }
  return f;
}

}  // namespace cove::criu::wire
