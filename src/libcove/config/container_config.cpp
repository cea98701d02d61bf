// Small codecs of the config model: namespace names and the text form of a `[mount] entry`
// (fstab-like fields, the mount option list, fstab's octal escapes, TARGET normalisation).
#include "config/container_config.hpp"

#include <sys/mount.h>

#include <cstring>

#include <fmt/format.h>

#include "base/strings.hpp"

namespace cove::config {

const char* namespace_name(Namespace ns) {
  switch (ns) {
    case Namespace::kMnt: return "mnt";
    case Namespace::kPid: return "pid";
    case Namespace::kUts: return "uts";
    case Namespace::kIpc: return "ipc";
    case Namespace::kNet: return "net";
    case Namespace::kUser: return "user";
    case Namespace::kCgroup: return "cgroup";
    case Namespace::kTime: return "time";
  }
  return "?";
}

std::optional<Namespace> parse_namespace(std::string_view name) {
  for (Namespace ns : kAllNamespaces)
    if (name == namespace_name(ns)) return ns;
  return std::nullopt;
}

namespace {

// Options that set and/or clear MS_* flags. Later options win ("ro,rw" is rw).
struct FlagOption {
  const char* name;
  unsigned long set;
  unsigned long clear;
};
constexpr unsigned long kAtimeFlags = MS_RELATIME | MS_NOATIME | MS_STRICTATIME;
constexpr FlagOption kFlagOptions[] = {
    {"defaults", 0, 0},
    {"bind", MS_BIND, MS_REC},
    {"rbind", MS_BIND | MS_REC, 0},
    {"ro", MS_RDONLY, 0},
    {"rw", 0, MS_RDONLY},
    {"nosuid", MS_NOSUID, 0},
    {"suid", 0, MS_NOSUID},
    {"nodev", MS_NODEV, 0},
    {"dev", 0, MS_NODEV},
    {"noexec", MS_NOEXEC, 0},
    {"exec", 0, MS_NOEXEC},
    {"relatime", MS_RELATIME, kAtimeFlags},
    {"noatime", MS_NOATIME, kAtimeFlags},
    {"strictatime", MS_STRICTATIME, kAtimeFlags},
    {"nodiratime", MS_NODIRATIME, 0},
    {"sync", MS_SYNCHRONOUS, 0},
    {"async", 0, MS_SYNCHRONOUS},
    {"dirsync", MS_DIRSYNC, 0},
    {"remount", MS_REMOUNT, 0},
};

struct PropagationOption {
  const char* name;
  unsigned long flags;
};
constexpr PropagationOption kPropagationOptions[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

std::string escape_field(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == ' ') out += "\\040";
    else if (c == '\t') out += "\\011";
    else if (c == '\n') out += "\\012";
    else if (c == '\\') out += "\\134";
    else out += c;
  }
  return out;
}

Result<std::string> normalize_target(const std::string& target) {
  std::vector<std::string> parts;
  for (auto& part : split(target, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..")
      return Error::invalid("TARGET `" + target + "` must not contain a `..` component");
    parts.push_back(std::move(part));
  }
  if (parts.empty())
    return Error::invalid("TARGET `" + target + "` is the rootfs itself; name a path inside it");
  return join(parts, "/");
}

// "CONTAINER:HOST:COUNT" of `uidmap=`/`gidmap=`.
Result<ns::IdMapEntry> parse_map_option(const std::string& text) {
  auto parts = split(text, ':');
  if (parts.size() != 3) return Error::invalid("expected CONTAINER:HOST:COUNT");
  return parse_idmap_entry(parts);
}

// The rules between options, once all are read.
Result<void> check_idmap(const MountEntry& e) {
  if (!e.idmapped() && e.gid_map.empty()) return {};
  if (!(e.flags & MS_BIND)) return Error::invalid("an id mapping (`idmap=`, `uidmap=`, `gidmap=`) needs `bind` or `rbind`");
  if (e.idmap_container && (!e.uid_map.empty() || !e.gid_map.empty()))
    return Error::invalid("`idmap=container` and `uidmap=`/`gidmap=` are mutually exclusive");
  if (!e.idmap_container && (e.uid_map.empty() || e.gid_map.empty()))
    return Error::invalid("`uidmap=` and `gidmap=` go together (each at least once)");
  if (e.optional) return Error::invalid("an idmapped bind cannot be `optional`");
  return {};
}

Result<void> apply_option(MountEntry& e, const std::string& opt, std::vector<std::string>& data) {
  for (const auto& f : kFlagOptions) {
    if (opt == f.name) {
      e.flags = (e.flags & ~f.clear) | f.set;
      return {};
    }
  }
  for (const auto& p : kPropagationOptions) {
    if (opt == p.name) {
      if (e.propagation != 0 && e.propagation != p.flags)
        return Error::invalid("conflicting propagation options (at `" + opt + "`)");
      e.propagation = p.flags;
      return {};
    }
  }
  if (opt == "create=dir" || opt == "create=file") {
    bool dir = opt == "create=dir";
    if (dir ? e.create_file : e.create_dir)
      return Error::invalid("`create=dir` and `create=file` are mutually exclusive");
    (dir ? e.create_dir : e.create_file) = true;
    return {};
  }
  if (starts_with(opt, "create="))
    return Error::invalid("unknown option `" + opt + "` (create=dir or create=file)");
  if (opt == "optional") {
    e.optional = true;
    return {};
  }
  if (opt == "idmap=container") {
    e.idmap_container = true;
    return {};
  }
  if (starts_with(opt, "idmap="))
    return Error::invalid("unknown option `" + opt + "` (idmap=container, or uidmap= and gidmap=)");
  for (auto [prefix, map] : {std::pair{"uidmap=", &e.uid_map}, std::pair{"gidmap=", &e.gid_map}})
    if (starts_with(opt, prefix)) {
      auto entry = parse_map_option(opt.substr(std::strlen(prefix)));
      if (!entry) return std::move(entry).error().context("`" + opt + "`");
      map->push_back(*entry);
      return {};
    }
  data.push_back(opt);  // filesystem-specific: mode=755, size=64M, ...
  return {};
}

}  // namespace

Result<IdMapEntry> parse_idmap_entry(const std::vector<std::string>& numbers) {
  if (numbers.size() != 3) return Error::invalid("expected 3 numbers");
  uint64_t n[3];
  for (int i = 0; i < 3; ++i) {
    auto x = parse_uint(numbers[i]);
    if (!x || *x > UINT32_MAX) return Error::invalid("`" + numbers[i] + "` is not a number in 0..4294967295");
    n[i] = *x;
  }
  if (n[2] == 0) return Error::invalid("COUNT must be at least 1");
  if (n[0] + n[2] > UINT32_MAX || n[1] + n[2] > UINT32_MAX) return Error::invalid("ID + COUNT must not exceed 4294967295");
  return IdMapEntry{uint32_t(n[0]), uint32_t(n[1]), uint32_t(n[2])};
}

Result<MountEntry> parse_mount_entry(std::string_view text) {
  auto fields = split_ws(text);
  if (fields.size() < 4 || fields.size() > 6)
    return Error::invalid("expected 4 to 6 fields, got " + std::to_string(fields.size()));
  for (size_t i = 4; i < fields.size(); ++i)
    if (!parse_uint(fields[i]))
      return Error::invalid("DUMP and PASS must be numbers, got `" + fields[i] + "`");
  return make_mount_entry(unescape_octal(fields[0]), unescape_octal(fields[1]), fields[2], split(fields[3], ','));
}

Result<MountEntry> make_mount_entry(std::string source, const std::string& target, std::string fstype,
                                    const std::vector<std::string>& options) {
  MountEntry e;
  e.source = std::move(source);
  auto normalized = normalize_target(target);
  if (!normalized) return std::move(normalized).error();
  e.target = std::move(*normalized);
  e.fstype = std::move(fstype);
  std::vector<std::string> data;
  for (const auto& opt : options) {
    if (opt.empty()) continue;
    if (auto r = apply_option(e, opt, data); !r) return std::move(r).error();
  }
  e.data = join(data, ",");
  COVE_TRY(check_idmap(e));
  return e;
}

std::string format_mount_entry(const MountEntry& e) {
  std::vector<std::string> opts;
  if ((e.flags & (MS_BIND | MS_REC)) == (MS_BIND | MS_REC)) opts.push_back("rbind");
  else if (e.flags & MS_BIND) opts.push_back("bind");
  for (const auto& f : kFlagOptions) {
    if (f.set == 0 || (f.set & MS_BIND)) continue;
    if ((e.flags & f.set) == f.set) opts.push_back(f.name);
  }
  for (const auto& p : kPropagationOptions)
    if (e.propagation == p.flags) opts.push_back(p.name);
  if (e.create_dir) opts.push_back("create=dir");
  if (e.create_file) opts.push_back("create=file");
  if (e.optional) opts.push_back("optional");
  if (e.idmap_container) opts.push_back("idmap=container");
  for (const auto& m : e.uid_map) opts.push_back(fmt::format("uidmap={}:{}:{}", m.container_id, m.host_id, m.count));
  for (const auto& m : e.gid_map) opts.push_back(fmt::format("gidmap={}:{}:{}", m.container_id, m.host_id, m.count));
  if (!e.data.empty()) opts.push_back(e.data);
  if (opts.empty()) opts.push_back("defaults");
  return escape_field(e.source) + " /" + escape_field(e.target) + " " + e.fstype + " " + join(opts, ",");
}

}  // namespace cove::config
