// oci/spec: config.json text -> oci::Spec, strictly (every key of every object checked, every
// error naming its JSON path), and the JSON that `cove-oci spec` and `cove-oci features` print.
// One reader function per spec object; `Obj` does the key bookkeeping and the type checks.
#include "oci/spec.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <concepts>
#include <limits>
#include <set>
#include <stdexcept>
#include <type_traits>

#include "security/cap_names.hpp"

#ifndef COVE_VERSION
#define COVE_VERSION "unknown"
#endif

namespace cove::oci {
namespace {

using Json = nlohmann::json;
using OJson = nlohmann::ordered_json;  // output: keys in the order written, as runc prints them

constexpr int kMaxDepth = 64;  // config.json nests ~8 deep; this only stops recursion bombs

const char* const kNamespaceTypes[] = {"pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"};
const char* const kRlimits[] = {"RLIMIT_AS",     "RLIMIT_CORE",   "RLIMIT_CPU",      "RLIMIT_DATA",
                                "RLIMIT_FSIZE",  "RLIMIT_LOCKS",  "RLIMIT_MEMLOCK",  "RLIMIT_MSGQUEUE",
                                "RLIMIT_NICE",   "RLIMIT_NOFILE", "RLIMIT_NPROC",    "RLIMIT_RSS",
                                "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK"};
const char* const kPropagations[] = {"",        "shared",  "slave",    "private",   "unbindable",
                                     "rshared", "rslave",  "rprivate", "runbindable"};
const char* const kHookKinds[] = {"prestart",       "createRuntime", "createContainer",
                                  "startContainer", "poststart",     "poststop"};

template <size_t N>
bool one_of(std::string_view s, const char* const (&list)[N]) {
  return std::find(std::begin(list), std::end(list), s) != std::end(list);
}

Error bad(const std::string& path, const std::string& what) {
  return Error::invalid(path.empty() ? what : "`" + path + "`: " + what);
}

std::string index_path(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

bool is_absolute(const std::string& p) { return !p.empty() && p[0] == '/'; }

// null, {}, [] and "": a field written but saying nothing.
bool is_empty(const Json& j) {
  if (j.is_string()) return j.get_ref<const std::string&>().empty();
  return j.is_null() || ((j.is_object() || j.is_array()) && j.empty());
}

// --- scalars: the type check before every get<>, so nlohmann never throws.

Result<void> scalar(const Json& j, const std::string& path, std::string& out) {
  if (!j.is_string()) return bad(path, "must be a string");
  out = j.get<std::string>();
  return {};
}

Result<void> scalar(const Json& j, const std::string& path, bool& out) {
  if (!j.is_boolean()) return bad(path, "must be a boolean");
  out = j.get<bool>();
  return {};
}

// An integer that fits T; a float, a negative for an unsigned T or an out-of-range value is
// refused (get<T> would convert them silently).
template <std::integral T>
Result<void> scalar(const Json& j, const std::string& path, T& out) {
  using L = std::numeric_limits<T>;
  if (j.is_number_unsigned()) {
    if (auto v = j.get<uint64_t>(); v <= static_cast<uint64_t>(L::max())) {
      out = static_cast<T>(v);
      return {};
    }
  } else if constexpr (std::is_signed_v<T>) {
    if (j.is_number_integer() && j.get<int64_t>() >= L::min()) {
      out = static_cast<T>(j.get<int64_t>());  // negative here, so below L::max()
      return {};
    }
  }
  std::string bits = std::to_string(sizeof(T) * 8);
  return bad(path, std::is_unsigned_v<T> ? "must be an unsigned " + bits + "-bit integer"
                                         : "must be a " + bits + "-bit integer");
}

struct ScalarParser {
  template <typename T>
  Result<void> operator()(const Json& j, const std::string& path, T& out) const {
    return scalar(j, path, out);
  }
};

// Declared ahead of Obj, whose members call them (the definitions need Obj).
template <typename T, typename F>
Result<void> parse_value(const Json& j, const std::string& path, T& out, F& parse);
template <typename T, typename F>
Result<void> parse_value(const Json& j, const std::string& path, std::optional<T>& out, F& parse);
template <typename T, typename F>
Result<void> parse_value(const Json& j, const std::string& path, std::vector<T>& out, F& parse);
template <typename T, typename F>
Result<void> parse_value(const Json& j, const std::string& path, std::map<std::string, T>& out, F& parse);

// One JSON object being read. get() hands out a member (nullptr when absent or null) and
// records its key as known; finish() refuses every key nobody asked for. read()/need() parse a
// member into a typed field: scalars, std::optional, std::vector and std::map of them, or of
// structs through a reader `Result<void>(Obj&, T&)` (or a raw `(const Json&, path, T&)`).
class Obj {
 public:
  Obj(const Json& j, std::string path) : j_(j), path_(std::move(path)) {}

  std::string at(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  const Json* get(std::string_view key) {
    seen_.push_back(key);
    auto it = j_.find(std::string(key));
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }

  template <typename T, typename F = ScalarParser>
  Result<void> read(std::string_view key, T& out, F parse = {}) {
    const Json* v = get(key);
    return v ? parse_value(*v, at(key), out, parse) : Result<void>{};
  }

  template <typename T, typename F = ScalarParser>
  Result<void> need(std::string_view key, T& out, F parse = {}) {
    const Json* v = get(key);
    return v ? parse_value(*v, at(key), out, parse) : bad(at(key), "missing");
  }

  // A field of the spec that cove-oci does not implement: fine when it says nothing.
  Result<void> unsupported(std::string_view key) {
    const Json* v = get(key);
    return v && !is_empty(*v) ? bad(at(key), "not supported by cove-oci") : Result<void>{};
  }

  Result<void> finish() const {
    for (const auto& [k, v] : j_.items())
      if (std::find(seen_.begin(), seen_.end(), k) == seen_.end()) return bad(at(k), "unknown field");
    return {};
  }

 private:
  const Json& j_;
  std::string path_;
  std::vector<std::string_view> seen_;  // keys are literals of this file
};

// Runs one reader on one value: an Obj reader gets the object checked, and its keys after.
template <typename T, typename F>
Result<void> apply(const Json& j, const std::string& path, T& out, F& parse) {
  if constexpr (std::is_invocable_r_v<Result<void>, F&, Obj&, T&>) {
    if (!j.is_object()) return bad(path, "must be an object");
    Obj o(j, path);
    COVE_TRY(parse(o, out));
    return o.finish();
  } else {
    return parse(j, path, out);
  }
}

template <typename T, typename F>
Result<void> parse_value(const Json& j, const std::string& path, T& out, F& parse) {
  return apply(j, path, out, parse);
}

template <typename T, typename F>
Result<void> parse_value(const Json& j, const std::string& path, std::optional<T>& out, F& parse) {
  T value{};
  COVE_TRY(apply(j, path, value, parse));
  out = std::move(value);
  return {};
}

template <typename T, typename F>
Result<void> parse_value(const Json& j, const std::string& path, std::vector<T>& out, F& parse) {
  if (!j.is_array()) return bad(path, "must be an array");
  out.clear();
  for (size_t i = 0; i < j.size(); ++i) {
    T value{};
    COVE_TRY(apply(j[i], index_path(path, i), value, parse));
    out.push_back(std::move(value));
  }
  return {};
}

template <typename T, typename F>
Result<void> parse_value(const Json& j, const std::string& path, std::map<std::string, T>& out, F& parse) {
  if (!j.is_object()) return bad(path, "must be an object");
  out.clear();
  for (const auto& [k, v] : j.items()) {
    T value{};
    COVE_TRY(apply(v, path + "." + k, value, parse));
    out.emplace(k, std::move(value));
  }
  return {};
}

// --- checks shared by several objects

Result<void> need_absolute(const Obj& o, std::string_view key, const std::string& value) {
  return is_absolute(value) ? Result<void>{} : bad(o.at(key), "`" + value + "` is not an absolute path");
}

Result<void> check_env(const Obj& o, const std::vector<std::string>& env) {
  for (size_t i = 0; i < env.size(); ++i)
    if (size_t eq = env[i].find('='); eq == std::string::npos || eq == 0)
      return bad(index_path(o.at("env"), i), "`" + env[i] + "` is not KEY=VALUE");
  return {};
}

Result<void> check_absolute_list(const Obj& o, std::string_view key, const std::vector<std::string>& paths) {
  for (size_t i = 0; i < paths.size(); ++i)
    if (!is_absolute(paths[i])) return bad(index_path(o.at(key), i), "`" + paths[i] + "` is not an absolute path");
  return {};
}

Result<void> check_version(const Obj& o, const std::string& v) {
  for (const char* accepted : {"1.0.", "1.1.", "1.2."})
    if (v.rfind(accepted, 0) == 0 && v.size() > 4 && std::isdigit(static_cast<unsigned char>(v[4]))) return {};
  return bad(o.at("ociVersion"), "version `" + v + "` is not supported (cove-oci accepts 1.0.x, 1.1.x and 1.2.x)");
}

// "CAP_CHOWN": how the spec writes cove's table entry `cap` ("chown").
std::string spec_cap_name(int cap) {
  std::string n = "CAP_" + security::cap_name(cap);
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return n;
}

// Only the spec's spelling: cap_from_name's other ones ("chown", "cap_chown") are not config.json's.
bool is_spec_cap_name(const std::string& name) {
  auto cap = security::cap_from_name(name);
  return cap && name == spec_cap_name(*cap);
}

// --- process

Result<void> read_console_size(Obj& o, std::pair<unsigned, unsigned>& size) {
  COVE_TRY(o.need("height", size.first));
  return o.need("width", size.second);
}

Result<void> read_user(Obj& o, User& u) {
  COVE_TRY(o.read("uid", u.uid));
  COVE_TRY(o.read("gid", u.gid));
  COVE_TRY(o.read("umask", u.umask));
  COVE_TRY(o.read("additionalGids", u.additional_gids));
  return o.unsupported("username");
}

Result<void> read_capabilities(Obj& o, Capabilities& c) {
  std::pair<const char*, std::vector<std::string>*> sets[] = {{"bounding", &c.bounding},
                                                              {"effective", &c.effective},
                                                              {"inheritable", &c.inheritable},
                                                              {"permitted", &c.permitted},
                                                              {"ambient", &c.ambient}};
  for (auto& [key, names] : sets) {
    COVE_TRY(o.read(key, *names));
    for (size_t i = 0; i < names->size(); ++i)
      if (!is_spec_cap_name((*names)[i]))
        return bad(index_path(o.at(key), i), "unknown capability `" + (*names)[i] + "`");
  }
  return {};
}

Result<void> read_rlimit(Obj& o, Rlimit& r) {
  COVE_TRY(o.need("type", r.type));
  if (!one_of(r.type, kRlimits)) return bad(o.at("type"), "unknown resource limit `" + r.type + "`");
  COVE_TRY(o.need("soft", r.soft));
  COVE_TRY(o.need("hard", r.hard));
  if (r.soft > r.hard)
    return bad(o.at("soft"), "soft limit " + std::to_string(r.soft) + " is above the hard limit " +
                                 std::to_string(r.hard));
  return {};
}

Result<void> read_process(Obj& o, Process& p) {
  COVE_TRY(o.read("terminal", p.terminal));
  COVE_TRY(o.read("consoleSize", p.console_size, read_console_size));
  COVE_TRY(o.read("user", p.user, read_user));
  COVE_TRY(o.need("args", p.args));
  if (p.args.empty()) return bad(o.at("args"), "must not be empty");
  COVE_TRY(o.read("env", p.env));
  COVE_TRY(check_env(o, p.env));
  COVE_TRY(o.read("cwd", p.cwd));  // absent: "/", as Process has it
  COVE_TRY(need_absolute(o, "cwd", p.cwd));
  COVE_TRY(o.read("capabilities", p.capabilities, read_capabilities));
  COVE_TRY(o.read("rlimits", p.rlimits, read_rlimit));
  for (size_t i = 0; i < p.rlimits.size(); ++i)
    for (size_t k = 0; k < i; ++k)
      if (p.rlimits[k].type == p.rlimits[i].type)
        return bad(index_path(o.at("rlimits"), i) + ".type", "`" + p.rlimits[i].type + "` given twice");
  COVE_TRY(o.read("noNewPrivileges", p.no_new_privileges));
  COVE_TRY(o.read("apparmorProfile", p.apparmor_profile));
  COVE_TRY(o.read("selinuxLabel", p.selinux_label));
  COVE_TRY(o.read("oomScoreAdj", p.oom_score_adj));
  for (const char* key : {"commandLine", "scheduler", "ioPriority", "execCPUAffinity"}) COVE_TRY(o.unsupported(key));
  return {};
}

// --- root, mounts, hooks

Result<void> read_root(Obj& o, Root& r) {
  COVE_TRY(o.need("path", r.path));
  if (r.path.empty()) return bad(o.at("path"), "must not be empty");
  return o.read("readonly", r.readonly);
}

Result<void> read_id_mapping(Obj& o, IdMapping& m) {
  COVE_TRY(o.need("containerID", m.container_id));
  COVE_TRY(o.need("hostID", m.host_id));
  return o.need("size", m.size);
}

Result<void> read_mount(Obj& o, Mount& m) {
  COVE_TRY(o.need("destination", m.destination));
  COVE_TRY(need_absolute(o, "destination", m.destination));
  COVE_TRY(o.read("type", m.type));
  COVE_TRY(o.read("source", m.source));
  COVE_TRY(o.read("options", m.options));
  COVE_TRY(o.read("uidMappings", m.uid_mappings, read_id_mapping));
  return o.read("gidMappings", m.gid_mappings, read_id_mapping);
}

Result<void> read_hook(Obj& o, Hook& h) {
  COVE_TRY(o.need("path", h.path));
  COVE_TRY(need_absolute(o, "path", h.path));
  COVE_TRY(o.read("args", h.args));
  COVE_TRY(o.read("env", h.env));
  COVE_TRY(check_env(o, h.env));
  COVE_TRY(o.read("timeout", h.timeout));
  if (h.timeout && *h.timeout == 0) return bad(o.at("timeout"), "must be above 0");
  return {};
}

Result<void> read_hooks(Obj& o, Hooks& h) {
  std::vector<Hook>* lists[] = {&h.prestart,        &h.create_runtime, &h.create_container,
                                &h.start_container, &h.poststart,      &h.poststop};
  for (size_t i = 0; i < std::size(kHookKinds); ++i) COVE_TRY(o.read(kHookKinds[i], *lists[i], read_hook));
  return {};
}

// --- linux.resources

Result<void> read_device_rule(Obj& o, DeviceCgroupRule& d) {
  COVE_TRY(o.need("allow", d.allow));
  COVE_TRY(o.read("type", d.type));
  if (d.type == "a") d.type = "";
  if (d.type != "" && d.type != "c" && d.type != "b")
    return bad(o.at("type"), "device type `" + d.type + "` is not one of a, c, b");
  COVE_TRY(o.read("major", d.major));
  COVE_TRY(o.read("minor", d.minor));
  COVE_TRY(o.read("access", d.access));
  for (size_t i = 0; i < d.access.size(); ++i)
    if (std::string_view("rwm").find(d.access[i]) == std::string_view::npos || d.access.find(d.access[i]) != i)
      return bad(o.at("access"), "`" + d.access + "` is not a subset of `rwm`");
  return {};
}

Result<void> read_memory(Obj& o, Memory& m) {
  COVE_TRY(o.read("limit", m.limit));
  COVE_TRY(o.read("reservation", m.reservation));
  COVE_TRY(o.read("swap", m.swap));
  COVE_TRY(o.read("kernel", m.kernel));
  COVE_TRY(o.read("kernelTCP", m.kernel_tcp));
  COVE_TRY(o.read("swappiness", m.swappiness));
  COVE_TRY(o.read("disableOOMKiller", m.disable_oom_killer));
  COVE_TRY(o.read("useHierarchy", m.use_hierarchy));
  return o.read("checkBeforeUpdate", m.check_before_update);
}

Result<void> read_cpu(Obj& o, Cpu& c) {
  COVE_TRY(o.read("shares", c.shares));
  COVE_TRY(o.read("quota", c.quota));
  COVE_TRY(o.read("burst", c.burst));
  COVE_TRY(o.read("period", c.period));
  COVE_TRY(o.read("realtimeRuntime", c.realtime_runtime));
  COVE_TRY(o.read("realtimePeriod", c.realtime_period));
  COVE_TRY(o.read("cpus", c.cpus));
  COVE_TRY(o.read("mems", c.mems));
  return o.read("idle", c.idle);
}

Result<void> read_weight_device(Obj& o, WeightDevice& d) {
  COVE_TRY(o.need("major", d.major));
  COVE_TRY(o.need("minor", d.minor));
  COVE_TRY(o.read("weight", d.weight));
  return o.read("leafWeight", d.leaf_weight);
}

Result<void> read_throttle_device(Obj& o, ThrottleDevice& d) {
  COVE_TRY(o.need("major", d.major));
  COVE_TRY(o.need("minor", d.minor));
  return o.need("rate", d.rate);
}

Result<void> read_block_io(Obj& o, BlockIo& b) {
  COVE_TRY(o.read("weight", b.weight));
  COVE_TRY(o.read("leafWeight", b.leaf_weight));
  COVE_TRY(o.read("weightDevice", b.weight_device, read_weight_device));
  COVE_TRY(o.read("throttleReadBpsDevice", b.throttle_read_bps, read_throttle_device));
  COVE_TRY(o.read("throttleWriteBpsDevice", b.throttle_write_bps, read_throttle_device));
  COVE_TRY(o.read("throttleReadIOPSDevice", b.throttle_read_iops, read_throttle_device));
  return o.read("throttleWriteIOPSDevice", b.throttle_write_iops, read_throttle_device);
}

Result<void> read_hugepage_limit(Obj& o, HugepageLimit& h) {
  COVE_TRY(o.need("pageSize", h.page_size));
  return o.need("limit", h.limit);
}

// linux.resources.network / .rdma: not read, only noted (translate refuses them when set).
Result<void> read_noted(const Json& j, const std::string& path, bool& given) {
  if (!j.is_object()) return bad(path, "must be an object");
  given = !j.empty();
  return {};
}

// linux.resources.pids: its one field lands in Resources itself.
Result<void> read_pids(Obj& o, Resources& r) { return o.read("limit", r.pids_limit); }

Result<void> read_resources(Obj& o, Resources& r) {
  COVE_TRY(o.read("devices", r.devices, read_device_rule));
  COVE_TRY(o.read("memory", r.memory, read_memory));
  COVE_TRY(o.read("cpu", r.cpu, read_cpu));
  COVE_TRY(o.read("pids", r, read_pids));
  COVE_TRY(o.read("blockIO", r.block_io, read_block_io));
  COVE_TRY(o.read("hugepageLimits", r.hugepage_limits, read_hugepage_limit));
  COVE_TRY(o.read("network", r.has_network, read_noted));
  COVE_TRY(o.read("rdma", r.has_rdma, read_noted));
  return o.read("unified", r.unified);
}

// --- linux

Result<void> read_namespace(Obj& o, Namespace& n) {
  COVE_TRY(o.need("type", n.type));
  if (!one_of(n.type, kNamespaceTypes)) return bad(o.at("type"), "unknown namespace type `" + n.type + "`");
  COVE_TRY(o.read("path", n.path));
  return n.path.empty() ? Result<void>{} : need_absolute(o, "path", n.path);
}

Result<void> read_device(Obj& o, Device& d) {
  COVE_TRY(o.need("type", d.type));
  if (d.type != "c" && d.type != "b" && d.type != "u" && d.type != "p")
    return bad(o.at("type"), "device type `" + d.type + "` is not one of c, b, u, p");
  COVE_TRY(o.need("path", d.path));
  COVE_TRY(need_absolute(o, "path", d.path));
  COVE_TRY(o.read("major", d.major));
  COVE_TRY(o.read("minor", d.minor));
  COVE_TRY(o.read("fileMode", d.file_mode));
  COVE_TRY(o.read("uid", d.uid));
  return o.read("gid", d.gid);
}

// The object is kept as text for security/seccomp's parser: only its shape is checked here.
Result<void> read_seccomp(const Json& j, const std::string& path, Seccomp& s) {
  if (!j.is_object()) return bad(path, "must be an object");
  s.json = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (auto it = j.find("listenerPath"); it != j.end() && !it->is_null())
    COVE_TRY(scalar(*it, path + ".listenerPath", s.listener_path));
  return {};
}

Result<void> read_time_offset(Obj& o, TimeOffset& t) {
  COVE_TRY(o.read("secs", t.secs));
  COVE_TRY(o.read("nanosecs", t.nanosecs));
  return t.nanosecs < 1000000000 ? Result<void>{} : bad(o.at("nanosecs"), "must be below 1000000000");
}

Result<void> read_linux(Obj& o, Linux& l) {
  COVE_TRY(o.read("uidMappings", l.uid_mappings, read_id_mapping));
  COVE_TRY(o.read("gidMappings", l.gid_mappings, read_id_mapping));
  COVE_TRY(o.read("sysctl", l.sysctl));
  COVE_TRY(o.read("resources", l.resources, read_resources));
  COVE_TRY(o.read("cgroupsPath", l.cgroups_path));
  COVE_TRY(o.read("namespaces", l.namespaces, read_namespace));
  for (size_t i = 0; i < l.namespaces.size(); ++i)
    for (size_t k = 0; k < i; ++k)
      if (l.namespaces[k].type == l.namespaces[i].type)
        return bad(index_path(o.at("namespaces"), i) + ".type", "namespace `" + l.namespaces[i].type + "` given twice");
  COVE_TRY(o.read("devices", l.devices, read_device));
  COVE_TRY(o.read("seccomp", l.seccomp, read_seccomp));
  COVE_TRY(o.read("rootfsPropagation", l.rootfs_propagation));
  if (!one_of(l.rootfs_propagation, kPropagations))
    return bad(o.at("rootfsPropagation"), "`" + l.rootfs_propagation + "` is not a mount propagation");
  COVE_TRY(o.read("maskedPaths", l.masked_paths));
  COVE_TRY(check_absolute_list(o, "maskedPaths", l.masked_paths));
  COVE_TRY(o.read("readonlyPaths", l.readonly_paths));
  COVE_TRY(check_absolute_list(o, "readonlyPaths", l.readonly_paths));
  COVE_TRY(o.read("mountLabel", l.mount_label));
  COVE_TRY(o.read("timeOffsets", l.time_offsets, read_time_offset));
  for (const auto& [clock, offset] : l.time_offsets)
    if (clock != "monotonic" && clock != "boottime")
      return bad(o.at("timeOffsets") + "." + clock, "unknown clock (monotonic or boottime)");
  for (const char* key : {"intelRdt", "personality", "memoryPolicy", "netDevices"}) COVE_TRY(o.unsupported(key));
  return {};
}

Result<void> read_spec(Obj& o, Spec& s) {
  COVE_TRY(o.need("ociVersion", s.oci_version));
  COVE_TRY(check_version(o, s.oci_version));
  COVE_TRY(o.read("process", s.process, read_process));
  COVE_TRY(o.need("root", s.root, read_root));
  COVE_TRY(o.read("hostname", s.hostname));
  COVE_TRY(o.read("domainname", s.domainname));
  COVE_TRY(o.read("mounts", s.mounts, read_mount));
  COVE_TRY(o.read("hooks", s.hooks, read_hooks));
  COVE_TRY(o.read("annotations", s.annotations));
  COVE_TRY(o.read("linux", s.linux, read_linux));
  for (const char* key : {"windows", "solaris", "vm", "zos"}) COVE_TRY(o.unsupported(key));
  return {};
}

// --- the document

// Thrown by the parse callback to stop at a duplicate key or a too deep nesting.
struct Refused : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parses the text; a key given twice in an object is refused (which one wins differs between
// JSON parsers), and so is nesting deeper than kMaxDepth (dump() recurses).
Result<Json> parse_json(std::string_view text) {
  std::vector<std::set<std::string>> open_objects;
  auto check = [&open_objects](int depth, Json::parse_event_t event, Json& parsed) {
    if (depth > kMaxDepth) throw Refused("nested deeper than " + std::to_string(kMaxDepth) + " levels");
    if (event == Json::parse_event_t::object_start) open_objects.emplace_back();
    if (event == Json::parse_event_t::object_end && !open_objects.empty()) open_objects.pop_back();
    if (event == Json::parse_event_t::key && parsed.is_string() && !open_objects.empty() &&
        !open_objects.back().insert(parsed.get<std::string>()).second)
      throw Refused("key `" + parsed.get<std::string>() + "` given twice in an object");
    return true;
  };
  try {
    return Json::parse(text.begin(), text.end(), check);
  } catch (const Json::exception& e) {  // parse_error, and out_of_range for a number like 1E400
    return Error::invalid(std::string("not valid JSON: ") + e.what());
  } catch (const Refused& e) {
    return Error::invalid(e.what());
  }
}

// Reads the document with the top-level reader; a nlohmann exception here is a bug of this
// file (a get<> without its type check) and says so rather than escaping.
template <typename T, typename F>
Result<T> read_document(std::string_view text, const std::string& label, F reader) {
  auto j = parse_json(text);
  if (!j) return std::move(j).error().context(label);
  T out{};
  try {
    if (auto r = apply(*j, "", out, reader); !r) return std::move(r).error().context(label);
  } catch (const Json::exception& e) {
    return Error::invalid(label + ": internal error: " + e.what());
  }
  return out;
}

// --- output

std::vector<std::string> spec_cap_names() {
  std::vector<std::string> names;
  for (int c = 0; c <= security::kCapTableLast; ++c) names.push_back(spec_cap_name(c));
  return names;
}

OJson mount_json(const char* destination, const char* type, const char* source, std::vector<std::string> options) {
  OJson m = {{"destination", destination}, {"type", type}, {"source", source}};
  if (!options.empty()) m["options"] = std::move(options);
  return m;
}

OJson default_mounts(bool rootless) {
  std::vector<std::string> devpts = {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"};
  if (!rootless) devpts.push_back("gid=5");  // no group 5 is mapped in a rootless user namespace
  OJson mounts = OJson::array();
  mounts.push_back(mount_json("/proc", "proc", "proc", {}));
  mounts.push_back(mount_json("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}));
  mounts.push_back(mount_json("/dev/pts", "devpts", "devpts", devpts));
  mounts.push_back(mount_json("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}));
  mounts.push_back(mount_json("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}));
  if (rootless) {  // sysfs cannot be mounted without owning the network namespace: bind the host's
    mounts.push_back(mount_json("/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"}));
  } else {
    mounts.push_back(mount_json("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}));
    mounts.push_back(mount_json("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}));
  }
  return mounts;
}

OJson default_linux(bool rootless, uid_t uid, gid_t gid) {
  OJson l = OJson::object();
  if (rootless) {
    l["uidMappings"] = OJson::array({{{"containerID", 0}, {"hostID", uid}, {"size", 1}}});
    l["gidMappings"] = OJson::array({{{"containerID", 0}, {"hostID", gid}, {"size", 1}}});
  } else {
    l["resources"] = {{"devices", OJson::array({{{"allow", false}, {"access", "rwm"}}})}};
  }
  OJson namespaces = OJson::array();
  for (const char* t : {"pid", "network", "ipc", "uts", "mount", "cgroup"})
    if (!(rootless && std::string_view(t) == "network")) namespaces.push_back({{"type", t}});
  if (rootless) namespaces.push_back({{"type", "user"}});
  l["namespaces"] = std::move(namespaces);
  l["maskedPaths"] = {"/proc/acpi",       "/proc/asound",        "/proc/kcore",      "/proc/keys",
                      "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
                      "/sys/firmware",    "/proc/scsi",          "/sys/devices/virtual/powercap"};
  l["readonlyPaths"] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  return l;
}

}  // namespace

Result<Spec> parse_spec(std::string_view json_text, const std::string& label) {
  return read_document<Spec>(json_text, label, read_spec);
}

Result<Process> parse_process(std::string_view json_text, const std::string& label) {
  return read_document<Process>(json_text, label, read_process);
}

Result<Resources> parse_resources(std::string_view json_text, const std::string& label) {
  return read_document<Resources>(json_text, label, read_resources);
}

std::string default_spec_json(bool rootless, uid_t uid, gid_t gid) {
  std::vector<std::string> caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  OJson process = {
      {"terminal", true},
      {"user", {{"uid", 0}, {"gid", 0}}},
      {"args", OJson::array({"sh"})},
      {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
      {"cwd", "/"},
      {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
      {"rlimits", OJson::array({{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}})},
      {"noNewPrivileges", true},
  };
  OJson spec = {
      {"ociVersion", "1.1.0"},
      {"process", std::move(process)},
      {"root", {{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", "cove"},
      {"mounts", default_mounts(rootless)},
      {"linux", default_linux(rootless, uid, gid)},
  };
  return spec.dump(1, '\t') + "\n";
}

// Every mount option the parser recognises (runc's list); `features` subtracts the refused ones.
constexpr const char* kKnownMountOptions[] = {
    "async",    "atime",      "bind",        "defaults",     "dev",      "diratime",    "dirsync",
    "exec",     "iversion",   "lazytime",    "loud",         "mand",     "noatime",     "nodev",
    "nodiratime", "noexec",   "noiversion",  "nolazytime",   "nomand",   "norelatime",  "nostrictatime",
    "nosuid",   "nosymfollow", "private",    "ratime",       "rbind",    "rdev",        "rdiratime",
    "relatime", "remount",    "rexec",       "rnoatime",     "rnodev",   "rnodiratime", "ro",
    "rprivate", "rrelatime",  "rro",         "rrw",          "rshared",  "rslave",      "rstrictatime",
    "rsuid",    "rsymfollow", "runbindable", "rw",           "shared",   "silent",      "slave",
    "strictatime", "suid",    "symfollow",   "sync",         "tmpcopyup", "unbindable", "idmap",
    "ridmap"};

std::string features_json() {
  OJson linux_features = {
      {"namespaces", kNamespaceTypes},
      {"capabilities", spec_cap_names()},
      {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}}},
      {"seccomp",
       {{"enabled", true},
        {"actions",
         {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
          "SCMP_ACT_LOG", "SCMP_ACT_TRAP"}},
        {"operators",
         {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ",
          "SCMP_CMP_NE"}},
        {"archs", {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"}}}},
      {"apparmor", {{"enabled", true}}},
      {"selinux", {{"enabled", true}}},
      {"intelRdt", {{"enabled", false}}},
      {"mountExtensions", {{"idmap", {{"enabled", true}}}}},
  };
  OJson options = OJson::array();
  for (const char* o : kKnownMountOptions)
    if (std::find_if(std::begin(kRefusedMountOptions), std::end(kRefusedMountOptions),
                     [&](const char* r) { return std::string_view(r) == o; }) == std::end(kRefusedMountOptions))
      options.push_back(o);
  OJson features = {
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", "1.2.0"},
      {"hooks", kHookKinds},
      {"mountOptions", std::move(options)},
      {"linux", std::move(linux_features)},
      {"annotations", {{"io.github.cove.oci.version", COVE_VERSION}}},
  };
  return features.dump(1, '\t') + "\n";
}

}  // namespace cove::oci
