#include "host_ids.hpp"

#include <fmt/format.h>

#include <cstring>

#include "base/dir.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "host_config.hpp"
#include "ns/idmap.hpp"
#include "ns/idmap_registry.hpp"
#include "state/container_lock.hpp"
#include "state/container_state.hpp"

namespace cove {

namespace {

using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;  // [first, count], as RuntimeState has them

std::vector<ns::HostRange> host_ranges(const std::vector<config::IdMapEntry>& map) {
  std::vector<ns::HostRange> out;
  for (const auto& e : map) out.push_back({e.host_id, e.count});
  return out;
}

// "host uids A-B overlap uids C-D of running container `DIR`" for each overlap.
void add_overlaps(const char* what, const std::vector<ns::HostRange>& mine, const Ranges& theirs,
                  const std::string& dir, std::vector<std::string>& out) {
  for (const auto& m : mine)
    for (const auto& [first, count] : theirs)
      if (m.first < first + count && first < m.first + m.count)
        out.push_back(fmt::format("host {} {}-{} overlap {} {}-{} of running container `{}`", what, m.first,
                                  m.first + m.count - 1, what, first, first + count - 1, dir));
}

// The live runtime states under the runtime dir other than `self`'s, whatever their cove path.
std::vector<RuntimeState> other_running(const std::string& self) {
  std::vector<RuntimeState> out;
  const std::string& base = host_config().runtime_dir;
  auto d = Dir::open(base);
  if (!d) return out;
  for (const DirEntry& e : *d) {
    if (e.name[0] == '.') continue;  // .dead-* (being removed)
    auto text = read_file(base + "/" + std::string(e.name) + "/state");
    if (!text) continue;
    auto rs = decode_runtime_state(*text);
    if (!rs || rs->container.empty() || rs->container == self) continue;
    ContainerPaths other(dirname_of(rs->container), basename_of(rs->container));
    if (is_monitor_lock_held(other.monitor_lock()) && process_matches(rs->monitor_pid, rs->monitor_starttime))
      out.push_back(std::move(*rs));
  }
  if (d->error()) log::warn("list `{}`: {}", base, std::strerror(d->error()));
  return out;
}

}  // namespace

Result<void> claim_host_ids(const ContainerPaths& p, const config::ContainerConfig& cfg, const std::string& shared_with) {
  if (cfg.privileged) return {};
  auto uids = host_ranges(cfg.uid_map), gids = host_ranges(cfg.gid_map);
  std::vector<std::string> problems;
  for (const auto& rs : other_running(p.dir())) {
    if (!shared_with.empty() && rs.container == shared_with) continue;
    add_overlaps("uids", uids, rs.host_uids, rs.container, problems);
    add_overlaps("gids", gids, rs.host_gids, rs.container, problems);
  }
  if (!problems.empty())
    return Error(EEXIST, "[idmap]: " + join(problems, "; ") + " (choose free host ids, or remove the [idmap] "
                                                                "entries and recreate the container to allocate a range)");
  return ns::registry_claim(p.config(), uids, gids);
}

}  // namespace cove
