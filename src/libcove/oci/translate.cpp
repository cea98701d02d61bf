#include "oci/translate.hpp"

#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>

#include <fmt/format.h>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "base/syscalls.hpp"  // CLONE_NEWTIME (linux/sched.h)
#include "config/container_config.hpp"
#include "lifecycle/security_plan.hpp"
#include "oci/hooks.hpp"
#include "security/cap_names.hpp"
#include "security/capabilities.hpp"
#include "security/lsm/lsm.hpp"
#include "security/seccomp/policy.hpp"


namespace cove::oci {

namespace {

std::string_view trim_leading_slashes(std::string_view p) {
  while (!p.empty() && p.front() == '/') p.remove_prefix(1);
  return p;
}

using config::AutoMountMode;
using config::Namespace;

Error unsupported(const std::string& field, const std::string& why = "") {
  return Error(EOPNOTSUPP, "`" + field + "`: not supported by cove-oci" + (why.empty() ? "" : " (" + why + ")"));
}

// --- namespaces ---------------------------------------------------------------------------------

struct NsKind {
  const char* oci;
  Namespace cove;
  int clone_flag;
  bool joinable;                   // by path, entered by the runtime before the clone
};
constexpr NsKind kNamespaces[] = {
    {"pid", Namespace::kPid, CLONE_NEWPID, true},     {"network", Namespace::kNet, CLONE_NEWNET, true},
    {"mount", Namespace::kMnt, CLONE_NEWNS, false},   {"ipc", Namespace::kIpc, CLONE_NEWIPC, true},
    {"uts", Namespace::kUts, CLONE_NEWUTS, true},     {"user", Namespace::kUser, CLONE_NEWUSER, false},
    {"cgroup", Namespace::kCgroup, CLONE_NEWCGROUP, false}, {"time", Namespace::kTime, CLONE_NEWTIME, false},
};

Result<void> namespaces(const Linux& lx, config::ContainerConfig& cfg, Launch& out) {
  bool mount = false;
  for (size_t i = 0; i < lx.namespaces.size(); ++i) {
    const auto& n = lx.namespaces[i];
    const NsKind* kind = nullptr;
    for (const auto& k : kNamespaces)
      if (n.type == k.oci) kind = &k;
    if (!kind) return Error::invalid(fmt::format("`linux.namespaces[{}].type`: unknown `{}`", i, n.type));
    if (kind->cove == Namespace::kMnt) mount = true;
    if (n.path.empty()) {
      cfg.clone_ns.push_back(kind->cove);
    } else if (!kind->joinable) {
      return unsupported(fmt::format("linux.namespaces[{}].path", i), "joining a " + n.type + " namespace");
    } else {
      out.joined.push_back({kind->clone_flag, n.path});
    }
  }
  if (!mount) return unsupported("linux.namespaces", "a container without its own mount namespace");
  return {};
}

bool has_ns(const config::ContainerConfig& cfg, const Launch& out, Namespace ns, int flag) {
  if (std::find(cfg.clone_ns.begin(), cfg.clone_ns.end(), ns) != cfg.clone_ns.end()) return true;
  return std::any_of(out.joined.begin(), out.joined.end(), [&](const JoinedNamespace& j) { return j.clone_flag == flag; });
}

// --- mounts -------------------------------------------------------------------------------------

bool has_option(const Mount& m, const char* opt) {
  return std::find(m.options.begin(), m.options.end(), opt) != m.options.end();
}

// The standard mounts of a bundle are cove's own: proc, sys and the cgroup tree are its guarded
// automounts (masked and locked as for every cove container), /dev with its devpts, shm and
// mqueue is cove's /dev. Returns false for a mount that is not one of them.
bool standard_mount(const Mount& m, config::ContainerConfig& cfg) {
  const auto& d = m.destination;
  auto mode = has_option(m, "ro") ? AutoMountMode::kRo : AutoMountMode::kRw;
  if (d == "/proc" && m.type == "proc") cfg.auto_mounts.proc = AutoMountMode::kRw;
  else if (d == "/sys" && m.type == "sysfs") cfg.auto_mounts.sys = mode;
  else if (d == "/sys/fs/cgroup" && (m.type == "cgroup" || m.type == "cgroup2")) cfg.auto_mounts.cgroup = mode;
  else if ((d == "/dev" || d == "/dev/shm") && m.type == "tmpfs") {}
  else if (d == "/dev/pts" && m.type == "devpts") {}
  else if (d == "/dev/mqueue" && m.type == "mqueue") {}
  else return false;
  return true;
}


// An idmapped mount (`uidMappings`/`gidMappings`, options `idmap`/`ridmap`) as cove's mount
// options: `uidmap=`/`gidmap=` with the bundle's mappings, or `idmap=container` (the
// container's user namespace's) when it gives none, as runc does. The mapping covers the bind's
// whole tree when it is an `rbind`; `idmap`/`ridmap` themselves are not passed on.
Result<void> idmap_options(const Mount& m, const std::string& where, bool bind, std::vector<std::string>& options) {
  bool asked = has_option(m, "idmap") || has_option(m, "ridmap");
  std::erase_if(options, [](const std::string& o) { return o == "idmap" || o == "ridmap"; });
  if (!asked && m.uid_mappings.empty() && m.gid_mappings.empty()) return {};
  if (!bind) return unsupported(where, "an idmapped `" + m.type + "` mount (only binds)");
  if (m.uid_mappings.empty() != m.gid_mappings.empty())
    return Error::invalid("`" + where + "`: `uidMappings` and `gidMappings` go together");
  if (m.uid_mappings.empty()) {
    options.push_back("idmap=container");
    return {};
  }
  for (auto [key, maps] : {std::pair{"uidmap", &m.uid_mappings}, std::pair{"gidmap", &m.gid_mappings}})
    for (const auto& x : *maps) options.push_back(fmt::format("{}={}:{}:{}", key, x.container_id, x.host_id, x.size));
  return {};
}

Result<config::MountEntry> bundle_mount(const Mount& m, size_t i, const std::string& bundle) {
  std::string where = fmt::format("mounts[{}]", i);
  for (size_t j = 0; j < m.options.size(); ++j)
    for (const char* bad : kRefusedMountOptions)
      if (m.options[j] == bad) return unsupported(fmt::format("{}.options[{}]", where, j), "option `" + m.options[j] + "`");
  bool bind = m.type == "bind" || has_option(m, "bind") || has_option(m, "rbind");
  std::vector<std::string> options = m.options;
  if (bind && !has_option(m, "bind") && !has_option(m, "rbind")) options.push_back("bind");
  COVE_TRY(idmap_options(m, where, bind, options));
  std::string source = m.source;
  if (bind && !source.empty() && source[0] != '/') source = bundle + "/" + source;
  auto e = config::make_mount_entry(source, m.destination, bind ? "none" : m.type, options);
  if (!e) return std::move(e).error().context("`" + where + "`");
  struct stat st;
  bool file_source = bind && ::stat(source.c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
  (file_source ? e->create_file : e->create_dir) = true;
  e->where = "config.json " + where;
  return e;
}

// A node the host lacks is made in the container's /dev (mknod), privileged containers only:
// a node made inside a user namespace could not be opened. Its path stays below /dev/.
Result<rootfs::DeviceNode> node_to_make(const Device& d, const std::string& where, bool userns) {
  if (userns)
    return Error(ENOENT, "`" + where + "`: `" + d.path + "` is not on this host, and a user-namespaced container " +
                             "cannot make device nodes (cove-oci binds the host's node there)");
  std::string rel = d.path.starts_with("/dev/") ? d.path.substr(5) : "";
  for (const auto& part : split(rel, '/'))
    if (part.empty() || part == "." || part == "..") rel.clear();
  if (rel.empty()) return Error::invalid("`" + where + ".path`: `" + d.path + "` (a node the host lacks is made below /dev/)");
  // Their own filesystems (devpts, a nodev tmpfs, mqueue): a node there is unusable or refused.
  for (const char* own : {"pts", "shm", "mqueue"})
    if (rel == own || rel.starts_with(std::string(own) + "/"))
      return Error::invalid("`" + where + ".path`: `" + d.path + "` is on /dev/" + own + ", where no node can be made");
  rootfs::DeviceNode n;
  n.path = rel;
  n.mode = (d.type == "b" ? S_IFBLK : S_IFCHR) | (d.file_mode.value_or(0666) & 07777);
  n.rdev = makedev(unsigned(d.major), unsigned(d.minor));
  n.uid = d.uid.value_or(0);
  n.gid = d.gid.value_or(0);
  return n;
}

// `linux.devices`: a node the host has (same path and numbers) is bound in (after cove's /dev
// is made) as cove binds its standard nodes, which works the same with or without a user
// namespace; it keeps its host mode and owner (`fileMode`, `uid`, `gid` cannot change a host
// inode). One the host lacks is made (node_to_make), into `made`.
Result<void> device_nodes(const Linux& lx, bool userns, config::ContainerConfig& cfg, std::vector<rootfs::DeviceNode>& made) {
  for (size_t i = 0; i < lx.devices.size(); ++i) {
    const auto& d = lx.devices[i];
    std::string where = fmt::format("linux.devices[{}]", i);
    if (d.type != "c" && d.type != "b" && d.type != "u")
      return unsupported(where + ".type", "a `" + d.type + "` node (only character and block devices)");
    if (d.major < 0 || d.minor < 0 || d.major > 0xfff || d.minor > 0xfffff)
      return Error::invalid(fmt::format("`{}`: device {}:{} (major 0-4095, minor 0-1048575)", where, d.major, d.minor));
    struct stat st;
    if (::stat(d.path.c_str(), &st) < 0) {
      if (errno != ENOENT) return Error::from_errno(errno, "`" + where + "`: stat `" + d.path + "` on the host");
      auto n = node_to_make(d, where, userns);
      if (!n) return std::move(n).error();
      made.push_back(std::move(*n));
      continue;
    }
    bool chr = d.type != "b";
    if ((chr ? !S_ISCHR(st.st_mode) : !S_ISBLK(st.st_mode)) || major(st.st_rdev) != d.major || minor(st.st_rdev) != d.minor)
      return Error::invalid(fmt::format("`{}`: the host's `{}` is not a {} device {}:{}", where, d.path,
                                        chr ? "character" : "block", d.major, d.minor));
    auto e = config::make_mount_entry(d.path, d.path, "none", {"bind", "nosuid", "noexec"});
    if (!e) return std::move(e).error().context("`" + where + "`");
    e->create_file = true;
    e->where = "config.json " + where;
    cfg.mounts.push_back(std::move(*e));
  }
  return {};
}

Result<void> mounts(const Spec& spec, const std::string& bundle, config::ContainerConfig& cfg) {
  cfg.auto_mounts = {AutoMountMode::kNone, AutoMountMode::kNone, AutoMountMode::kNone};
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    if (standard_mount(spec.mounts[i], cfg)) continue;
    auto e = bundle_mount(spec.mounts[i], i, bundle);
    if (!e) return std::move(e).error();
    cfg.mounts.push_back(std::move(*e));
  }
  return {};
}

Result<unsigned long> propagation(const std::string& name) {
  static const std::pair<const char*, unsigned long> kModes[] = {
      {"shared", MS_SHARED},           {"slave", MS_SLAVE},           {"private", MS_PRIVATE},
      {"unbindable", MS_UNBINDABLE},   {"rshared", MS_SHARED | MS_REC}, {"rslave", MS_SLAVE | MS_REC},
      {"rprivate", MS_PRIVATE | MS_REC}, {"runbindable", MS_UNBINDABLE | MS_REC}};
  if (name.empty()) return 0UL;
  for (const auto& [n, f] : kModes)
    if (name == n) return f;
  return Error::invalid("`linux.rootfsPropagation`: unknown `" + name + "`");
}

// --- process and security -----------------------------------------------------------------------

Result<uint64_t> cap_mask(const std::vector<std::string>& names, const std::string& where) {
  uint64_t mask = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    auto c = security::cap_from_name(names[i]);
    if (!c) return Error::invalid(fmt::format("`{}[{}]`: unknown capability `{}`", where, i, names[i]));
    if (*c <= security::kernel_last_cap()) mask |= 1ULL << *c;
  }
  return mask;
}

Result<security::CapSets> cap_sets(const Capabilities& c, uint64_t& bounding) {
  const std::string p = "process.capabilities.";
  auto b = cap_mask(c.bounding, p + "bounding");
  auto e = cap_mask(c.effective, p + "effective");
  auto pm = cap_mask(c.permitted, p + "permitted");
  auto in = cap_mask(c.inheritable, p + "inheritable");
  auto am = cap_mask(c.ambient, p + "ambient");
  for (auto* r : {&b, &e, &pm, &in, &am})
    if (!*r) return std::move(*r).error();
  bounding = *b;
  return security::CapSets{*e, *pm, *in, *am};
}

Result<int> rlimit_resource(const std::string& type) {
  static const std::pair<const char*, int> kNames[] = {
      {"RLIMIT_AS", RLIMIT_AS},         {"RLIMIT_CORE", RLIMIT_CORE},       {"RLIMIT_CPU", RLIMIT_CPU},
      {"RLIMIT_DATA", RLIMIT_DATA},     {"RLIMIT_FSIZE", RLIMIT_FSIZE},     {"RLIMIT_LOCKS", RLIMIT_LOCKS},
      {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
      {"RLIMIT_NOFILE", RLIMIT_NOFILE}, {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_RSS", RLIMIT_RSS},
      {"RLIMIT_RTPRIO", RLIMIT_RTPRIO}, {"RLIMIT_RTTIME", RLIMIT_RTTIME},   {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
      {"RLIMIT_STACK", RLIMIT_STACK}};
  for (const auto& [n, r] : kNames)
    if (type == n) return r;
  return Error::invalid("`process.rlimits`: unknown type `" + type + "`");
}

Result<void> security_settings(const Spec& spec, const Launch& out, config::ContainerConfig& cfg) {
  const Process& p = *spec.process;
  auto& sec = cfg.security;
  sec.no_new_privs = p.no_new_privileges;
  // As runc: a profile or label the host cannot apply (its LSM is off) is not an error.
  sec.apparmor = {p.apparmor_profile, true};
  sec.selinux = {p.selinux_label, true};
  for (const auto& l : p.rlimits) {
    auto res = rlimit_resource(l.type);
    if (!res) return std::move(res).error();
    sec.rlimits.push_back({*res, l.soft, l.hard});
  }
  if (!spec.linux) return {};
  const Linux& lx = *spec.linux;
  for (const auto& [key, value] : lx.sysctl) {
    bool net = starts_with(key, "net.");
    if (!config::is_namespaced_sysctl(key))
      return Error::invalid("`linux.sysctl`: `" + key + "` is not namespaced: setting it would change the host");
    if (net ? !has_ns(cfg, out, Namespace::kNet, CLONE_NEWNET) : !has_ns(cfg, out, Namespace::kIpc, CLONE_NEWIPC))
      return Error::invalid("`linux.sysctl`: `" + key + "` needs the container's own " + (net ? "network" : "ipc") +
                            " namespace (it would change the host's)");
    sec.sysctls.push_back({key, value});
  }
  // cove's lists are relative to the rootfs ("proc/kcore"); the parser made sure they are absolute.
  auto rel = [](const std::string& path) { return std::string(trim_leading_slashes(path)); };
  for (const auto& m : lx.masked_paths) sec.masked_paths.push_back(rel(m));
  for (const auto& r : lx.readonly_paths) sec.readonly_paths.push_back(rel(r));
  sec.selinux_mount_context = lx.mount_label;
  return {};
}

Result<std::optional<security::seccomp::Policy>> seccomp_policy(const Spec& spec) {
  if (!spec.linux || !spec.linux->seccomp) return std::optional<security::seccomp::Policy>{};
  if (!spec.linux->seccomp->listener_path.empty()) return unsupported("linux.seccomp.listenerPath");
  auto p = security::seccomp::parse_oci_policy(spec.linux->seccomp->json, "config.json `linux.seccomp`");
  if (!p) return std::move(p).error();
  return std::optional<security::seccomp::Policy>(std::move(*p));
}

// --- resources ----------------------------------------------------------------------------------

cgroup::Limit limit_of(int64_t v) { return v < 0 ? cgroup::Limit{} : cgroup::Limit{uint64_t(v)}; }

// A field with no place in cove's version-neutral limits: written as the file of the version the
// host carries `controller` on (v1 first, as the rest of the model), `v1` or `v2` (empty: that
// version has no such setting). A field the host cannot take is an error that names it, never a
// skip; without a layout (no host to ask) both versions get theirs.
struct PerVersion {
  const cgroup::Layout* layout;
  cgroup::ResourceLimits& l;

  // `controller` by its v2 name (v1's io is blkio).
  Result<void> operator()(const std::string& field, const std::string& controller, std::vector<cgroup::RawWrite> v1,
                          std::vector<cgroup::RawWrite> v2) {
    std::string v1_name = controller == "io" ? "blkio" : controller;
    bool on_v1 = !layout || layout->find_v1(v1_name);
    const cgroup::Hierarchy* h2 = layout ? layout->v2() : nullptr;
    bool on_v2 = !layout || (!on_v1 && h2 &&
                             std::find(h2->controllers.begin(), h2->controllers.end(), controller) != h2->controllers.end());
    if (layout && !on_v1 && !on_v2) return unsupported(field, "no cgroup hierarchy here carries `" + controller + "`");
    if (layout && on_v1 && v1.empty()) return unsupported(field, "cgroup v1 has no such `" + controller + "` setting");
    if (layout && on_v2 && v2.empty()) return unsupported(field, "cgroup v2 has no such `" + controller + "` setting");
    if (on_v1) l.raw_v1.insert(l.raw_v1.end(), v1.begin(), v1.end());
    if (on_v2) l.raw_v2.insert(l.raw_v2.end(), v2.begin(), v2.end());
    return {};
  }
};

Result<void> memory(const Memory& m, const std::string& w, PerVersion& raw, cgroup::ResourceLimits& l) {
  if (m.kernel || m.kernel_tcp)
    return unsupported(w + (m.kernel ? ".kernel" : ".kernelTCP"), "kernel memory limits (deprecated, gone from the kernel)");
  // runc's mapping: the soft limit on v1, memory.low (protection) on v2. Negative: none, the default.
  if (m.reservation && *m.reservation >= 0) {
    std::string v = std::to_string(*m.reservation);
    COVE_TRY(raw(w + ".reservation", "memory", {{"memory.soft_limit_in_bytes", v}}, {{"memory.low", v}}));
  }
  if (m.swappiness) {
    if (*m.swappiness > 100) return Error::invalid("`" + w + ".swappiness`: " + std::to_string(*m.swappiness) + " (0 to 100)");
    COVE_TRY(raw(w + ".swappiness", "memory", {{"memory.swappiness", std::to_string(*m.swappiness)}}, {}));
  }
  if (m.disable_oom_killer.value_or(false))
    COVE_TRY(raw(w + ".disableOOMKiller", "memory", {{"memory.oom_control", "1"}}, {}));
  if (m.limit) l.memory_max = limit_of(*m.limit);
  if (m.swap) {
    // The spec's swap is memory + swap (v1's memsw); cove's model is swap alone (v2).
    if (*m.swap < 0) l.memory_swap_max = cgroup::Limit{};
    else if (!m.limit || *m.limit < 0) return Error::invalid("`" + w + ".swap`: needs a `limit` (it counts memory and swap)");
    else if (*m.swap < *m.limit) return Error::invalid("`" + w + ".swap`: must not be below `limit`");
    else l.memory_swap_max = cgroup::Limit{uint64_t(*m.swap - *m.limit)};
  }
  return {};
}

Result<void> cpu(const Cpu& c, const std::string& w, PerVersion& raw, cgroup::ResourceLimits& l) {
  // Real-time groups (v1 only): the period first, as the runtime is checked against it.
  std::vector<cgroup::RawWrite> rt;
  if (c.realtime_period) rt.push_back({"cpu.rt_period_us", std::to_string(*c.realtime_period)});
  if (c.realtime_runtime) rt.push_back({"cpu.rt_runtime_us", std::to_string(*c.realtime_runtime)});
  if (!rt.empty()) COVE_TRY(raw(w + (c.realtime_runtime ? ".realtimeRuntime" : ".realtimePeriod"), "cpu", rt, {}));
  if (c.burst) {
    std::string v = std::to_string(*c.burst);
    COVE_TRY(raw(w + ".burst", "cpu", {{"cpu.cfs_burst_us", v}}, {{"cpu.max.burst", v}}));
  }
  if (c.idle) {
    if (*c.idle != 0 && *c.idle != 1) return Error::invalid("`" + w + ".idle`: " + std::to_string(*c.idle) + " (0 or 1)");
    std::string v = std::to_string(*c.idle);
    COVE_TRY(raw(w + ".idle", "cpu", {{"cpu.idle", v}}, {{"cpu.idle", v}}));
  }
  if (c.shares && *c.shares > 0) l.cpu_weight = cgroup::shares_to_weight(*c.shares);
  if (c.quota || c.period) {
    cgroup::CpuMax max;
    if (c.period && *c.period > 0) max.period_us = *c.period;
    if (c.quota && *c.quota > 0) max.quota_us = uint64_t(*c.quota);
    l.cpu_max = max;
  }
  for (const auto& [text, field, slot] : {std::tuple{c.cpus, ".cpus", &l.cpuset_cpus}, {c.mems, ".mems", &l.cpuset_mems}}) {
    if (text.empty()) continue;
    auto list = cgroup::parse_cpu_list(text);
    if (!list) return std::move(list).error().context("`" + w + field + "`");
    *slot = *list;
  }
  return {};
}

Result<void> block_io(const BlockIo& b, const std::string& w, PerVersion& raw, cgroup::ResourceLimits& l) {
  if (b.leaf_weight) return unsupported(w + ".leafWeight", "CFQ's leaf weights (gone from the kernel)");
  if (b.weight && *b.weight > 0) l.io_weight = cgroup::blkio_to_io_weight(*b.weight);
  for (size_t i = 0; i < b.weight_device.size(); ++i) {
    const auto& d = b.weight_device[i];
    std::string at = fmt::format("{}.weightDevice[{}]", w, i);
    if (d.leaf_weight) return unsupported(at + ".leafWeight", "CFQ's leaf weights (gone from the kernel)");
    if (!d.weight) continue;
    if (*d.weight < 10 || *d.weight > 1000) return Error::invalid(fmt::format("`{}.weight`: {} (10 to 1000)", at, *d.weight));
    std::string dev = fmt::format("{}:{} ", d.major, d.minor);
    // v1: BFQ's file (CFQ's blkio.weight_device left the kernel with CFQ in 5.0).
    COVE_TRY(raw(at, "io", {{"blkio.bfq.weight_device", dev + std::to_string(*d.weight)}},
                 {{"io.weight", dev + std::to_string(cgroup::blkio_to_io_weight(*d.weight))}}));
  }
  auto entry = [&](const ThrottleDevice& d) -> cgroup::IoMax& {
    for (auto& e : l.io_max)
      if (e.major == d.major && e.minor == d.minor) return e;
    cgroup::IoMax e;
    e.major = uint32_t(d.major);
    e.minor = uint32_t(d.minor);
    l.io_max.push_back(e);
    return l.io_max.back();
  };
  for (const auto& d : b.throttle_read_bps) entry(d).rbps = d.rate;
  for (const auto& d : b.throttle_write_bps) entry(d).wbps = d.rate;
  for (const auto& d : b.throttle_read_iops) entry(d).riops = d.rate;
  for (const auto& d : b.throttle_write_iops) entry(d).wiops = d.rate;
  return {};
}

// The spec's rules come first (they usually start with "deny all"), then the nodes cove's /dev
// holds, as runc appends its allowed devices.
Result<void> devices(const std::vector<DeviceCgroupRule>& rules, const std::string& w, cgroup::ResourceLimits& l) {
  l.default_devices = false;
  for (size_t i = 0; i < rules.size(); ++i) {
    const auto& r = rules[i];
    cgroup::DeviceRule d;
    d.allow = r.allow;
    d.type = r.type.empty() ? 'a' : r.type[0];
    if (r.type.size() > 1 || (d.type != 'a' && d.type != 'c' && d.type != 'b'))
      return Error::invalid(fmt::format("`{}[{}].type`: `{}` (a, c or b)", w, i, r.type));
    d.major = r.major.value_or(-1);
    d.minor = r.minor.value_or(-1);
    d.access = 0;
    for (char c : r.access.empty() ? std::string("rwm") : r.access)
      d.access |= c == 'r' ? cgroup::kAccessRead : c == 'w' ? cgroup::kAccessWrite : cgroup::kAccessMknod;
    l.devices.push_back(d);
  }
  for (const auto& d : cgroup::default_device_rules()) l.devices.push_back(d);
  return {};
}

}  // namespace

Result<cgroup::ResourceLimits> translate_resources(const Resources& r, const std::string& w, const cgroup::Layout* layout) {
  cgroup::ResourceLimits l;
  PerVersion raw{layout, l};
  if (r.has_network) return unsupported(w + ".network");
  if (r.has_rdma) return unsupported(w + ".rdma");
  if (r.memory) COVE_TRY(memory(*r.memory, w + ".memory", raw, l));
  if (r.cpu) COVE_TRY(cpu(*r.cpu, w + ".cpu", raw, l));
  if (r.pids_limit) l.pids_max = limit_of(*r.pids_limit > 0 ? *r.pids_limit : -1);
  if (r.block_io) COVE_TRY(block_io(*r.block_io, w + ".blockIO", raw, l));
  for (const auto& h : r.hugepage_limits) l.hugetlb_max.push_back({h.page_size, cgroup::Limit{h.limit}});
  COVE_TRY(devices(r.devices, w + ".devices", l));
  for (const auto& [file, value] : r.unified) l.raw_v2.push_back({file, value});
  return l;
}

namespace {

// `linux.timeOffsets`: the offsets of the container's own time namespace, written before any
// task is in it (LaunchPlan::time_offsets), so that namespace is not cloned.
Result<void> time_offsets(const Linux& lx, const TranslateContext& ctx, lifecycle::LaunchPlan& plan) {
  if (lx.time_offsets.empty()) return {};
  if (!(plan.clone_flags & CLONE_NEWTIME)) {
    if (!ctx.have_time_ns) return unsupported("linux.timeOffsets", "this kernel has no time namespaces");
    return Error::invalid("`linux.timeOffsets`: needs a `time` namespace of the container's own in `linux.namespaces`");
  }
  for (const auto& [clock, off] : lx.time_offsets)  // clocks and nanosecs checked by the parser
    plan.time_offsets += fmt::format("{} {} {}\n", clock, off.secs, off.nanosecs);
  plan.clone_flags &= ~static_cast<unsigned long>(CLONE_NEWTIME);
  return {};
}

// `made`: the device nodes the host lacks, for the plan (LaunchPlan::device_nodes).
Result<config::ContainerConfig> container_config(const Spec& spec, const TranslateContext& ctx, Launch& out,
                                                 std::vector<rootfs::DeviceNode>& made) {
  config::ContainerConfig cfg;
  cfg.name = ctx.id;
  std::string root = spec.root.path[0] == '/' ? spec.root.path : ctx.bundle + "/" + spec.root.path;
  cfg.rootfs = absolute_path(root);
  if (!is_directory(cfg.rootfs)) return Error(ENOENT, "`root.path`: `" + cfg.rootfs + "` is not a directory");
  cfg.hostname = spec.hostname;
  cfg.ttys = 0;
  cfg.clone_ns.clear();
  if (spec.linux) {
    COVE_TRY(namespaces(*spec.linux, cfg, out));
    for (const auto& m : spec.linux->uid_mappings) cfg.uid_map.push_back({m.container_id, m.host_id, m.size});
    for (const auto& m : spec.linux->gid_mappings) cfg.gid_map.push_back({m.container_id, m.host_id, m.size});
  } else {
    return unsupported("linux", "a bundle without a `linux` object");
  }
  bool userns = std::find(cfg.clone_ns.begin(), cfg.clone_ns.end(), Namespace::kUser) != cfg.clone_ns.end();
  cfg.privileged = !userns;
  if (userns && (cfg.uid_map.empty() || cfg.gid_map.empty()))
    return Error::invalid("`linux.uidMappings`/`linux.gidMappings`: a user namespace needs both");
  if (!userns && (!cfg.uid_map.empty() || !cfg.gid_map.empty()))
    return Error::invalid("`linux.uidMappings`: mappings without a `user` namespace");
  COVE_TRY(mounts(spec, ctx.bundle, cfg));
  // A user namespace cannot mount cgroupfs in the host's cgroup namespace (podman --userns=auto
  // on a v1 host asks for that; runc binds the host's hierarchies instead): the container's
  // cgroup mount gets a cgroup namespace of its own, rooted at its cgroups.
  if (userns && cfg.auto_mounts.cgroup != AutoMountMode::kNone && !has_ns(cfg, out, Namespace::kCgroup, CLONE_NEWCGROUP))
    cfg.clone_ns.push_back(Namespace::kCgroup);
  COVE_TRY(device_nodes(*spec.linux, userns, cfg, made));
  COVE_TRY(security_settings(spec, out, cfg));
  cfg.init = spec.process->args;
  cfg.init_cwd = spec.process->cwd;
  // The spec's mask and read-only lists are complete: no cove defaults are added to them.
  cfg.lxcfs.mode = config::LxcfsSetting::Mode::kOff;
  return cfg;
}

Result<security::ExecRestrictions> exec_restrictions(const Spec& spec, const config::ContainerConfig& cfg) {
  const Process& p = *spec.process;
  auto policy = seccomp_policy(spec);
  if (!policy) return std::move(policy).error();
  uint64_t bounding = 0;
  security::CapSets sets;
  if (p.capabilities) {
    auto s = cap_sets(*p.capabilities, bounding);
    if (!s) return std::move(s).error();
    sets = *s;
  }
  // The bounding set decides the seccomp policy's capability conditions and the
  // open_by_handle_at guard: the config carries it, as `[security] cap.keep` would.
  config::ContainerConfig with_caps = cfg;
  with_caps.security.cap_keep.clear();
  with_caps.security.cap_drop.clear();
  for (int c = 0; c < 64; ++c) (bounding & (1ULL << c) ? with_caps.security.cap_keep : with_caps.security.cap_drop).push_back(c);
  auto exec = lifecycle::make_exec_restrictions(with_caps, std::move(*policy), "config.json `linux.seccomp`");
  if (!exec) return std::move(exec).error();
  exec->bounding = bounding;
  exec->cap_sets = sets;
  exec->identity = security::Identity{p.user.uid, p.user.gid, p.user.additional_gids};
  exec->umask = p.user.umask.value_or(022);
  return exec;
}

Result<void> process_plan(const Spec& spec, const config::ContainerConfig& cfg, lifecycle::LaunchPlan& plan) {
  const Process& p = *spec.process;
  auto exec = exec_restrictions(spec, cfg);
  if (!exec) return std::move(exec).error();
  plan.exec = std::move(*exec);
  plan.argv = p.args;
  plan.env = p.env;
  plan.cwd = p.cwd;
  plan.inherit_stdio = !p.terminal;
  plan.console = p.terminal;
  plan.ttys = 0;
  return {};
}

}  // namespace

Result<Launch> translate(const Spec& spec, const TranslateContext& ctx) {
  if (!spec.process) return Error::invalid("`process`: required to create a container");
  Launch out;
  std::vector<rootfs::DeviceNode> made;
  auto cfg = container_config(spec, ctx, out, made);
  if (!cfg) return std::move(cfg).error();
  lifecycle::PlanOptions po;
  auto plan = lifecycle::make_launch_plan(*cfg, po, *ctx.layout, ctx.have_time_ns);
  if (!plan) return std::move(plan).error();
  plan->device_nodes = std::move(made);
  COVE_TRY(time_offsets(*spec.linux, ctx, *plan));
  out.plan = std::move(*plan);
  COVE_TRY(process_plan(spec, *cfg, out.plan));
  out.config = std::move(*cfg);
  out.plan.hostname = spec.hostname;
  out.plan.domainname = spec.domainname;
  out.plan.set_hostname = out.plan.set_hostname && !spec.hostname.empty();
  out.plan.readonly_root = spec.root.readonly;
  out.plan.shift_record.clear();
  out.plan.rootfs_as_is = true;
  const Linux& lx = *spec.linux;
  auto prop = propagation(lx.rootfs_propagation);
  if (!prop) return std::move(prop).error();
  out.plan.root_propagation = *prop;
  if (lx.resources) {
    auto limits = translate_resources(*lx.resources, "linux.resources", ctx.layout);
    if (!limits) return std::move(limits).error();
    out.limits = std::move(*limits);
    // The nodes the spec asks for are usable, as runc allows its devices.
    for (const auto& d : lx.devices)
      out.limits.devices.push_back(cgroup::DeviceRule{true, d.type == "b" ? 'b' : 'c', d.major, d.minor, 7});
  } else {
    out.limits.default_devices = false;
    out.limits.devices = {cgroup::DeviceRule{true, 'a', -1, -1, 7}};  // the spec asks for no device rules
  }
  if (lx.cgroups_path.find(':') != std::string::npos)
    return unsupported("linux.cgroupsPath", "a systemd `slice:prefix:name` path; use cgroupfs paths");
  out.cgroups_path = lx.cgroups_path.empty() ? "/cove-oci/" + ctx.id : lx.cgroups_path;
  if (spec.hooks)
    for (const auto& h : spec.hooks->start_container) out.plan.gate_hooks.push_back(hook_request(h));
  out.oom_score_adj = spec.process->oom_score_adj;
  out.terminal = spec.process->terminal;
  out.console_size = spec.process->console_size;
  return out;
}

Result<security::ExecRestrictions> process_restrictions(const Spec& spec, const Process& process,
                                                        const TranslateContext& ctx) {
  Spec with = spec;
  with.process = process;
  Launch out;
  std::vector<rootfs::DeviceNode> made;  // not needed to enter it
  auto cfg = container_config(with, ctx, out, made);
  if (!cfg) return std::move(cfg).error();
  return exec_restrictions(with, *cfg);
}

}  // namespace cove::oci
