// CRIU's statistics of one dump or restore, read from the `stats-dump` / `stats-restore` files
// CRIU writes into the image directory. Those files are CRIU service images: a 4-byte service
// magic, a 4-byte type magic, then one length-prefixed protobuf `stats_entry`. Only a few
// fields are needed, so they are decoded here from the wire format directly (no stats.proto,
// which CRIU does not install). Pure functions; unit-tested on literal bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/result.hpp"

namespace cove::criu {

struct DumpStats {
  uint32_t freezing_time_us = 0;  // time to freeze the tree
  uint32_t frozen_time_us = 0;    // how long the tasks stayed frozen (the downtime of a dump)
  uint32_t memdump_time_us = 0;
  uint32_t memwrite_time_us = 0;
  uint64_t pages_scanned = 0;
  uint64_t pages_written = 0;
};

struct RestoreStats {
  uint32_t forking_time_us = 0;
  uint32_t restore_time_us = 0;
  uint64_t pages_restored = 0;
};

// Decodes the contents of a stats file. Fails on a wrong magic or truncated data.
Result<DumpStats> parse_dump_stats(const std::string& bytes);
Result<RestoreStats> parse_restore_stats(const std::string& bytes);

// Reads DIR/stats-dump or DIR/stats-restore.
Result<DumpStats> read_dump_stats(const std::string& images_dir);
Result<RestoreStats> read_restore_stats(const std::string& images_dir);

}  // namespace cove::criu
