#include "host_ids.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <memory>
#include <string_view>

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
// An entry read from the index points into the text its LockedIndex holds (a start reads
// every running container's lines: no copies); a start's own point at its ContainerPaths.
struct RunningEntry {
  std::string_view kind;  // "uid" or "gid"
  uint64_t first = 0, count = 0;
  std::string_view dir;
};

std::string index_path() { return host_config().runtime_dir + "/.running-ids"; }

// A line per entry, parsed in place (a start reads every running container's lines).
std::vector<RunningEntry> parse_index(const std::string& text) {
  std::vector<RunningEntry> out;
  out.reserve(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1);
  for (auto line : lines_of(text)) {
    auto kind = take_word(line), first = take_word(line), count = take_word(line), dir = take_word(line);
    if ((kind != "uid" && kind != "gid") || dir.empty() || !take_word(line).empty()) continue;
    auto f = parse_uint(first), c = parse_uint(count);
    if (!f || !c || *c == 0) continue;
    out.push_back({kind, *f, *c, dir});
  }
  return out;
}

void format_entry(std::string& out, const RunningEntry& e) {
  fmt::format_to(std::back_inserter(out), "{} {} {} {}\n", e.kind, e.first, e.count, e.dir);
}

std::string format_index(const std::vector<RunningEntry>& entries) {
  std::string out;
  out.reserve(entries.size() * 64);
  for (const auto& e : entries) format_entry(out, e);
  return out;
}

// The index, locked for the caller's read-modify-write.
struct LockedIndex {
  UniqueFd lock;
  std::unique_ptr<const std::string> text;  // what `entries` read from the file point into (never moves)
  std::vector<RunningEntry> entries;
  bool ends_a_line = true;  // the file is empty or ends with '\n' (an append starts a line)
};

constexpr int kIndexLockTimeoutMs = 30 * 1000;

Result<LockedIndex> lock_index() {
  LockedIndex li;
  auto lock = lock_removable_file(index_path() + ".lock", "the index of running containers' ids", kIndexLockTimeoutMs);
  if (!lock) return std::move(lock).error();
  li.lock = std::move(*lock);
  if (auto t = read_file(index_path())) {
    li.text = std::make_unique<const std::string>(std::move(*t));
    li.entries = parse_index(*li.text);
    li.ends_a_line = li.text->empty() || li.text->back() == '\n';
  }
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
bool runs(std::string_view dir_view) {
  std::string dir(dir_view);
  ContainerPaths other(dirname_of(dir), basename_of(dir));
  auto text = read_file(other.runtime_dir() + "/state");
  if (!text) return false;
  auto rs = decode_runtime_state(*text);
  return rs && rs->container == dir && is_monitor_lock_held(other.monitor_lock()) &&
         process_matches(rs->monitor_pid, rs->monitor_starttime);
}

// `added` (the last entries of `li`) at the end of the file, the rest as it is: a start that
// dropped nothing writes its own lines only, not every running container's.
Result<void> append_index(const LockedIndex& li, size_t added) {
  std::string text = li.ends_a_line ? "" : "\n";
  for (size_t i = li.entries.size() - added; i < li.entries.size(); ++i) format_entry(text, li.entries[i]);
  return append_file(index_path(), text, 0600);
}

bool overlap(const ns::HostRange& m, const RunningEntry& e) { return m.first < e.first + e.count && e.first < m.first + m.count; }

}  // namespace

Result<void> claim_host_ids(const ContainerPaths& p, const config::ContainerConfig& cfg, const std::string& shared_with) {
  if (cfg.privileged) return {};
  auto uids = host_ranges(cfg.uid_map), gids = host_ranges(cfg.gid_map);
  const std::string dir = p.dir();  // what this start's entries point at
  auto index = lock_index();
  if (!index) return std::move(index).error();
  std::vector<std::string> problems;
  auto& es = index->entries;
  auto gone = [&](const RunningEntry& e) {
    const auto& mine = e.kind == "uid" ? uids : gids;
    bool hit = e.dir != shared_with && std::any_of(mine.begin(), mine.end(), [&](const auto& m) { return overlap(m, e); });
    if (e.dir == dir || (hit && !runs(e.dir))) return true;  // ours (replaced below), or left by a monitor that died
    if (hit)
      for (const auto& m : mine)
        if (overlap(m, e))
          problems.push_back(fmt::format("host {}s {}-{} overlap {}s {}-{} of running container `{}`", e.kind, m.first,
                                         m.first + m.count - 1, e.kind, e.first, e.first + e.count - 1, e.dir));
    return false;
  };
  size_t before = es.size();
  std::erase_if(es, gone);
  bool dropped = es.size() != before;
  // Written back also when refused: without the dead entries (and gone when empty).
  if (!problems.empty()) {
    (void)write_index(*index);
    return Error(EEXIST, "[idmap]: " + join(problems, "; ") + " (choose free host ids, or remove the [idmap] "
                                                                "entries and recreate the container to allocate a range)");
  }
  if (auto c = ns::registry_claim(p.config(), uids, gids); !c) {
    (void)write_index(*index);
    return c;
  }
  for (const auto& r : uids) index->entries.push_back({"uid", r.first, r.count, dir});
  for (const auto& r : gids) index->entries.push_back({"gid", r.first, r.count, dir});
  return dropped ? write_index(*index) : append_index(*index, uids.size() + gids.size());
}

void release_host_ids(const ContainerPaths& p) {
  auto index = lock_index();
  if (!index) return log::warn("release host ids: {}", index.error().message());
  auto& es = index->entries;
  auto before = es.size();
  const std::string dir = p.dir();
  es.erase(std::remove_if(es.begin(), es.end(), [&](const RunningEntry& e) { return e.dir == dir; }), es.end());
  if (es.size() != before || es.empty())
    if (auto w = write_index(*index); !w) log::warn("release host ids: {}", w.error().message());
}

}  // namespace cove
