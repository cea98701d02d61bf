#include "ns/idmap_registry.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <iterator>

#include <fmt/format.h>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "host_config.hpp"
#include "state/container_lock.hpp"

namespace cove::ns {
namespace {

constexpr int kLockTimeoutMs = 30000;

bool overlaps(const HostRange& a, uint64_t first, uint64_t count) {
  return a.first < first + count && first < a.first + a.count;
}

// An entry is live while its owner's container directory exists. (Not "while its config maps
// the range": cove-create records the range before it writes the config.)
bool is_live(const RegistryEntry& e) { return is_directory(dirname_of(e.owner)); }

// One config under two spellings (an entry recorded before cove paths were canonical).
bool same_file(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

struct Locked {
  std::vector<RegistryEntry> entries;
  ContainerLock lock;
};

// `all_live`: drop the entries of containers that are gone (a stat of each: allocation and
// release do it; a start's claim only looks at the entries its ranges touch, see there).
Result<Locked> open_locked(const std::string& path, bool all_live = true) {
  COVE_TRY(mkdir_p(dirname_of(path), 0711));
  auto lock = ContainerLock::acquire(path + ".lock", "id map registry", kLockTimeoutMs);
  if (!lock) return std::move(lock).error();
  std::vector<RegistryEntry> entries;
  if (auto text = read_file(path)) entries = parse_registry(*text);
  if (all_live) std::erase_if(entries, [](const RegistryEntry& e) { return !is_live(e); });
  return Locked{std::move(entries), std::move(*lock)};
}

std::vector<HostRange> subids(const std::string& file) {
  auto t = read_file(file);
  return t ? parse_subid(*t) : std::vector<HostRange>{};
}

}  // namespace

std::string registry_path() {
  if (const char* e = std::getenv("COVE_IDMAP_REGISTRY"); e && *e) return e;
  return host_config().state_dir + "/.idmap-registry";
}

std::vector<RegistryEntry> parse_registry(const std::string& text) {
  std::vector<RegistryEntry> out;
  for (auto line : lines_of(text)) {
    auto l = trim(line);
    if (l.empty() || l[0] == '#') continue;
    auto sp1 = l.find(' ');
    auto sp2 = sp1 == std::string_view::npos ? sp1 : l.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) continue;
    auto first = parse_uint(l.substr(0, sp1));
    auto count = parse_uint(l.substr(sp1 + 1, sp2 - sp1 - 1));
    if (!first || !count || *count == 0) continue;
    out.push_back({*first, *count, std::string(l.substr(sp2 + 1))});
  }
  return out;
}

std::string format_registry(const std::vector<RegistryEntry>& entries) {
  std::string out = "# cove: host id ranges of unprivileged containers (FIRST COUNT CONFIG); do not edit\n";
  out.reserve(out.size() + entries.size() * 64);
  for (const auto& e : entries) fmt::format_to(std::back_inserter(out), "{} {} {}\n", e.first, e.count, e.owner);
  return out;
}

std::vector<std::string> range_conflicts(const std::vector<HostRange>& ranges, const std::string& owner,
                                         const std::vector<RegistryEntry>& entries,
                                         const std::vector<HostRange>& subid_ranges, const std::string& subid_file) {
  std::vector<std::string> out;
  for (const auto& r : ranges) {
    std::string mine = fmt::format("host ids {}-{}", r.first, r.first + r.count - 1);
    for (const auto& e : entries) {
      if (e.owner == owner || !overlaps(r, e.first, e.count)) continue;
      out.push_back(fmt::format("{} overlap ids {}-{} of the container configured in `{}`", mine, e.first,
                                e.first + e.count - 1, e.owner));
    }
    for (const auto& s : subid_ranges) {
      if (!overlaps(r, s.first, s.count)) continue;
      out.push_back(fmt::format("{} overlap ids {}-{} that {} delegates to a user", mine, s.first,
                                s.first + s.count - 1, subid_file));
    }
  }
  return out;
}

Result<uint64_t> registry_allocate(const std::string& owner, const std::vector<HostRange>& also_used,
                                   const std::string& path) {
  auto reg = open_locked(path);
  if (!reg) return std::move(reg).error();
  std::erase_if(reg->entries, [&](const RegistryEntry& e) { return e.owner == owner; });
  std::vector<HostRange> used = also_used;
  for (const char* f : {"/etc/subuid", "/etc/subgid"}) {
    auto s = subids(f);
    used.insert(used.end(), s.begin(), s.end());
  }
  for (const auto& e : reg->entries) used.push_back({e.first, e.count});
  auto base = allocate_range(used);
  if (!base) return std::move(base).error();
  reg->entries.push_back({*base, kRangeSize, owner});
  COVE_TRY(write_file_atomic(path, format_registry(reg->entries), 0644));
  return *base;
}

Result<void> registry_claim(const std::string& owner, const std::vector<HostRange>& uid_ranges,
                            const std::vector<HostRange>& gid_ranges, const std::string& path,
                            const std::string& subuid, const std::string& subgid) {
  // Every start claims: it looks (stat) only at the entries its ranges overlap, a dead one
  // dropped and another spelling of its own config taken as its own. Looking at every entry
  // made a start O(containers created on the host): 3 stats each, +3 ms with 500.
  auto reg = open_locked(path, false);
  if (!reg) return std::move(reg).error();
  auto touches = [&](const RegistryEntry& e) {
    for (const auto* rs : {&uid_ranges, &gid_ranges})
      for (const auto& r : *rs)
        if (overlaps(r, e.first, e.count)) return true;
    return false;
  };
  auto& es = reg->entries;
  size_t before = es.size();
  std::erase_if(es, [&](const RegistryEntry& e) { return e.owner != owner && touches(e) && !is_live(e); });
  bool changed = es.size() != before;
  for (auto& e : es)
    if (e.owner != owner && touches(e) && same_file(e.owner, owner)) {
      e.owner = owner;
      changed = true;
    }
  auto problems = range_conflicts(uid_ranges, owner, es, subids(subuid), subuid);
  auto more = range_conflicts(gid_ranges, owner, es, subids(subgid), subgid);
  problems.insert(problems.end(), more.begin(), more.end());
  if (!problems.empty())
    return Error(EEXIST, "[idmap]: " + join(problems, "; ") +
                             " (choose free host ids, or remove the [idmap] entries and cove-create allocates a range)");
  // Our ranges: the entries we have stay where they are, others of ours go, missing ones are
  // added. Every start claims again, and most change nothing: then nothing is written.
  std::vector<HostRange> all = uid_ranges;
  all.insert(all.end(), gid_ranges.begin(), gid_ranges.end());
  auto wanted = [&](const RegistryEntry& e) {
    return std::any_of(all.begin(), all.end(), [&](const HostRange& r) { return r.first == e.first && r.count == e.count; });
  };
  before = es.size();
  std::erase_if(es, [&](const RegistryEntry& e) { return e.owner == owner && !wanted(e); });
  changed |= es.size() != before;
  for (const auto& r : all) {
    RegistryEntry e{r.first, r.count, owner};
    if (std::find(es.begin(), es.end(), e) != es.end()) continue;
    es.push_back(std::move(e));
    changed = true;
  }
  if (!changed) return {};
  return write_file_atomic(path, format_registry(es), 0644);
}

Result<void> registry_release(const std::string& owner, const std::string& path) {
  if (!path_exists(path)) return {};
  auto reg = open_locked(path);
  if (!reg) return std::move(reg).error();
  std::erase_if(reg->entries, [&](const RegistryEntry& e) { return e.owner == owner || same_file(e.owner, owner); });
  return write_file_atomic(path, format_registry(reg->entries), 0644);
}

}  // namespace cove::ns
