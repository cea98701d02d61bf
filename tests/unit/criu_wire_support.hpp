// Test support: writing CRIU's image encoding by hand (little-endian sizes, protobuf varints
// and fields), for the image readers' unit tests.
#pragma once

#include <cstdint>
#include <string>

namespace cove::test::criu_wire {

inline std::string le32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = char((v >> (8 * i)) & 0xff);
  return s;
}
inline std::string varint(uint64_t v) {
  std::string s;
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    s += char(v ? b | 0x80 : b);
  } while (v);
  return s;
}
// A varint field `n`, and a length-delimited (nested message) field `n`.
inline std::string field(uint32_t n, uint64_t v) { return varint(n << 3) + varint(v); }
inline std::string nested(uint32_t n, const std::string& body) { return varint((n << 3) | 2) + varint(body.size()) + body; }

}  // namespace cove::test::criu_wire
