// The little of protobuf's wire format and CRIU's image framing that cove reads itself (CRIU
// installs no .proto but rpc.proto): a CRIU image is one or two 4-byte magics, then entries,
// each a 4-byte little-endian length and that many bytes of one protobuf message. Only varint
// fields and nested messages are decoded; other wire types are skipped. Used by criu/ (stats,
// image_check, tty_info); pure functions, unit-tested on literal bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "base/result.hpp"

namespace cove::criu::wire {

inline constexpr uint32_t kCommonMagic = 0x54564319;   // IMG_COMMON_MAGIC (criu/include/magic.h)
inline constexpr uint32_t kServiceMagic = 0x55105940;  // IMG_SERVICE_MAGIC

uint32_t le32(const std::string& b, size_t at);
bool read_varint(const std::string& b, size_t& pos, size_t end, uint64_t& out);

// Varint fields of one message, by field number (the last one wins); nested messages and
// other length-delimited fields as byte ranges.
struct Fields {
  std::map<uint32_t, uint64_t> varints;
  std::map<uint32_t, size_t> varint_at;  // where each varint's value starts (to patch in place)
  std::map<uint32_t, std::pair<size_t, size_t>> nested;  // [begin, end)
  uint32_t max_field = 0;  // the highest field number seen, of any wire type
  bool has(uint32_t n) const { return varints.count(n) != 0; }
  uint64_t get(uint32_t n) const {
    auto it = varints.find(n);
    return it == varints.end() ? 0 : it->second;
  }
};

// Decodes the message in b[pos, end). Fails (EPROTO) on a truncated field or an unknown wire type.
Result<Fields> decode(const std::string& b, size_t pos, size_t end);

// Walks the entries of an image from `pos` (after its magics) to the end of `b`, calling
// `on_entry(begin, end)` for each; fails (EPROTO) when the last entry runs past the end.
template <typename F>
Result<void> for_each_entry(const std::string& b, size_t pos, F&& on_entry) {
  while (pos < b.size()) {
    if (b.size() - pos < 4) return Error(EPROTO, "truncated entry header at byte " + std::to_string(pos));
    size_t len = le32(b, pos);
    pos += 4;
    if (len > b.size() - pos)
      return Error(EPROTO, "entry at byte " + std::to_string(pos - 4) + " needs " + std::to_string(len) +
                               " bytes, " + std::to_string(b.size() - pos) + " are left");
    if (auto r = on_entry(pos, pos + len); !r) return r;
    pos += len;
  }
  return {};
}

}  // namespace cove::criu::wire
