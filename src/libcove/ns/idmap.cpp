#include "ns/idmap.hpp"

#include <algorithm>
#include <fmt/format.h>

#include "base/fs.hpp"
#include "base/strings.hpp"

namespace cove::ns {

std::string format_idmap(const std::vector<IdMapEntry>& map) {
  std::string out;
  for (const auto& e : map) out += fmt::format("{} {} {}\n", e.container_id, e.host_id, e.count);
  return out;
}

Result<void> write_idmaps(pid_t pid, const std::vector<IdMapEntry>& uid_map, const std::vector<IdMapEntry>& gid_map) {
  std::string base = "/proc/" + std::to_string(pid);
  if (auto r = write_existing(base + "/uid_map", format_idmap(uid_map)); !r)
    return std::move(r).error().context("write uid map");
  if (auto r = write_existing(base + "/gid_map", format_idmap(gid_map)); !r)
    return std::move(r).error().context("write gid map");
  return {};
}

std::optional<uint32_t> host_id_of(const std::vector<IdMapEntry>& map, uint32_t id) {
  for (const auto& e : map)
    if (id >= e.container_id && id - e.container_id < e.count) return e.host_id + (id - e.container_id);
  return std::nullopt;
}

std::vector<HostRange> parse_subid(const std::string& text) {
  std::vector<HostRange> out;
  for (const auto& line : split(text, '\n')) {
    auto f = split(std::string(trim(line)), ':');
    if (f.size() != 3) continue;
    auto first = parse_uint(f[1]);
    auto count = parse_uint(f[2]);
    if (first && count && *count > 0) out.push_back({*first, *count});
  }
  return out;
}

std::vector<HostRange> scan_config_ranges(const std::string& config_text, const char* key) {
  std::vector<HostRange> out;
  bool in_idmap = false;
  for (const auto& raw : split(config_text, '\n')) {
    auto line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      in_idmap = line == "[idmap]";
      continue;
    }
    if (!in_idmap) continue;
    auto eq = line.find('=');
    if (eq == std::string_view::npos || trim(line.substr(0, eq)) != key) continue;
    auto f = split_ws(line.substr(eq + 1));
    if (f.size() != 3) continue;
    auto host = parse_uint(f[1]);
    auto count = parse_uint(f[2]);
    if (host && count) out.push_back({*host, *count});
  }
  return out;
}

Result<uint64_t> allocate_range(const std::vector<HostRange>& used, uint64_t size, uint64_t pool_first,
                                uint64_t pool_end) {
  std::vector<HostRange> sorted = used;
  std::sort(sorted.begin(), sorted.end(), [](const HostRange& a, const HostRange& b) { return a.first < b.first; });
  uint64_t candidate = pool_first;
  for (const auto& r : sorted) {
    if (r.first + r.count <= candidate) continue;
    if (r.first >= candidate + size) break;
    candidate = r.first + r.count;
    // Keep ranges aligned to `size` so that allocations stay easy to read.
    candidate = (candidate + size - 1) / size * size;
  }
  if (candidate + size > pool_end)
    return Error(ENOSPC, fmt::format("no free host id range of {} ids left in the pool {}-{}", size, pool_first,
                                     pool_end - 1));
  return candidate;
}

}  // namespace cove::ns
