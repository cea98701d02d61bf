// The named cross-key rules of validate.hpp.
#include "config/validate.hpp"

#include <algorithm>
#include <initializer_list>

#include "base/strings.hpp"
#include "config/keys_network.hpp"

namespace cove::config {
namespace {

using C = ContainerConfig;
using Errors = std::vector<std::string>;

constexpr size_t kMaxIdMapEntries = 340;  // the kernel's limit per uid_map/gid_map

// "FILE:LINE: " of the first of `keys` that was set in a file, or "".
std::string at(const C& c, std::initializer_list<const char*> keys) {
  for (const char* k : keys)
    if (auto it = c.origin.find(k); it != c.origin.end()) return it->second + ": ";
  return "";
}

bool clones(const C& c, Namespace ns) { return std::find(c.clone_ns.begin(), c.clone_ns.end(), ns) != c.clone_ns.end(); }

std::string text(const IdMapEntry& e) {
  return std::to_string(e.container_id) + " " + std::to_string(e.host_id) + " " + std::to_string(e.count);
}

bool maps_root(const std::vector<IdMapEntry>& map) {
  return std::any_of(map.begin(), map.end(), [](const IdMapEntry& e) { return e.container_id == 0; });
}

void init_absolute(const C& c, Errors& out) {
  if (c.init.empty() || c.init[0].empty()) out.push_back(at(c, {"container.init"}) + "`init` must not be empty");
  else if (c.init[0].front() != '/')
    out.push_back(at(c, {"container.init"}) + "init `" + c.init[0] + "` is not an absolute path");
}

void mnt_and_pid(const C& c, Errors& out) {
  for (Namespace ns : {Namespace::kMnt, Namespace::kPid})
    if (!clones(c, ns))
      out.push_back(at(c, {"namespaces.clone"}) + "[namespaces] clone lacks `" + namespace_name(ns) +
                    "`: cove needs mnt and pid namespaces: pivot_root and init as PID 1");
}

void unprivileged_needs_userns(const C& c, Errors& out) {
  if (!c.privileged && !clones(c, Namespace::kUser))
    out.push_back(at(c, {"namespaces.clone", "container.privileged"}) +
                  "an unprivileged container needs `user` in [namespaces] clone (or `privileged = true`)");
}

void unprivileged_needs_root_map(const C& c, Errors& out) {
  if (c.privileged) return;
  if (!maps_root(c.uid_map))
    out.push_back(at(c, {"idmap.uid", "container.privileged"}) +
                  "an unprivileged container needs an [idmap] uid entry that maps container id 0");
  if (!maps_root(c.gid_map))
    out.push_back(at(c, {"idmap.gid", "container.privileged"}) +
                  "an unprivileged container needs an [idmap] gid entry that maps container id 0");
}

void privileged_has_no_userns(const C& c, Errors& out) {
  if (!c.privileged) return;
  if (clones(c, Namespace::kUser))
    out.push_back(at(c, {"namespaces.clone", "container.privileged"}) +
                  "a privileged container must not have `user` in [namespaces] clone");
  if (!c.uid_map.empty())
    out.push_back(at(c, {"idmap.uid"}) + "a privileged container must not have [idmap] uid entries (no user namespace)");
  if (!c.gid_map.empty())
    out.push_back(at(c, {"idmap.gid"}) + "a privileged container must not have [idmap] gid entries (no user namespace)");
}

void hostname_needs_uts(const C& c, Errors& out) {
  if (!c.hostname.empty() && !clones(c, Namespace::kUts) && !c.share_ns.count(Namespace::kUts))
    out.push_back(at(c, {"container.hostname"}) + "hostname `" + c.hostname +
                  "` needs `uts` in [namespaces] clone (or share.uts)");
}

void cloned_or_shared(const C& c, Errors& out) {
  for (const auto& [ns, other] : c.share_ns) {
    std::string key = std::string("namespaces.share.") + namespace_name(ns);
    if (clones(c, ns))
      out.push_back(at(c, {key.c_str(), "namespaces.clone"}) + "namespace `" + namespace_name(ns) +
                    "` is both in clone and shared with `" + other + "`: remove it from clone");
    if (!c.name.empty() && other == c.name)
      out.push_back(at(c, {key.c_str()}) + "share." + namespace_name(ns) + " names the container itself");
  }
}

void idmap_entries(const C& c, Errors& out) {
  for (const char* which : {"uid", "gid"}) {
    const auto& map = std::string(which) == "uid" ? c.uid_map : c.gid_map;
    std::string where = at(c, {which[0] == 'u' ? "idmap.uid" : "idmap.gid"});
    if (map.size() > kMaxIdMapEntries)
      out.push_back(where + "[idmap] " + which + " has " + std::to_string(map.size()) + " entries (max " +
                    std::to_string(kMaxIdMapEntries) + ")");
    auto overlap = [](uint64_t a, uint64_t n, uint64_t b, uint64_t m) { return a < b + m && b < a + n; };
    for (size_t i = 0; i < map.size(); ++i) {
      for (size_t j = i + 1; j < map.size(); ++j) {
        const auto &x = map[i], &y = map[j];
        const char* side = overlap(x.container_id, x.count, y.container_id, y.count) ? "container"
                           : overlap(x.host_id, x.count, y.host_id, y.count)     ? "host"
                                                                                  : nullptr;
        if (side)
          out.push_back(where + "[idmap] " + which + " entries `" + text(x) + "` and `" + text(y) +
                        "` overlap on the " + side + " side");
      }
    }
  }
}

void storage_keys_fit_backend(const C& c, Errors& out) {
  const auto& st = c.storage;
  std::string name = storage_backend_name(st.backend);
  if (st.backend == StorageBackend::kLoop && !st.size)
    out.push_back(at(c, {"rootfs.backend"}) + "backend `loop` needs [rootfs] size (the ext4 image's size)");
  if (st.backend == StorageBackend::kDir && st.size)
    out.push_back(at(c, {"rootfs.size"}) + "[rootfs] size needs a backend with quotas (loop, btrfs, overlay), not `dir`");
  if (st.backend == StorageBackend::kOverlay && st.lower.empty())
    out.push_back(at(c, {"rootfs.backend"}) + "backend `overlay` needs at least one [rootfs] lower");
  if (st.backend != StorageBackend::kOverlay && !st.lower.empty())
    out.push_back(at(c, {"rootfs.lower"}) + "[rootfs] lower is for backend `overlay`, not `" + name + "`");
  if (st.backend != StorageBackend::kDir && c.security.rootfs_idmap == RootfsIdmap::kShift)
    out.push_back(at(c, {"idmap.rootfs"}) + "[idmap] rootfs = shift works on backend `dir` only (`" + name +
                  "` is idmapped)");
}

constexpr ValidationRule kRules[] = {
    {"init-absolute", init_absolute},
    {"mnt-and-pid-required", mnt_and_pid},
    {"unprivileged-needs-userns", unprivileged_needs_userns},
    {"unprivileged-needs-root-map", unprivileged_needs_root_map},
    {"privileged-has-no-userns", privileged_has_no_userns},
    {"hostname-needs-uts", hostname_needs_uts},
    {"namespace-cloned-or-shared", cloned_or_shared},
    {"idmap-entries-disjoint", idmap_entries},
    {"nics-consistent", validate_nics},
    {"storage-keys-fit-backend", storage_keys_fit_backend},
};

}  // namespace

std::span<const ValidationRule> validation_rules() { return kRules; }

std::vector<std::string> validate(const ContainerConfig& config) {
  Errors out;
  for (const auto& rule : kRules) rule.check(config, out);
  return out;
}

}  // namespace cove::config
