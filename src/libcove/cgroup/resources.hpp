// ResourceLimits: the version-neutral model of a container's cgroup limits, in cgroup v2 terms
// (the key names of [cgroup] are the v2 file names). Plain data plus the conversions between
// v1 and v2 units, written once here (crun keeps `convert_shares_to_weight` in one place).
// config/ fills a ResourceLimits; ContainerCgroups::apply() hands each controller's part to
// the v1 or v2 writer (cgroup/v1/, cgroup/v2/) of the hierarchy that carries the controller.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace cove::cgroup {

// A byte or count limit; nullopt inside means "max" (no limit).
using Limit = std::optional<uint64_t>;

struct CpuMax {
  std::optional<uint64_t> quota_us;  // nullopt = "max"
  uint64_t period_us = 100000;
  bool operator==(const CpuMax&) const = default;
};

// One device of `io.max`. Device paths are resolved to numbers by config/; `rootfs` (the disk
// under the container's root filesystem) stays symbolic until a start binds it to numbers
// (`bind_rootfs_disk`), since the disk is known only then (a loop device, a moved container).
struct IoMax {
  bool rootfs = false;              // the device is the rootfs' disk; major:minor are unset
  uint32_t major = 0, minor = 0;
  Limit rbps, wbps, riops, wiops;  // nullopt = "max"; an unset field is written as max too
  bool operator==(const IoMax&) const = default;
};

struct HugetlbMax {
  std::string page_size;  // as the kernel names it: "2MB", "1GB"
  Limit max;
  bool operator==(const HugetlbMax&) const = default;
};

// One devices.allow / devices.deny rule: "TYPE MAJOR:MINOR ACCESS", `a` for all devices, `*`
// for any number. Rules are applied in order on top of "deny everything"; the last match wins.
struct DeviceRule {
  bool allow = true;
  char type = 'a';          // 'a', 'c' or 'b'
  int64_t major = -1;       // -1 = `*`
  int64_t minor = -1;       // -1 = `*`
  unsigned access = 7;      // bit 0 r, bit 1 w, bit 2 m
  bool operator==(const DeviceRule&) const = default;
};
inline constexpr unsigned kAccessRead = 1, kAccessWrite = 2, kAccessMknod = 4;

// A raw pass-through write, "FILE VALUE", for one cgroup version only.
struct RawWrite {
  std::string file;
  std::string value;
  bool operator==(const RawWrite&) const = default;
};

struct ResourceLimits {
  std::optional<Limit> memory_max, memory_high, memory_swap_max;
  std::optional<CpuMax> cpu_max;
  std::optional<uint32_t> cpu_weight;  // 1..10000
  std::optional<std::string> cpuset_cpus, cpuset_mems;
  std::optional<Limit> pids_max;
  std::vector<IoMax> io_max;
  std::optional<uint32_t> io_weight;   // 1..10000
  std::vector<HugetlbMax> hugetlb_max;
  // Added after the standard nodes (see `default_device_rules`); `devices.deny = a` first
  // drops those too.
  std::vector<DeviceRule> devices;
  bool default_devices = true;         // start from the standard nodes
  std::vector<RawWrite> raw_v1, raw_v2;

  bool operator==(const ResourceLimits&) const = default;
};

// --- conversions -------------------------------------------------------------------------------

// v2 cpu.weight (1..10000) -> v1 cpu.shares (2..262144), as crun: 2 + ((w - 1) * 262142) / 9999.
uint64_t weight_to_shares(uint32_t weight);
// v1 cpu.shares -> v2 cpu.weight, the inverse (rounded, clamped to 1..10000).
uint32_t shares_to_weight(uint64_t shares);
// v2 io.weight (1..10000) -> v1 blkio.weight (10..1000), and back.
uint32_t io_weight_to_blkio(uint32_t weight);
uint32_t blkio_to_io_weight(uint32_t blkio_weight);

// "max" or the decimal number.
std::string format_limit(const Limit& l);
// "QUOTA PERIOD" or "max PERIOD" (what v2 cpu.max reads back).
std::string format_cpu_max(const CpuMax& c);
// "MAJ:MIN rbps=N wbps=max ..." (or "rootfs rbps=..."), every field.
std::string format_io_max(const IoMax& io);
// "c 1:3 rwm", "a", "b *:* m".
std::string format_device_rule(const DeviceRule& r);
// "rwm" subsets; the access text of a rule.
std::string format_access(unsigned access);

// Parsers of the v2 value syntax (used by config/ and by live changes); errors name the problem.
Result<Limit> parse_limit(std::string_view text, bool sizes);          // "max" | N | size (64M)
Result<CpuMax> parse_cpu_max(std::string_view text);                   // "max" | "QUOTA [PERIOD]"
Result<DeviceRule> parse_device_rule(std::string_view text, bool allow);
// "MAJ:MIN key=val..." or "rootfs key=val..."; config/ resolves device paths first.
Result<IoMax> parse_io_max(std::string_view text);
// Whether an io.max entry names the rootfs' disk symbolically.
bool names_rootfs_disk(const ResourceLimits& limits);
// `limits` with every `rootfs` entry of io.max bound to the disk MAJ:MIN. Entries for one device
// are merged as config lines are: a later one replaces an earlier one.
ResourceLimits bind_rootfs_disk(ResourceLimits limits, uint32_t major, uint32_t minor);
// A cpuset list "0-3,5"; returns it normalised (no spaces).
Result<std::string> parse_cpu_list(std::string_view text);

// The standard nodes a container gets by default: null zero full random urandom tty console
// ptmx, and the ptys (c 5:0 5:1 5:2 136:*), each rwm.
std::vector<DeviceRule> default_device_rules();
// The rules actually enforced: deny everything, then the defaults (if kept), then `devices`.
std::vector<DeviceRule> effective_device_rules(const ResourceLimits& limits);

// Which controllers the limits need ("memory", "cpu", "cpuset", "pids", "io", "hugetlb",
// "devices"), in a fixed order. `devices` is always needed (the default rules apply).
std::vector<std::string> needed_controllers(const ResourceLimits& limits);
// The controller a [cgroup] key belongs to ("memory.max" -> "memory", "cpus" -> "cpu",
// "io.max" -> "io", "raw.v1" -> "raw"), for applying one live change; "" when unknown.
std::string controller_of_key(std::string_view key);

}  // namespace cove::cgroup
