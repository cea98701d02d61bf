// oci::Spec: an OCI runtime-spec bundle's config.json (runtime-spec 1.1; 1.0.x and 1.2 accepted),
// parsed into typed data. No kernel calls here: parse_spec() only reads JSON text.
// Strict on purpose: a field this runtime does not know, or knows but does not implement, is
// an error naming its JSON path (`linux.intelRdt`: not supported) — never a silent ignore of
// something that may be security-relevant. Only `annotations` is free-form. oci/translate turns
// a Spec into libcove's launch plan and cgroup limits; cove-oci reads bundles through this.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace cove::oci {

struct IdMapping {
  uint32_t container_id = 0, host_id = 0, size = 0;
  bool operator==(const IdMapping&) const = default;
};

struct User {
  uint32_t uid = 0, gid = 0;
  std::optional<uint32_t> umask;
  std::vector<uint32_t> additional_gids;
};

// Capability names as the spec writes them ("CAP_CHOWN"); checked against cove's table.
struct Capabilities {
  std::vector<std::string> bounding, effective, inheritable, permitted, ambient;
};

struct Rlimit {
  std::string type;  // "RLIMIT_NOFILE"; checked against the known names
  uint64_t soft = 0, hard = 0;
};

struct Process {
  bool terminal = false;
  std::optional<std::pair<unsigned, unsigned>> console_size;  // {height, width}
  User user;
  std::vector<std::string> args;   // non-empty for create/run
  std::vector<std::string> env;    // KEY=VALUE
  std::string cwd = "/";           // absolute
  std::optional<Capabilities> capabilities;
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::string apparmor_profile;
  std::string selinux_label;
  std::optional<int> oom_score_adj;
};

struct Root {
  std::string path;  // as written: relative to the bundle, or absolute
  bool readonly = false;
};

struct Mount {
  std::string destination;         // absolute inside the container
  std::string type;                // "" for a bind mount written without a type
  std::string source;
  std::vector<std::string> options;
  std::vector<IdMapping> uid_mappings, gid_mappings;  // idmapped mount
};

struct Hook {
  std::string path;                // absolute
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<unsigned> timeout; // seconds, > 0
};

struct Hooks {
  std::vector<Hook> prestart, create_runtime, create_container, start_container, poststart, poststop;
};

struct Namespace {
  std::string type;                // pid network mount ipc uts user cgroup time
  std::string path;                // "" = a new namespace; else join this one
};

struct Device {
  std::string type;                // "c", "b", "u", "p"
  std::string path;                // absolute inside the container
  int64_t major = 0, minor = 0;
  std::optional<uint32_t> file_mode;
  std::optional<uint32_t> uid, gid;
};

struct DeviceCgroupRule {
  bool allow = false;
  std::string type;                // "" = all ("a"), "c", "b"
  std::optional<int64_t> major, minor;
  std::string access;              // subset of "rwm"; "" = rwm
};

struct Memory {
  std::optional<int64_t> limit, reservation, swap;  // -1 = unlimited
  std::optional<int64_t> kernel, kernel_tcp;        // accepted only when unset (refused otherwise)
  std::optional<uint64_t> swappiness;
  std::optional<bool> disable_oom_killer;
  std::optional<bool> use_hierarchy;
  std::optional<bool> check_before_update;
};

struct Cpu {
  std::optional<uint64_t> shares;
  std::optional<int64_t> quota;     // -1 = unlimited
  std::optional<uint64_t> burst;
  std::optional<uint64_t> period;
  std::optional<int64_t> realtime_runtime;
  std::optional<uint64_t> realtime_period;
  std::string cpus, mems;
  std::optional<int64_t> idle;
};

struct WeightDevice {
  int64_t major = 0, minor = 0;
  std::optional<uint16_t> weight, leaf_weight;
};

struct ThrottleDevice {
  int64_t major = 0, minor = 0;
  uint64_t rate = 0;
};

struct BlockIo {
  std::optional<uint16_t> weight, leaf_weight;
  std::vector<WeightDevice> weight_device;
  std::vector<ThrottleDevice> throttle_read_bps, throttle_write_bps, throttle_read_iops, throttle_write_iops;
};

struct HugepageLimit {
  std::string page_size;           // "2MB"
  uint64_t limit = 0;
};

struct Resources {
  std::vector<DeviceCgroupRule> devices;
  std::optional<Memory> memory;
  std::optional<Cpu> cpu;
  std::optional<int64_t> pids_limit;  // <= 0 = unlimited
  std::optional<BlockIo> block_io;
  std::vector<HugepageLimit> hugepage_limits;
  std::map<std::string, std::string> unified;  // cgroup v2 file -> value
  bool has_network = false;         // linux.resources.network given (refused by translate when set)
  bool has_rdma = false;
};

// A seccomp policy is kept as its JSON text: security/seccomp parses the OCI format
// (parse_oci_policy), the same parser as `[security] seccomp = FILE.json`.
struct Seccomp {
  std::string json;                // the `linux.seccomp` object, re-serialised
  std::string listener_path;       // SCMP_ACT_NOTIFY listener (from the object), "" = none
};

struct TimeOffset {
  int64_t secs = 0;
  uint32_t nanosecs = 0;
};

struct Linux {
  std::vector<IdMapping> uid_mappings, gid_mappings;
  std::map<std::string, std::string> sysctl;
  std::optional<Resources> resources;
  std::string cgroups_path;        // "" = runtime's choice
  std::vector<Namespace> namespaces;
  std::vector<Device> devices;
  std::optional<Seccomp> seccomp;
  std::string rootfs_propagation;  // "", shared, slave, private, unbindable, rshared, rslave, rprivate
  std::vector<std::string> masked_paths, readonly_paths;
  std::string mount_label;
  std::map<std::string, TimeOffset> time_offsets;  // "monotonic", "boottime"
};

struct Spec {
  std::string oci_version;         // "1.0.0" .. "1.2.x"
  std::optional<Process> process;  // required by create/run
  Root root;
  std::string hostname, domainname;
  std::vector<Mount> mounts;
  std::optional<Hooks> hooks;
  std::map<std::string, std::string> annotations;
  std::optional<Linux> linux;      // (-std=c++20: `linux` is no macro)
};

// Parses config.json text. `label` prefixes messages ("BUNDLE/config.json"). Errors name the
// JSON path of the offending field: "config.json: `process.capabilities.bounding[3]`: unknown
// capability `CAP_FOO`", "config.json: `linux.intelRdt`: not supported by cove-oci".
Result<Spec> parse_spec(std::string_view json_text, const std::string& label);

// A process JSON (runc exec --process FILE): the `process` object alone, same rules.
Result<Process> parse_process(std::string_view json_text, const std::string& label);

// A resources JSON (runc update --resources FILE): the `linux.resources` object alone.
Result<Resources> parse_resources(std::string_view json_text, const std::string& label);

// The spec `cove-oci spec` writes (as runc's: sh as the process, a read-only rootfs "rootfs",
// the standard mounts and masked/read-only paths, the namespaces; with `rootless`, a user
// namespace mapping the caller's uid/gid and no network namespace). Pretty-printed JSON.
std::string default_spec_json(bool rootless, uid_t uid, gid_t gid);

// Mount options the parser knows but cove-oci refuses (translate.cpp): `features` leaves them
// out of mountOptions, since engines pick options by that list (containerd uses `rro` when a
// runtime lists it).
inline constexpr const char* kRefusedMountOptions[] = {
    "tmpcopyup",  "rro",          "rrw",            "rnosuid",      "rsuid",
    "rnodev",     "rdev",       "rnoexec",     "rexec",        "rnoatime",       "ratime",       "rrelatime",
    "rnorelatime", "rstrictatime", "rnostrictatime", "rnodiratime", "rdiratime", "rnosymfollow", "rsymfollow",
    "nosymfollow", "symfollow", "mand",        "nomand",       "lazytime"};

// `cove-oci features` (runtime-spec features.md): what this runtime implements, JSON.
std::string features_json();

}  // namespace cove::oci
