// The key table (see key_table.hpp) and the value parsers behind it. Generic parsers are
// templates over the ContainerConfig member they fill, so a typical key is one table entry.
#include "config/key_table.hpp"

#include <algorithm>
#include <cctype>

#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/signals.hpp"
#include "base/strings.hpp"

namespace cove::config {
namespace {

using Strings = std::vector<std::string>;
using C = ContainerConfig;

const C& defaults() {
  static const C d;
  return d;
}

Error bad(const std::string& what) { return Error::invalid(what); }
std::string q(std::string_view v) { return "`" + std::string(v) + "`"; }
Strings one(std::string v) { return Strings{std::move(v)}; }
Strings one_unless_empty(const std::string& v) { return v.empty() ? Strings{} : Strings{v}; }

template <auto F>
void reset(C& c) { c.*F = defaults().*F; }

// --- unsigned ranges, booleans, signals, strings, paths --------------------------------------

template <auto F, unsigned kLo, unsigned kHi>
Result<void> parse_range(C& c, const std::string& v, const KeyContext&) {
  auto n = parse_uint(v);
  if (!n) return bad(q(v) + " is not a non-negative integer");
  if (*n < kLo || *n > kHi) return bad(q(v) + " is out of range");
  c.*F = static_cast<unsigned>(*n);
  return {};
}
template <auto F>
Strings format_number(const C& c) { return one(std::to_string(c.*F)); }

template <auto F>
Result<void> parse_bool_field(C& c, const std::string& v, const KeyContext&) {
  auto b = parse_bool(v);
  if (!b) return bad(q(v) + " is not a boolean");
  c.*F = *b;
  return {};
}
template <auto F>
Strings format_bool(const C& c) { return one(c.*F ? "true" : "false"); }

template <auto F>
Result<void> parse_signal_field(C& c, const std::string& v, const KeyContext&) {
  auto sig = parse_signal(v);
  if (!sig) return bad(q(v) + " is not a signal");
  c.*F = *sig;
  return {};
}
template <auto F>
Strings format_signal(const C& c) { return one(signal_name(c.*F)); }

template <auto F>
Strings format_string(const C& c) { return one_unless_empty(c.*F); }

// A path; relative ones are resolved against the directory of the file that sets them.
template <auto F, bool kAllowEmpty>
Result<void> parse_path(C& c, const std::string& v, const KeyContext& ctx) {
  if (v.empty()) {
    if (!kAllowEmpty) return bad("the path must not be empty");
    c.*F = "";
  } else if (v.front() == '/' || ctx.dir.empty()) {
    c.*F = absolute_path(v);
  } else {
    c.*F = absolute_path(ctx.dir + "/" + v);
  }
  return {};
}

// --- [container] ------------------------------------------------------------------------------

Result<void> parse_hostname(C& c, const std::string& v, const KeyContext&) {
  if (v.empty() || v.size() > 64) return bad(q(v) + " must have 1 to 64 characters");
  for (const auto& label : split(v, '.')) {
    if (label.empty() || label.size() > 63) return bad(q(v) + " has an empty or over-long (>63) label");
    if (label.front() == '-' || label.back() == '-')
      return bad(q(v) + ": label " + q(label) + " starts or ends with `-`");
    for (unsigned char ch : label)
      if (!std::isalnum(ch) && ch != '-') return bad(q(v) + " contains " + q(std::string(1, ch)));
  }
  c.hostname = v;
  return {};
}

Result<void> parse_init(C& c, const std::string& v, const KeyContext&) {
  auto words = split_ws(v);
  if (words.empty()) return bad("the command must not be empty");
  if (words[0].front() != '/') return bad(q(words[0]) + " is not an absolute path");
  c.init = std::move(words);
  return {};
}

Result<void> parse_init_env(C& c, const std::string& v, const KeyContext&) {
  size_t eq = v.find('=');
  if (eq == std::string::npos) return bad(q(v) + " has no `=`");
  std::string key = v.substr(0, eq);
  bool ok = !key.empty() && !std::isdigit(static_cast<unsigned char>(key[0])) &&
            std::all_of(key.begin(), key.end(), [](unsigned char ch) { return std::isalnum(ch) || ch == '_'; });
  if (!ok) return bad("variable name " + q(key) + " must be letters, digits and `_`, not starting with a digit");
  auto same = [&](const std::string& e) { return e.compare(0, eq + 1, v, 0, eq + 1) == 0; };
  if (auto it = std::find_if(c.init_env.begin(), c.init_env.end(), same); it != c.init_env.end()) *it = v;
  else c.init_env.push_back(v);  // a later KEY=... replaces an earlier one
  return {};
}

Result<void> parse_boot_order(C& c, const std::string& v, const KeyContext&) {
  auto n = parse_int(v);
  if (!n) return bad(q(v) + " is not an integer");
  if (*n < -1000 || *n > 1000) return bad(q(v) + " is out of range");
  c.boot_order = static_cast<int>(*n);
  return {};
}

Result<void> parse_init_cwd(C& c, const std::string& v, const KeyContext&) {
  if (v.empty() || v.front() != '/') return bad(q(v) + " is not an absolute path");
  c.init_cwd = v;
  return {};
}

Result<void> parse_log_level(C& c, const std::string& v, const KeyContext&) {
  auto level = log::parse_level(v);
  if (!level) return bad(q(v) + " is not a log level");
  c.log_level = std::string(log::level_name(*level));
  return {};
}

// --- [mount] ----------------------------------------------------------------------------------

Result<void> parse_mount(C& c, const std::string& v, const KeyContext& ctx) {
  auto entry = parse_mount_entry(v);
  if (!entry) return std::move(entry).error();
  entry->where = ctx.where();
  c.mounts.push_back(std::move(*entry));
  return {};
}
Strings format_mounts(const C& c) {
  Strings out;
  for (const auto& m : c.mounts) out.push_back(format_mount_entry(m));
  return out;
}

const char* mode_name(AutoMountMode m) {
  switch (m) {
    case AutoMountMode::kNone: return "none";
    case AutoMountMode::kRo: return "ro";
    case AutoMountMode::kRw: return "rw";
    case AutoMountMode::kMixed: return "mixed";
  }
  return "?";
}

// Every assignment starts from the defaults: `auto = sys:rw` leaves proc and cgroup default.
Result<void> parse_auto(C& c, const std::string& v, const KeyContext&) {
  AutoMounts result;
  Strings seen;
  for (const auto& word : split_ws(v)) {
    auto colon = word.find(':');
    std::string what = word.substr(0, colon);
    std::string mode = colon == std::string::npos ? "" : word.substr(colon + 1);
    AutoMountMode* slot = what == "proc" ? &result.proc : what == "sys" ? &result.sys
                        : what == "cgroup" ? &result.cgroup : nullptr;
    if (!slot) return bad(q(word) + ": unknown filesystem " + q(what));
    if (std::find(seen.begin(), seen.end(), what) != seen.end()) return bad(q(what) + " is given twice");
    seen.push_back(what);
    if (mode == "none") *slot = AutoMountMode::kNone;
    else if (mode == "ro") *slot = AutoMountMode::kRo;
    else if (mode == "rw") *slot = AutoMountMode::kRw;
    else if (mode == "mixed" && what != "cgroup") *slot = what == "sys" ? AutoMountMode::kRo : AutoMountMode::kMixed;
    else return bad(q(word) + ": invalid mode " + q(mode) + " for " + q(what));
  }
  c.auto_mounts = result;
  return {};
}
Strings format_auto(const C& c) {
  const auto& a = c.auto_mounts;
  return one(std::string("proc:") + mode_name(a.proc) + " sys:" + mode_name(a.sys) + " cgroup:" + mode_name(a.cgroup));
}

// `auto`, `off`, or an absolute path (no relative path: the value names a host mount, not a file
// next to the config).
Result<void> parse_lxcfs(C& c, const std::string& v, const KeyContext&) {
  if (v == "auto") {
    c.lxcfs = {LxcfsSetting::Mode::kAuto, ""};
  } else if (v == "off") {
    c.lxcfs = {LxcfsSetting::Mode::kOff, ""};
  } else if (!v.empty() && v.front() == '/') {
    std::string dir = absolute_path(v);
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    c.lxcfs = {LxcfsSetting::Mode::kPath, dir};
  } else {
    return bad(q(v) + " is neither `auto`, `off` nor an absolute path");
  }
  return {};
}
Strings format_lxcfs(const C& c) {
  switch (c.lxcfs.mode) {
    case LxcfsSetting::Mode::kAuto: return one("auto");
    case LxcfsSetting::Mode::kOff: return one("off");
    case LxcfsSetting::Mode::kPath: return one(c.lxcfs.path);
  }
  return {};
}

// --- [namespaces] -----------------------------------------------------------------------------

Result<void> parse_clone(C& c, const std::string& v, const KeyContext&) {
  std::vector<Namespace> list;
  for (const auto& word : split_ws(v)) {
    auto ns = parse_namespace(word);
    if (!ns) return bad("unknown namespace " + q(word));
    if (std::find(list.begin(), list.end(), *ns) != list.end()) return bad(q(word) + " is listed twice");
    list.push_back(*ns);
  }
  c.clone_ns = std::move(list);
  return {};
}
Strings format_clone(const C& c) {
  Strings names;
  for (Namespace ns : c.clone_ns) names.push_back(namespace_name(ns));
  return names.empty() ? Strings{} : one(join(names, " "));
}

template <Namespace kNs>
Result<void> parse_share(C& c, const std::string& v, const KeyContext&) {
  if (v.empty()) {
    c.share_ns.erase(kNs);
    return {};
  }
  bool ok = v != "." && v != ".." && std::none_of(v.begin(), v.end(), [](unsigned char ch) {
              return ch == '/' || std::isspace(ch) || std::iscntrl(ch);
            });
  if (!ok) return bad(q(v) + " is not a container name");
  c.share_ns[kNs] = v;
  return {};
}
template <Namespace kNs>
Strings format_share(const C& c) {
  auto it = c.share_ns.find(kNs);
  return it == c.share_ns.end() ? Strings{} : one(it->second);
}
template <Namespace kNs>
void clear_share(C& c) { c.share_ns.erase(kNs); }

// --- [idmap] ----------------------------------------------------------------------------------

template <auto F>
Result<void> parse_idmap(C& c, const std::string& v, const KeyContext&) {
  auto words = split_ws(v);
  if (words.size() != 3) return bad("expected 3 numbers, got " + q(v));
  auto entry = parse_idmap_entry(words);
  if (!entry) return std::move(entry).error();
  (c.*F).push_back(*entry);
  return {};
}
template <auto F>
Strings format_idmap(const C& c) {
  Strings out;
  for (const auto& e : c.*F)
    out.push_back(std::to_string(e.container_id) + " " + std::to_string(e.host_id) + " " + std::to_string(e.count));
  return out;
}

// clang-format off
constexpr KeySpec kKeys[] = {
// --- [container] ---
{"container", "hostname", "RFC 1123 host name (letters, digits, `-`, dot-separated labels), at most 64 characters",
 "the container name", false,
 "Host name set in the container's own UTS namespace. Needs `uts` in [namespaces] clone or a "
 "share.uts; the default applies only when the container clones `uts`.",
 parse_hostname, format_string<&C::hostname>, reset<&C::hostname>},
{"container", "init", "ABSOLUTE-PATH [ARGUMENT...]", "/sbin/init", false,
 "The container's first process, run as PID 1 of its pid namespace. The value is split on "
 "whitespace; there is no shell quoting, so wrap anything more complex in a script.",
 parse_init, [](const C& c) { return c.init.empty() ? Strings{} : one(join(c.init, " ")); }, reset<&C::init>},
{"container", "init.env", "NAME=VALUE", "", true,
 "Adds a variable to init's environment. Repeat the key for more variables; a later value for "
 "the same NAME replaces the earlier one.",
 parse_init_env, [](const C& c) { return c.init_env; }, reset<&C::init_env>},
{"container", "init.cwd", "ABSOLUTE-PATH", "/", false,
 "Working directory of init, inside the container.",
 parse_init_cwd, format_string<&C::init_cwd>, reset<&C::init_cwd>},
{"container", "halt_signal", "SIGNAL: name (SIGPWR or PWR), number, or SIGRTMIN+N", "SIGPWR", false,
 "Signal sent to init to ask for a clean shutdown (cove-stop).",
 parse_signal_field<&C::halt_signal>, format_signal<&C::halt_signal>, reset<&C::halt_signal>},
{"container", "reboot_signal", "SIGNAL: name (SIGINT or INT), number, or SIGRTMIN+N", "SIGINT", false,
 "Signal sent to init to ask for a reboot.",
 parse_signal_field<&C::reboot_signal>, format_signal<&C::reboot_signal>, reset<&C::reboot_signal>},
{"container", "stop_signal", "SIGNAL: name (SIGKILL or KILL), number, or SIGRTMIN+N", "SIGKILL", false,
 "Signal sent to init to stop the container at once, or when a clean shutdown did not finish "
 "within stop_timeout.",
 parse_signal_field<&C::stop_signal>, format_signal<&C::stop_signal>, reset<&C::stop_signal>},
{"container", "rootfs", "PATH", "the rootfs directory in the container's directory", false,
 "Directory holding the container's root filesystem. A relative path is relative to the "
 "directory of the file that sets it.",
 parse_path<&C::rootfs, false>, format_string<&C::rootfs>, reset<&C::rootfs>},
{"container", "privileged", "BOOLEAN: yes/no, true/false, on/off, 1/0", "no", false,
 "Run without a user namespace, so that root in the container is root on the host. A privileged "
 "container must not list `user` in [namespaces] clone (the default list leaves it out) and must "
 "not have [idmap] entries; an unprivileged one needs both.",
 parse_bool_field<&C::privileged>, format_bool<&C::privileged>, reset<&C::privileged>},
{"container", "ttys", "0..64", "1", false,
 "Number of terminals /dev/tty1 to /dev/ttyN created for the container; cove-console attaches to them.",
 parse_range<&C::ttys, 0, 64>, format_number<&C::ttys>, reset<&C::ttys>},
{"container", "console.log", "PATH, or empty for none", "", false,
 "File the container's console output is copied to. A relative path is relative to the directory "
 "of the file that sets it. Inside the rootfs, the path is resolved as the container sees it: a "
 "symlink there leads to a file in the container's tree, never to a host file.",
 parse_path<&C::console_log, true>, format_string<&C::console_log>, reset<&C::console_log>},
{"container", "log.file", "PATH, or empty for the default", "NAME.log in the container's directory", false,
 "File the container's monitor writes its log to. A relative path is relative to the directory of "
 "the file that sets it. Inside the rootfs, it is resolved as console.log is.",
 parse_path<&C::log_file, true>, format_string<&C::log_file>, reset<&C::log_file>},
{"container", "log.level", "trace|debug|info|notice|warn|error", "warn", false,
 "Least severe message level the monitor writes to its log.",
 parse_log_level, format_string<&C::log_level>, reset<&C::log_level>},
{"container", "stop_timeout", "0..3600 (seconds)", "10", false,
 "Seconds cove-stop waits by default for init to shut down after the halt signal before it sends "
 "the stop signal.",
 parse_range<&C::stop_timeout, 0, 3600>, format_number<&C::stop_timeout>, reset<&C::stop_timeout>},
// --- [boot] ---
{"boot", "autostart", "BOOLEAN: yes/no, true/false, on/off, 1/0", "no", false,
 "Start the container with cove-autostart, which the host runs at boot (cove.service), and stop "
 "it with `cove-autostart --stop` at shutdown.",
 parse_bool_field<&C::autostart>, format_bool<&C::autostart>, reset<&C::autostart>},
{"boot", "order", "-1000..1000", "0", false,
 "Where the container comes in cove-autostart's sequence: containers with a lower order start "
 "first (those with the same order at once, up to its --jobs) and stop last. A container that "
 "shares a namespace of another (share.net, ...) starts after it and stops before it, whatever "
 "their orders say.",
 parse_boot_order, format_number<&C::boot_order>, reset<&C::boot_order>},
{"boot", "delay", "0..3600 (seconds)", "0", false,
 "Seconds cove-autostart waits after starting this container (and the others of its step) "
 "before it starts the next step, so that a service inside is up for those that need it.",
 parse_range<&C::boot_delay, 0, 3600>, format_number<&C::boot_delay>, reset<&C::boot_delay>},
// --- [mount] ---
{"mount", "entry", "SOURCE TARGET FSTYPE OPTIONS [DUMP [PASS]]", "", true,
 "A mount made inside the container before init starts, in fstab(5) form; entries are mounted "
 "in order. TARGET is a path inside the rootfs (a leading `/` is optional) and may not contain "
 "`..`. OPTIONS is a comma-separated list: bind, rbind, ro, rw, nosuid, suid, nodev, dev, noexec, "
 "exec, relatime, noatime, strictatime, nodiratime, sync, async, dirsync, remount and defaults "
 "become mount flags; private, rprivate, slave, rslave, shared, rshared, unbindable and "
 "runbindable set the propagation; create=dir or create=file creates a missing TARGET; optional "
 "turns a failure into a warning; idmap=container makes a bind idmapped with the container's "
 "[idmap] (its files show with the ids they have on disk, as the rootfs's do), and "
 "uidmap=CONTAINER:HOST:COUNT with gidmap=CONTAINER:HOST:COUNT (each repeatable) with that "
 "mapping (an id CONTAINER on disk shows as host id HOST); anything else (mode=755, size=64M) "
 "is passed to the filesystem. "
 "Spaces in SOURCE or TARGET are written \\040. DUMP and PASS are accepted and ignored.",
 parse_mount, format_mounts, reset<&C::mounts>},
{"mount", "auto", "proc:rw|ro|mixed|none sys:rw|ro|mixed|none cgroup:rw|ro|none",
 "proc:mixed sys:ro cgroup:rw", false,
 "The standard filesystems cove mounts itself. proc:mixed mounts /proc read-write but "
 "/proc/sys and /proc/sysrq-trigger read-only; sys:mixed is the same as sys:ro; cgroup mounts "
 "the container's own cgroup subtree on /sys/fs/cgroup. Filesystems not named keep their default.",
 parse_auto, format_auto, reset<&C::auto_mounts>},
{"mount", "lxcfs", "auto|off|ABSOLUTE-PATH", "auto", false,
 "Files of an LXCFS mount bound read-only over the container's /proc/cpuinfo, /proc/diskstats, "
 "/proc/loadavg, /proc/meminfo, /proc/slabinfo, /proc/stat, /proc/swaps, /proc/uptime and "
 "/sys/devices/system/cpu (those that LXCFS provides and the container's /proc or /sys has), so "
 "that what reads them (procps free, top and uptime, glibc's CPU count) shows the container's "
 "cgroup limits and its own uptime instead of the host's. Programs that ask the kernel are not "
 "changed: sysinfo(2) (busybox free and uptime) and the CPU affinity mask (nproc, which follows "
 "a cpuset but not a cpu.max quota). auto uses /var/lib/lxcfs (or the directory in the "
 "environment variable COVE_LXCFS_DIR of cove-start, meant for tests) if an LXCFS "
 "(`fuse.lxcfs`) filesystem is mounted there, and otherwise starts the container without it "
 "and logs a warning; off never binds anything; a path must be an LXCFS mount, or the start "
 "fails. LXCFS must run with allow_other (its default), and with --enable-cfs for cpu.max "
 "quotas to count; cove's scripts/lxcfs-service starts it so. In an unprivileged container the "
 "binds are locked like /proc itself: the container cannot unmount them to see the host's "
 "values. A restore binds the views from the LXCFS running then; without one, from the host's "
 "own files under auto or off, and not at all under a path (the restore fails).",
 parse_lxcfs, format_lxcfs, reset<&C::lxcfs>},
// --- [namespaces] ---
{"namespaces", "clone", "space-separated subset of: mnt pid uts ipc net user cgroup time",
 "all of them, without `time` when the kernel lacks it and without `user` when privileged", false,
 "The namespaces created for the container. mnt and pid are required (cove uses pivot_root and "
 "runs init as PID 1); user is required unless privileged; a namespace shared with share.* must "
 "not be listed.",
 parse_clone, format_clone, reset<&C::clone_ns>},
{"namespaces", "share.net", "CONTAINER-NAME, or empty", "", false,
 "Join the network namespace of the running container CONTAINER-NAME instead of creating one. "
 "Only net, uts and ipc can be shared: the monitor enters them with setns(2) before it clones "
 "init, and they need no per-container setup. The others cannot: mnt holds the container's own "
 "root (pivot_root), pid makes init PID 1, user carries the id maps, cgroup is rooted at the "
 "container's own cgroup and time must be configured before its first process.",
 parse_share<Namespace::kNet>, format_share<Namespace::kNet>, clear_share<Namespace::kNet>},
{"namespaces", "share.uts", "CONTAINER-NAME, or empty", "", false,
 "Join the UTS namespace (host name) of the running container CONTAINER-NAME; see share.net.",
 parse_share<Namespace::kUts>, format_share<Namespace::kUts>, clear_share<Namespace::kUts>},
{"namespaces", "share.ipc", "CONTAINER-NAME, or empty", "", false,
 "Join the IPC namespace of the running container CONTAINER-NAME; see share.net.",
 parse_share<Namespace::kIpc>, format_share<Namespace::kIpc>, clear_share<Namespace::kIpc>},
// --- [idmap] ---
{"idmap", "uid", "CONTAINER-ID HOST-ID COUNT (unsigned 32-bit, COUNT at least 1)", "", true,
 "Maps COUNT user ids starting at CONTAINER-ID in the container to HOST-ID and up on the host, "
 "like a line of /proc/PID/uid_map. An unprivileged container needs an entry that maps container "
 "id 0; entries must not overlap on either side; at most 340 entries.",
 parse_idmap<&C::uid_map>, format_idmap<&C::uid_map>, reset<&C::uid_map>},
{"idmap", "gid", "CONTAINER-ID HOST-ID COUNT (unsigned 32-bit, COUNT at least 1)", "", true,
 "Maps group ids like uid does for user ids (a line of /proc/PID/gid_map).",
 parse_idmap<&C::gid_map>, format_idmap<&C::gid_map>, reset<&C::gid_map>},
};
// clang-format on

}  // namespace

std::span<const KeySpec> core_keys() { return kKeys; }

// Every module's keys, in section order. Feature modules keep their keys in their own
// keys_*.cpp file (one table each), so adding a section never touches this file's table.
KeyTable key_table() {
  static const KeyTable::Parts parts = {core_keys(), storage_keys(), cgroup_keys(), security_keys()};
  return KeyTable(parts);
}

const KeySpec* find_key(std::string_view section, std::string_view key) {
  for (const auto& k : key_table())
    if (k.section == section && k.key == key) return &k;
  return nullptr;
}

std::vector<std::string> key_sections() {
  std::vector<std::string> out;
  for (const auto& k : key_table())
    if (std::find(out.begin(), out.end(), k.section) == out.end()) out.emplace_back(k.section);
  return out;
}

bool is_known_section(std::string_view section) {
  auto t = key_table();
  return std::any_of(t.begin(), t.end(), [&](const KeySpec& k) { return k.section == section; });
}

}  // namespace cove::config
