#include "criu/stats.hpp"

#include "base/fs.hpp"
#include "criu/wire.hpp"

namespace cove::criu {

namespace {

constexpr uint32_t kStatsMagic = 0x57093306;  // STATS_MAGIC (criu/include/magic.h)

// The fields of stats_entry's member `which` (1 = dump, 2 = restore).
Result<wire::Fields> entry(const std::string& b, uint32_t which) {
  if (b.size() < 12) return Error(EPROTO, "stats file is too short");
  if (wire::le32(b, 0) != wire::kServiceMagic || wire::le32(b, 4) != kStatsMagic)
    return Error(EPROTO, "not a CRIU stats file");
  size_t len = wire::le32(b, 8);
  if (len > b.size() - 12) return Error(EPROTO, "truncated stats entry");
  auto top = wire::decode(b, 12, 12 + len);
  if (!top) return std::move(top).error().context("stats");
  auto it = top->nested.find(which);
  if (it == top->nested.end()) return Error(ENOENT, which == 1 ? "no dump statistics" : "no restore statistics");
  auto f = wire::decode(b, it->second.first, it->second.second);
  if (!f) return std::move(f).error().context("stats");
  return f;
}

uint64_t get(const wire::Fields& f, uint32_t n) { return f.get(n); }

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
