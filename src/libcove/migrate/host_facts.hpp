// What a host is and has, as the migration's checks compare them: CPU flags (/proc/cpuinfo),
// available memory (/proc/meminfo) and free space under a path. Read at the moment of the
// check; no caching.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace cove::migrate {

// The `flags` of the first processor in /proc/cpuinfo text, sorted.
std::vector<std::string> parse_cpu_flags(const std::string& cpuinfo);
std::vector<std::string> cpu_flags();
// The flags in `need` that `have` lacks (both sorted).
std::vector<std::string> missing_flags(const std::vector<std::string>& need, const std::vector<std::string>& have);
// MemAvailable of /proc/meminfo, in bytes.
Result<uint64_t> memory_available();
// Bytes free for root under `path` (statvfs f_bfree).
Result<uint64_t> free_bytes(const std::string& path);

}  // namespace cove::migrate
