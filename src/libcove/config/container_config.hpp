// ContainerConfig: the typed result of parsing a container's INI config.
// Owned by config/: no raw strings that need further parsing leave this module.
// Defaults are applied by the parser; `validate()` checks cross-key rules.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/cgroup_config.hpp"
#include "config/nic_config.hpp"
#include "config/security_config.hpp"
#include "config/storage_config.hpp"

#include "base/result.hpp"
#include "ns/idmap.hpp"

namespace cove::config {

enum class Namespace { kMnt, kPid, kUts, kIpc, kNet, kUser, kCgroup, kTime };
inline constexpr Namespace kAllNamespaces[] = {Namespace::kMnt, Namespace::kPid,  Namespace::kUts,
                                               Namespace::kIpc, Namespace::kNet,  Namespace::kUser,
                                               Namespace::kCgroup, Namespace::kTime};
const char* namespace_name(Namespace ns);  // "mnt", "pid", ...
std::optional<Namespace> parse_namespace(std::string_view name);  // inverse of namespace_name()

// One line of [mount] entry: fstab-like "SOURCE TARGET FSTYPE OPTIONS [DUMP [PASS]]".
// TARGET is relative to the rootfs; the parser stores it normalised: no leading '/', no empty, "."
// or ".." components ("dev/shm"). SOURCE and TARGET may use fstab's octal escapes (\040 = space).
struct MountEntry {
  std::string source;
  std::string target;
  std::string fstype;
  unsigned long flags = 0;       // MS_* from the option list (bind, rbind, ro, nosuid, ...)
  unsigned long propagation = 0; // MS_PRIVATE/MS_SLAVE/MS_SHARED/MS_UNBINDABLE (+MS_REC), 0 = none
  std::string data;              // options that are not flags, comma-joined, passed to mount(2)
  bool create_dir = false;       // option "create=dir"
  bool create_file = false;      // option "create=file"
  bool optional = false;         // option "optional": a failure is a warning
  // An idmapped bind (mount_setattr(2) MOUNT_ATTR_IDMAP, made by the monitor): option
  // `idmap=container` maps the source's ids as the rootfs's are, through the container's
  // `[idmap]`; `uidmap=CONTAINER:HOST:COUNT` and `gidmap=...` (each repeatable, both needed)
  // give the mapping itself: a file of id CONTAINER on disk shows as HOST seen from the host
  // (as the container's ids do). Binds only; `rbind` maps every mount of the tree.
  bool idmap_container = false;
  std::vector<ns::IdMapEntry> uid_map, gid_map;
  std::string where;             // "FILE:LINE" for error messages

  bool idmapped() const { return idmap_container || !uid_map.empty(); }

  bool operator==(const MountEntry&) const = default;
};

// Parses one `[mount] entry` value; the error message says what is wrong (no "FILE:LINE").
// `where` is left empty for the caller to fill.
Result<MountEntry> parse_mount_entry(std::string_view text);
// The same from its parts (unescaped), for mounts that do not come from a config line (an OCI
// bundle's `mounts`): options as in `[mount] entry`; unknown ones become mount(2) data.
Result<MountEntry> make_mount_entry(std::string source, const std::string& target, std::string fstype,
                                    const std::vector<std::string>& options);
// The inverse: "SOURCE /TARGET FSTYPE OPTIONS"; parse_mount_entry(format_mount_entry(e)) == e.
std::string format_mount_entry(const MountEntry& entry);

enum class AutoMountMode { kNone, kRo, kRw, kMixed };
struct AutoMounts {
  AutoMountMode proc = AutoMountMode::kMixed;   // mixed: rw, /proc/sys and /proc/sysrq-trigger read-only
  AutoMountMode sys = AutoMountMode::kRo;       // rw | ro | none (mixed accepted as ro)
  AutoMountMode cgroup = AutoMountMode::kRw;    // the container's own cgroup subtree; rw | ro | none
};

// `[mount] lxcfs`: whether /proc and /sys/devices/system/cpu files are bound from an LXCFS mount
// (values that follow the container's cgroup limits and uptime).
struct LxcfsSetting {
  enum class Mode { kAuto, kOff, kPath };
  Mode mode = Mode::kAuto;  // auto: the default directory if LXCFS is mounted there, else without
  std::string path;         // kPath: the directory that must be an LXCFS mount

  bool operator==(const LxcfsSetting&) const = default;
};

// Whether a sysctl belongs to a namespace (net.*, fs.mqueue.*, the IPC kernel.* keys) rather
// than to the host as a whole.
bool is_namespaced_sysctl(const std::string& key);

using ns::IdMapEntry;  // `uid = CONTAINER HOST COUNT`, a type of ns/

// One id-map entry from its three numbers as text (CONTAINER HOST COUNT): each in
// 0..4294967295, COUNT at least 1, neither range past 4294967295. For `[idmap]` and the mount
// options `uidmap=`/`gidmap=`.
Result<IdMapEntry> parse_idmap_entry(const std::vector<std::string>& numbers);

struct ContainerConfig {
  // [container]
  std::string name;                       // set by the caller, not from the file
  std::string hostname;                   // default: the container name if `uts` is cloned, else ""
  std::vector<std::string> init = {"/sbin/init"};  // `init`, split on whitespace
  std::vector<std::string> init_env;      // repeatable `init.env = KEY=VALUE`
  std::string init_cwd = "/";             // `init.cwd`
  int halt_signal = 30;                   // SIGPWR
  int reboot_signal = 2;                  // SIGINT
  int stop_signal = 9;                    // SIGKILL
  std::string rootfs;                     // default: PATH/NAME/rootfs
  bool privileged = false;                // true: no user namespace
  unsigned ttys = 1;                      // number of /dev/ttyN ptys
  std::string console_log;                // file the console output is copied to, "" = none
  std::string log_file;                   // monitor log, default PATH/NAME/NAME.log
  std::string log_level = "warn";
  unsigned stop_timeout = 10;             // default seconds cove-stop waits for a clean halt

  // [boot]: what cove-autostart does with the container at host boot and shutdown
  bool autostart = false;                 // `autostart`: started by cove-autostart
  int boot_order = 0;                     // `order`: lower starts earlier, stops later
  unsigned boot_delay = 0;                // `delay`: seconds before the next `order` starts

  // [rootfs] (and `[container] ephemeral`)
  StorageConfig storage;

  // [mount]
  std::vector<MountEntry> mounts;         // repeatable `entry`
  AutoMounts auto_mounts;                 // `auto = proc:mixed sys:ro cgroup:rw`
  LxcfsSetting lxcfs;                     // `lxcfs = auto|off|PATH`

  // [namespaces]
  std::vector<Namespace> clone_ns;        // `clone = ...`, default all that exist
  std::map<Namespace, std::string> share_ns;  // `share.net = OTHER` (container name)

  // [idmap]
  std::vector<IdMapEntry> uid_map;        // repeatable `uid = CONTAINER HOST COUNT`
  std::vector<IdMapEntry> gid_map;

  // [cgroup]
  CgroupConfig cgroup;

  // [security]
  SecurityConfig security;

  // [network.NAME] sections, in the order their names first appear; none = only `lo`.
  std::vector<NicConfig> nics;

  // Where each key was last set, "FILE:LINE", for messages from validate().
  std::map<std::string, std::string> origin;
};

}  // namespace cove::config
