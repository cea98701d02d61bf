#include "criu/stats.hpp"

#include <map>

#include "base/fs.hpp"

namespace cove::criu {

namespace {

constexpr uint32_t kServiceMagic = 0x55105940;  // IMG_SERVICE_MAGIC (criu/include/magic.h)
constexpr uint32_t kStatsMagic = 0x57093306;    // STATS_MAGIC

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

// Varint fields of one message, by field number; nested messages as byte ranges.
struct Fields {
  std::map<uint32_t, uint64_t> varints;
  std::map<uint32_t, std::pair<size_t, size_t>> nested;  // [begin, end)
};

Result<Fields> decode(const std::string& b, size_t pos, size_t end) {
  Fields f;
  while (pos < end) {
    uint64_t key;
    if (!read_varint(b, pos, end, key)) return Error(EPROTO, "truncated stats field");
    uint32_t field = uint32_t(key >> 3);
    switch (key & 7) {
      case 0: {
        uint64_t v;
        if (!read_varint(b, pos, end, v)) return Error(EPROTO, "truncated stats value");
        f.varints[field] = v;
        break;
      }
      case 2: {
        uint64_t len;
        if (!read_varint(b, pos, end, len) || len > end - pos) return Error(EPROTO, "truncated stats message");
        f.nested[field] = {pos, pos + len};
        pos += len;
        break;
      }
      case 1: pos += 8; break;
      case 5: pos += 4; break;
      default: return Error(EPROTO, "unexpected wire type in stats");
    }
  }
  if (pos != end) return Error(EPROTO, "truncated stats");
  return f;
}

// The fields of stats_entry's member `which` (1 = dump, 2 = restore).
Result<Fields> entry(const std::string& b, uint32_t which) {
  if (b.size() < 12) return Error(EPROTO, "stats file is too short");
  if (le32(b, 0) != kServiceMagic || le32(b, 4) != kStatsMagic) return Error(EPROTO, "not a CRIU stats file");
  size_t len = le32(b, 8);
  if (len > b.size() - 12) return Error(EPROTO, "truncated stats entry");
  auto top = decode(b, 12, 12 + len);
  if (!top) return std::move(top).error();
  auto it = top->nested.find(which);
  if (it == top->nested.end()) return Error(ENOENT, which == 1 ? "no dump statistics" : "no restore statistics");
  return decode(b, it->second.first, it->second.second);
}

uint64_t get(const Fields& f, uint32_t n) {
  auto it = f.varints.find(n);
  return it == f.varints.end() ? 0 : it->second;
}

}  // namespace

Result<DumpStats> parse_dump_stats(const std::string& bytes) {
  auto f = entry(bytes, 1);
  if (!f) return std::move(f).error();
  DumpStats s;
  s.freezing_time_us = uint32_t(get(*f, 1));
  s.frozen_time_us = uint32_t(get(*f, 2));
  s.memdump_time_us = uint32_t(get(*f, 3));
  s.memwrite_time_us = uint32_t(get(*f, 4));
  s.pages_scanned = get(*f, 5);
  s.pages_written = get(*f, 7);
  return s;
}

Result<RestoreStats> parse_restore_stats(const std::string& bytes) {
  auto f = entry(bytes, 2);
  if (!f) return std::move(f).error();
  RestoreStats s;
  s.forking_time_us = uint32_t(get(*f, 3));
  s.restore_time_us = uint32_t(get(*f, 4));
  s.pages_restored = get(*f, 5);
  return s;
}

Result<DumpStats> read_dump_stats(const std::string& images_dir) {
  auto b = read_file(images_dir + "/stats-dump");
  if (!b) return std::move(b).error();
  return parse_dump_stats(*b);
}

Result<RestoreStats> read_restore_stats(const std::string& images_dir) {
  auto b = read_file(images_dir + "/stats-restore");
  if (!b) return std::move(b).error();
  return parse_restore_stats(*b);
}

}  // namespace cove::criu
