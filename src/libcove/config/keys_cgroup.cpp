// The [cgroup] section's keys (see key_table.hpp). Values become typed fields of
// ContainerConfig::cgroup here (cgroup::ResourceLimits); no raw strings leave config/.
// Key names are the cgroup v2 file names and values are in v2 syntax (plus size suffixes);
// cgroup/ maps them onto v1 files on v1 and hybrid hosts.
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "base/strings.hpp"
#include "config/key_table.hpp"

namespace cove::config {
namespace {

using Strings = std::vector<std::string>;
using C = ContainerConfig;
using L = cgroup::ResourceLimits;

Error bad(const std::string& what) { return Error::invalid(what); }
std::string q(std::string_view v) { return "`" + std::string(v) + "`"; }
Strings one(std::string v) { return Strings{std::move(v)}; }
L& lim(C& c) { return c.cgroup.limits; }
const L& lim(const C& c) { return c.cgroup.limits; }

template <auto F>
void reset(C& c) { lim(c).*F = L{}.*F; }

// --- limits: SIZE|max or N|max -----------------------------------------------------------------

template <auto F, bool kSizes>
Result<void> parse_limit_field(C& c, const std::string& v, const KeyContext&) {
  auto l = cgroup::parse_limit(v, kSizes);
  if (!l) return std::move(l).error();
  lim(c).*F = *l;
  return {};
}
template <auto F>
Strings format_limit_field(const C& c) {
  const auto& v = lim(c).*F;
  return v ? one(cgroup::format_limit(*v)) : Strings{};
}

template <auto F, unsigned kLo, unsigned kHi>
Result<void> parse_weight(C& c, const std::string& v, const KeyContext&) {
  auto n = parse_uint(v);
  if (!n || *n < kLo || *n > kHi) return bad(q(v) + " is not a number in " + std::to_string(kLo) + ".." + std::to_string(kHi));
  lim(c).*F = static_cast<uint32_t>(*n);
  return {};
}
template <auto F>
Strings format_weight(const C& c) {
  const auto& v = lim(c).*F;
  return v ? one(std::to_string(*v)) : Strings{};
}

// --- cpu ----------------------------------------------------------------------------------------

Result<void> parse_cpu_max(C& c, const std::string& v, const KeyContext&) {
  auto m = cgroup::parse_cpu_max(v);
  if (!m) return std::move(m).error();
  lim(c).cpu_max = *m;
  return {};
}
Strings format_cpu_max(const C& c) {
  return lim(c).cpu_max ? one(cgroup::format_cpu_max(*lim(c).cpu_max)) : Strings{};
}

// `cpus = 1.5`: a CPU count, i.e. cpu.max "150000 100000".
Result<void> parse_cpus(C& c, const std::string& v, const KeyContext&) {
  if (v == "max") {
    lim(c).cpu_max = cgroup::CpuMax{};
    return {};
  }
  // Decimal only: strtod alone would also read `0x10`, `1e1`, `inf` and leading blanks.
  auto dot = v.find('.');
  auto digits = [](std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char ch) { return std::isdigit(ch); });
  };
  bool decimal = digits(std::string_view(v).substr(0, dot)) &&
                 (dot == std::string::npos || digits(std::string_view(v).substr(dot + 1)));
  double n = decimal ? std::strtod(v.c_str(), nullptr) : 0;
  if (!decimal || !(n >= 0.01) || n > 4096)
    return bad(q(v) + " is not a CPU count 0.01..4096 (decimal, e.g. 0.5, 2) or `max`");
  cgroup::CpuMax m;
  m.quota_us = static_cast<uint64_t>(std::llround(n * double(m.period_us)));
  lim(c).cpu_max = m;
  return {};
}
Strings format_cpus(const C& c) {
  const auto& m = lim(c).cpu_max;
  if (!m) return {};
  if (!m->quota_us) return one("max");
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", double(*m->quota_us) / double(m->period_us));
  return one(buf);
}

// `cpu.shares` (v1 units) as an alias of cpu.weight.
Result<void> parse_shares(C& c, const std::string& v, const KeyContext&) {
  auto n = parse_uint(v);
  if (!n || *n < 2 || *n > 262144) return bad(q(v) + " is not a number in 2..262144");
  lim(c).cpu_weight = cgroup::shares_to_weight(*n);
  return {};
}
Strings format_shares(const C& c) {
  return lim(c).cpu_weight ? one(std::to_string(cgroup::weight_to_shares(*lim(c).cpu_weight))) : Strings{};
}

template <auto F>
Result<void> parse_cpu_list(C& c, const std::string& v, const KeyContext&) {
  auto l = cgroup::parse_cpu_list(v);
  if (!l) return std::move(l).error();
  lim(c).*F = *l;
  return {};
}
template <auto F>
Strings format_list(const C& c) {
  const auto& v = lim(c).*F;
  return v ? one(*v) : Strings{};
}

// --- io -----------------------------------------------------------------------------------------

// "MAJ:MIN ...", "/dev/PATH ..." or "rootfs ...": a path is resolved to its device numbers now,
// so that an error names the config line; `rootfs` stays symbolic (bound at start, when the
// rootfs' disk is known). A later line for the same device replaces the earlier one.
Result<void> parse_io_max(C& c, const std::string& v, const KeyContext&) {
  std::string text = v;
  auto words = split_ws(v);
  if (!words.empty() && words[0].front() == '/') {
    struct stat st;
    if (::stat(words[0].c_str(), &st) < 0) return Error::from_errno(errno, "device " + q(words[0]));
    if (!S_ISBLK(st.st_mode)) return bad(q(words[0]) + " is not a block device");
    words[0] = std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
    text = join(words, " ");
  }
  auto io = cgroup::parse_io_max(text);
  if (!io) return std::move(io).error();
  auto& list = lim(c).io_max;
  auto same = [&](const cgroup::IoMax& e) {
    return e.rootfs == io->rootfs && e.major == io->major && e.minor == io->minor;
  };
  if (auto it = std::find_if(list.begin(), list.end(), same); it != list.end()) *it = *io;
  else list.push_back(*io);
  return {};
}
Strings format_io_max(const C& c) {
  Strings out;
  for (const auto& io : lim(c).io_max) out.push_back(cgroup::format_io_max(io));
  return out;
}

// --- hugetlb ------------------------------------------------------------------------------------

constexpr const char* kHugeSizes[] = {"2MB", "1GB"};

template <int kSize>
Result<void> parse_hugetlb(C& c, const std::string& v, const KeyContext&) {
  auto l = cgroup::parse_limit(v, true);
  if (!l) return std::move(l).error();
  auto& list = lim(c).hugetlb_max;
  std::string size = kHugeSizes[kSize];
  auto it = std::find_if(list.begin(), list.end(), [&](const cgroup::HugetlbMax& h) { return h.page_size == size; });
  if (it != list.end()) it->max = *l;
  else list.push_back(cgroup::HugetlbMax{size, *l});
  return {};
}
template <int kSize>
Strings format_hugetlb(const C& c) {
  for (const auto& h : lim(c).hugetlb_max)
    if (h.page_size == kHugeSizes[kSize]) return one(cgroup::format_limit(h.max));
  return {};
}
template <int kSize>
void clear_hugetlb(C& c) {
  std::erase_if(lim(c).hugetlb_max, [](const cgroup::HugetlbMax& h) { return h.page_size == kHugeSizes[kSize]; });
}

// --- devices ------------------------------------------------------------------------------------

template <bool kAllow>
Result<void> parse_device(C& c, const std::string& v, const KeyContext&) {
  auto r = cgroup::parse_device_rule(v, kAllow);
  if (!r) return std::move(r).error();
  lim(c).devices.push_back(*r);
  return {};
}
template <bool kAllow>
Strings format_devices(const C& c) {
  Strings out;
  for (const auto& r : lim(c).devices)
    if (r.allow == kAllow) out.push_back(cgroup::format_device_rule(r));
  return out;
}
template <bool kAllow>
void clear_devices(C& c) {
  std::erase_if(lim(c).devices, [](const cgroup::DeviceRule& r) { return r.allow == kAllow; });
}

Result<void> parse_default_devices(C& c, const std::string& v, const KeyContext&) {
  auto b = parse_bool(v);
  if (!b) return bad(q(v) + " is not a boolean");
  lim(c).default_devices = *b;
  return {};
}
Strings format_default_devices(const C& c) { return one(lim(c).default_devices ? "true" : "false"); }

// --- raw pass-through ---------------------------------------------------------------------------

template <auto F>
Result<void> parse_raw(C& c, const std::string& v, const KeyContext&) {
  auto sp = v.find_first_of(" \t");
  std::string file = v.substr(0, sp);
  std::string value = sp == std::string::npos ? "" : std::string(trim(std::string_view(v).substr(sp)));
  bool ok = !file.empty() && file.find('.') != std::string::npos && file.find('/') == std::string::npos &&
            file.front() != '.';
  if (!ok) return bad(q(file) + " is not a control file name like `memory.swappiness`");
  if (value.empty()) return bad(q(v) + " has no VALUE after the file name");
  if (file == "cgroup.procs" || file == "tasks" || file == "cgroup.threads" || file == "cgroup.subtree_control")
    return bad(q(file) + " is managed by cove");
  (lim(c).*F).push_back(cgroup::RawWrite{file, value});
  return {};
}
template <auto F>
Strings format_raw(const C& c) {
  Strings out;
  for (const auto& w : lim(c).*F) out.push_back(w.file + " " + w.value);
  return out;
}

constexpr const char* kSize = "SIZE (bytes, or with K, M, G, T suffix) or `max` (`-1` also means `max`, as in LXC)";

// clang-format off
constexpr KeySpec kKeys[] = {
{"cgroup", "memory.max", kSize, "max", false,
 "Hard memory limit of the container (all its processes together). Above it the kernel reclaims, "
 "then the OOM killer ends a process inside the container (only there; cove-info counts these as "
 "OOM kills). cgroup v1: memory.limit_in_bytes.",
 parse_limit_field<&L::memory_max, true>, format_limit_field<&L::memory_max>, reset<&L::memory_max>},
{"cgroup", "memory.high", kSize, "max", false,
 "Memory throttle limit: above it the container's processes are slowed down and reclaimed hard, "
 "but not killed. cgroup v1 has no equivalent; memory.soft_limit_in_bytes (reclaimed first under "
 "host memory pressure) is written instead.",
 parse_limit_field<&L::memory_high, true>, format_limit_field<&L::memory_high>, reset<&L::memory_high>},
{"cgroup", "memory.swap.max", kSize, "max", false,
 "Swap the container may use in addition to memory.max. cgroup v1 limits memory plus swap "
 "together: memory.memsw.limit_in_bytes is set to memory.max + memory.swap.max, so v1 needs "
 "memory.max as well, and swap accounting (swapaccount=1).",
 parse_limit_field<&L::memory_swap_max, true>, format_limit_field<&L::memory_swap_max>, reset<&L::memory_swap_max>},
{"cgroup", "cpu.max", "`QUOTA [PERIOD]` in microseconds (QUOTA at least 1000 or `max`, PERIOD 1000..1000000, default 100000)",
 "max 100000", false,
 "CPU bandwidth limit: the container may run QUOTA microseconds every PERIOD microseconds, "
 "summed over all CPUs (`50000 100000` is half a CPU). cgroup v1: cpu.cfs_quota_us and "
 "cpu.cfs_period_us.",
 parse_cpu_max, format_cpu_max, reset<&L::cpu_max>},
{"cgroup", "cpus", "decimal CPU count 0.01..4096 (e.g. 0.5, 2) or `max`", "max", false,
 "A friendlier cpu.max: the number of CPUs' worth of time the container may use; sets cpu.max "
 "to `COUNT*100000 100000`.",
 parse_cpus, format_cpus, reset<&L::cpu_max>},
{"cgroup", "cpu.weight", "1..10000", "100", false,
 "Relative CPU share under contention (v2 default 100). cgroup v1: cpu.shares = 2 + ((weight - 1) "
 "* 262142) / 9999.",
 parse_weight<&L::cpu_weight, 1, 10000>, format_weight<&L::cpu_weight>, reset<&L::cpu_weight>},
{"cgroup", "cpu.shares", "2..262144 (cgroup v1 units)", "1024", false,
 "cpu.weight given in cgroup v1 units; converted to a weight (and back to shares on v1).",
 parse_shares, format_shares, reset<&L::cpu_weight>},
{"cgroup", "cpuset.cpus", "CPU list, e.g. `0-3,6`", "the parent's CPUs", false,
 "CPUs the container may run on. Same file on cgroup v1 and v2.",
 parse_cpu_list<&L::cpuset_cpus>, format_list<&L::cpuset_cpus>, reset<&L::cpuset_cpus>},
{"cgroup", "cpuset.mems", "memory node list, e.g. `0`", "the parent's nodes", false,
 "NUMA memory nodes the container may allocate from. Same file on cgroup v1 and v2.",
 parse_cpu_list<&L::cpuset_mems>, format_list<&L::cpuset_mems>, reset<&L::cpuset_mems>},
{"cgroup", "pids.max", "number or `max` (`-1` also means `max`, as in LXC)", "max", false,
 "Most processes and threads the container may have at once; fork(2) fails with EAGAIN above it "
 "(a fork bomb is capped). Same file on cgroup v1 and v2.",
 parse_limit_field<&L::pids_max, false>, format_limit_field<&L::pids_max>, reset<&L::pids_max>},
{"cgroup", "io.max", "`MAJ:MIN|DEVICE-PATH|rootfs [rbps=N] [wbps=N] [riops=N] [wiops=N]`, each N a number (bytes "
 "with size suffixes) or `max` (`-1` also means `max`)", "", true,
 "I/O rate limit on one block device: bytes and operations per second, read and write. A device "
 "path (/dev/loop0) is resolved to its numbers when the config is read. `rootfs` is the whole "
 "disk under the container's root filesystem (the disk of a partition, the device of a "
 "single-device btrfs, the upper layer's disk of an overlay, a loop-backed rootfs' loop device), "
 "found at each start; a rootfs on a file system without a block device (tmpfs) makes the start "
 "fail. Repeat the key for more devices; a later line for the same device replaces an earlier "
 "one. cgroup v1: blkio.throttle.read_bps_device, write_bps_device, read_iops_device, "
 "write_iops_device.",
 parse_io_max, format_io_max, reset<&L::io_max>},
{"cgroup", "io.weight", "1..10000", "100", false,
 "Relative I/O share under contention. cgroup v1: blkio.weight (or blkio.bfq.weight) = 10 + "
 "((weight - 1) * 990) / 9999; needs the BFQ or CFQ scheduler on v1, iocost or BFQ on v2.",
 parse_weight<&L::io_weight, 1, 10000>, format_weight<&L::io_weight>, reset<&L::io_weight>},
{"cgroup", "hugetlb.2MB.max", kSize, "max", false,
 "Limit of 2 MiB huge pages, in bytes. cgroup v1: hugetlb.2MB.limit_in_bytes. Other page sizes "
 "can be set with raw.v1/raw.v2.",
 parse_hugetlb<0>, format_hugetlb<0>, clear_hugetlb<0>},
{"cgroup", "hugetlb.1GB.max", kSize, "max", false,
 "Limit of 1 GiB huge pages, in bytes. cgroup v1: hugetlb.1GB.limit_in_bytes.",
 parse_hugetlb<1>, format_hugetlb<1>, clear_hugetlb<1>},
{"cgroup", "devices.allow", "`a` or `TYPE MAJOR:MINOR [ACCESS]`: TYPE c or b, numbers or `*`, ACCESS a subset of rwm (default rwm)",
 "", true,
 "Lets the container use (r read, w write, m mknod) the devices the rule matches. Rules apply in "
 "file order on top of `deny everything` and the standard nodes (see devices.default); for each "
 "access the last matching devices.allow or devices.deny rule decides. cgroup v1: written to "
 "devices.allow; cgroup v2: compiled into a BPF device program attached to the container's "
 "cgroup. Opening or creating any other device node fails with EPERM.",
 parse_device<true>, format_devices<true>, clear_devices<true>},
{"cgroup", "devices.deny", "`a` or `TYPE MAJOR:MINOR [ACCESS]` as for devices.allow", "", true,
 "Takes device access away; `devices.deny = a` drops everything allowed before it (the standard "
 "nodes too). cgroup v1: written to devices.deny.",
 parse_device<false>, format_devices<false>, clear_devices<false>},
{"cgroup", "devices.default", "BOOLEAN", "yes", false,
 "Whether the standard nodes are allowed before devices.allow/deny apply: c 1:3 (null), 1:5 "
 "(zero), 1:7 (full), 1:8 (random), 1:9 (urandom), 5:0 (tty), 5:1 (console), 5:2 (ptmx) and "
 "136:* (the container's ptys), each rwm.",
 parse_default_devices, format_default_devices, reset<&L::default_devices>},
{"cgroup", "raw.v1", "FILE VALUE", "", true,
 "Writes VALUE to the control file FILE of the container's cgroup on a cgroup v1 hierarchy (the "
 "one of FILE's controller, the name before the first dot), for anything without a key here, "
 "e.g. `memory.swappiness 10`. Ignored where that controller is not a v1 hierarchy.",
 parse_raw<&L::raw_v1>, format_raw<&L::raw_v1>, reset<&L::raw_v1>},
{"cgroup", "raw.v2", "FILE VALUE", "", true,
 "Writes VALUE to the control file FILE of the container's cgroup on the cgroup v2 hierarchy, "
 "e.g. `memory.oom.group 1`. Ignored where that controller is not on cgroup v2.",
 parse_raw<&L::raw_v2>, format_raw<&L::raw_v2>, reset<&L::raw_v2>},
};
// clang-format on

}  // namespace

std::span<const KeySpec> cgroup_keys() { return kKeys; }

}  // namespace cove::config
