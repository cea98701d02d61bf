#include "host_ids.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/dir.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "base/unique_fd.hpp"
#include "host_config.hpp"
#include "ns/idmap.hpp"
#include "ns/idmap_registry.hpp"
#include "state/container_lock.hpp"
#include "state/container_state.hpp"

namespace cove {

namespace {

std::vector<ns::HostRange> host_ranges(const std::vector<config::IdMapEntry>& map) {
  std::vector<ns::HostRange> out;
  for (const auto& e : map) out.push_back({e.host_id, e.count});
  return out;
}

// RUNTIME_DIR/.running-ids: the host id ranges of the containers started from this runtime
// dir, a line each ("uid|gid FIRST COUNT DIR"), changed under flock on .running-ids.lock: a
// start checks and adds its own in one step, the monitor's cleanup removes them, and the last
// one out removes both files (the runtime dir holds nothing once no container runs). A start so
// reads one small file, where it read and decoded every running container's state before
// (O(N): 30 ms of a start with 500 running here). An entry left by a monitor that died is
// harmless: only an overlapping entry is checked for a live monitor, and a dead one dropped.
struct RunningEntry {
  std::string kind;  // "uid" or "gid"
  uint64_t first = 0, count = 0;
  std::string dir;
};

std::string index_path() { return host_config().runtime_dir + "/.running-ids"; }

std::vector<RunningEntry> parse_index(const std::string& text) {
  std::vector<RunningEntry> out;
  for (const auto& line : split(text, '\n')) {
    auto w = split_ws(line);
    if (w.size() != 4 || (w[0] != "uid" && w[0] != "gid")) continue;
    auto first = parse_uint(w[1]), count = parse_uint(w[2]);
    if (!first || !count || *count == 0) continue;
    out.push_back({w[0], *first, *count, w[3]});
  }
  return out;
}

std::string format_index(const std::vector<RunningEntry>& entries) {
  std::string out;
  for (const auto& e : entries) out += fmt::format("{} {} {} {}\n", e.kind, e.first, e.count, e.dir);
  return out;
}

// The index, locked for the caller's read-modify-write.
struct LockedIndex {
  UniqueFd lock;
  std::vector<RunningEntry> entries;
};

constexpr int kIndexLockTimeoutMs = 30 * 1000;

Result<LockedIndex> lock_index() {
  LockedIndex li;
  auto lock = lock_removable_file(index_path() + ".lock", "the index of running containers' ids", kIndexLockTimeoutMs);
  if (!lock) return std::move(lock).error();
  li.lock = std::move(*lock);
  if (auto t = read_file(index_path())) li.entries = parse_index(*t);
  return li;
}

// An empty index goes with its lock file (removed while held: waiters retry on a new one).
Result<void> write_index(const LockedIndex& li) {
  if (!li.entries.empty()) return write_file_atomic(index_path(), format_index(li.entries), 0600, Durability::kVolatile);
  if (::unlink(index_path().c_str()) < 0 && errno != ENOENT) return Error::from_errno(errno, "remove `" + index_path() + "`");
  if (::unlink((index_path() + ".lock").c_str()) < 0 && errno != ENOENT)
    return Error::from_errno(errno, "remove `" + index_path() + ".lock`");
  return {};
}

// Whether the container at `dir` (PATH/NAME) runs: its monitor holds its lock and is the
// process its runtime state names.
bool runs(const std::string& dir) {
  ContainerPaths other(dirname_of(dir), basename_of(dir));
  auto text = read_file(other.runtime_dir() + "/state");
  if (!text) return false;
  auto rs = decode_runtime_state(*text);
  return rs && rs->container == dir && is_monitor_lock_held(other.monitor_lock()) &&
         process_matches(rs->monitor_pid, rs->monitor_starttime);
}

bool overlap(const ns::HostRange& m, const RunningEntry& e) { return m.first < e.first + e.count && e.first < m.first + m.count; }

}  // namespace

Result<void> claim_host_ids(const ContainerPaths& p, const config::ContainerConfig& cfg, const std::string& shared_with) {
  if (cfg.privileged) return {};
  auto uids = host_ranges(cfg.uid_map), gids = host_ranges(cfg.gid_map);
  auto index = lock_index();
  if (!index) return std::move(index).error();
  std::vector<std::string> problems;
  std::vector<RunningEntry> keep;
  for (auto& e : index->entries) {
    if (e.dir == p.dir()) continue;  // replaced below
    const auto& mine = e.kind == "uid" ? uids : gids;
    bool hit = e.dir != shared_with && std::any_of(mine.begin(), mine.end(), [&](const auto& m) { return overlap(m, e); });
    if (hit && !runs(e.dir)) continue;  // left by a monitor that died
    if (hit)
      for (const auto& m : mine)
        if (overlap(m, e))
          problems.push_back(fmt::format("host {}s {}-{} overlap {}s {}-{} of running container `{}`", e.kind, m.first,
                                         m.first + m.count - 1, e.kind, e.first, e.first + e.count - 1, e.dir));
    keep.push_back(std::move(e));
  }
  // Written back also when refused: without the dead entries (and gone when empty).
  index->entries = std::move(keep);
  if (!problems.empty()) {
    (void)write_index(*index);
    return Error(EEXIST, "[idmap]: " + join(problems, "; ") + " (choose free host ids, or remove the [idmap] "
                                                                "entries and recreate the container to allocate a range)");
  }
  if (auto c = ns::registry_claim(p.config(), uids, gids); !c) {
    (void)write_index(*index);
    return c;
  }
  for (const auto& r : uids) index->entries.push_back({"uid", r.first, r.count, p.dir()});
  for (const auto& r : gids) index->entries.push_back({"gid", r.first, r.count, p.dir()});
  return write_index(*index);
}

void release_host_ids(const ContainerPaths& p) {
  auto index = lock_index();
  if (!index) return log::warn("release host ids: {}", index.error().message());
  auto& es = index->entries;
  auto before = es.size();
  es.erase(std::remove_if(es.begin(), es.end(), [&](const RunningEntry& e) { return e.dir == p.dir(); }), es.end());
  if (es.size() != before || es.empty())
    if (auto w = write_index(*index); !w) log::warn("release host ids: {}", w.error().message());
}

}  // namespace cove
