// cgroup v1 writers, one function per controller (memory, cpu, cpuset, pids, blkio, hugetlb,
// devices, freezer) and the v1 usage counters. v2 values are converted on the way:
// max -> -1 (or 0 for blkio throttles), cpu.weight -> cpu.shares, cpu.max -> cfs_quota/period,
// io.max -> blkio.throttle.*_device, memory.swap.max -> memory.memsw.limit_in_bytes
// (v1 limits memory+swap together), memory.high -> memory.soft_limit_in_bytes (the nearest v1
// has: reclaim pressure above it, no hard stop).
#include <unistd.h>

#include <chrono>

#include "base/clock.hpp"
#include "base/fs.hpp"
#include "base/strings.hpp"
#include "cgroup/cgroup.hpp"
#include "cgroup/writers.hpp"

namespace cove::cgroup::v1 {
namespace {

std::string v1_limit(const Limit& l) { return l ? std::to_string(*l) : "-1"; }

}  // namespace

Result<void> write_memory(const std::string& dir, const ResourceLimits& l) {
  if (l.memory_high) COVE_TRY(write_control(dir, "memory.soft_limit_in_bytes", v1_limit(*l.memory_high), "memory.high"));
  if (!l.memory_max && !l.memory_swap_max) return {};
  std::optional<std::string> memsw;
  if (l.memory_swap_max) {
    Limit mem = l.memory_max ? *l.memory_max : Limit{};
    if (!*l.memory_swap_max) memsw = "-1";
    else if (!mem) return Error(EINVAL, "memory.swap.max: cgroup v1 limits memory and swap together; set memory.max too");
    else memsw = std::to_string(*mem + **l.memory_swap_max);
    if (!path_exists(dir + "/memory.memsw.limit_in_bytes"))
      return Error(EOPNOTSUPP, "memory.swap.max: the host has no `memory.memsw.limit_in_bytes` (swap accounting is "
                               "off; boot with swapaccount=1)");
  }
  // memory.limit_in_bytes may not exceed memory.memsw.limit_in_bytes: whichever order the
  // kernel refuses (EINVAL) is retried the other way round.
  auto write_limit = [&]() -> Result<void> {
    if (!l.memory_max) return {};
    return write_control(dir, "memory.limit_in_bytes", v1_limit(*l.memory_max), "memory.max");
  };
  auto write_memsw = [&]() -> Result<void> {
    if (!memsw) return {};
    return write_control(dir, "memory.memsw.limit_in_bytes", *memsw, "memory.swap.max");
  };
  if (auto r = write_limit(); !r) {
    if (r.error().code() != EINVAL || !memsw) return r;
    COVE_TRY(write_memsw());
    return write_limit();
  }
  return write_memsw();
}

Result<void> write_cpu(const std::string& dir, const ResourceLimits& l) {
  if (l.cpu_max) {
    // A quota is checked against the period: write the period first, with the quota off.
    COVE_TRY(write_control(dir, "cpu.cfs_quota_us", "-1", "cpu.max"));
    COVE_TRY(write_control(dir, "cpu.cfs_period_us", std::to_string(l.cpu_max->period_us), "cpu.max"));
    if (l.cpu_max->quota_us)
      COVE_TRY(write_control(dir, "cpu.cfs_quota_us", std::to_string(*l.cpu_max->quota_us), "cpu.max"));
  }
  if (l.cpu_weight) COVE_TRY(write_control(dir, "cpu.shares", std::to_string(weight_to_shares(*l.cpu_weight)), "cpu.weight"));
  return {};
}

Result<void> write_blkio(const std::string& dir, const ResourceLimits& l) {
  for (const auto& io : l.io_max) {
    if (io.rootfs) return Error::invalid("io.max: `rootfs` was not bound to the rootfs' disk (bind_rootfs_disk)");
    std::string dev = std::to_string(io.major) + ":" + std::to_string(io.minor) + " ";
    const std::pair<const char*, const Limit*> files[] = {{"blkio.throttle.read_bps_device", &io.rbps},
                                                          {"blkio.throttle.write_bps_device", &io.wbps},
                                                          {"blkio.throttle.read_iops_device", &io.riops},
                                                          {"blkio.throttle.write_iops_device", &io.wiops}};
    for (const auto& [file, v] : files)  // 0 removes a v1 throttle
      COVE_TRY(write_control(dir, file, dev + (*v ? std::to_string(**v) : "0"), "io.max"));
  }
  if (l.io_weight) {
    std::string value = std::to_string(io_weight_to_blkio(*l.io_weight));
    const char* file = path_exists(dir + "/blkio.weight") ? "blkio.weight" : "blkio.bfq.weight";
    COVE_TRY(write_control(dir, file, value, "io.weight"));
  }
  return {};
}

Result<void> write_hugetlb(const std::string& dir, const ResourceLimits& l) {
  for (const auto& h : l.hugetlb_max)
    COVE_TRY(write_control(dir, "hugetlb." + h.page_size + ".limit_in_bytes", v1_limit(h.max),
                           "hugetlb." + h.page_size + ".max"));
  return {};
}

// "a" to devices.deny resets to deny-all; each rule is then written to devices.allow or
// devices.deny in order, which gives the same last-match-wins result as the v2 program.
Result<void> write_devices(const std::string& dir, const ResourceLimits& l) {
  for (const auto& r : effective_device_rules(l)) {
    std::string text = r.type == 'a' ? "a" : format_device_rule(r);
    COVE_TRY(write_control(dir, r.allow ? "devices.allow" : "devices.deny", text,
                           r.allow ? "devices.allow" : "devices.deny"));
  }
  return {};
}

// FREEZING is transient: poll until the state settles (the kernel retries the freeze itself).
Result<void> set_frozen(const std::string& dir, bool frozen, std::chrono::milliseconds timeout) {
  const char* want = frozen ? "FROZEN" : "THAWED";
  COVE_TRY(write_control(dir, "freezer.state", want, frozen ? "freeze" : "thaw"));
  auto deadline = std::chrono::steady_clock::now() + timeout;
  Backoff backoff;
  for (;;) {
    auto s = read_file(dir + "/freezer.state");
    if (!s) return std::move(s).error().context("read freezer state");
    if (trim(*s) == want) return {};
    if (std::chrono::steady_clock::now() > deadline)
      return Error(ETIMEDOUT, std::string("`") + dir + "/freezer.state` is still `" + std::string(trim(*s)) + "`");
    // A retry only: a failed write shows as the state not settling, which the poll reports.
    if (frozen) (void)write_existing(dir + "/freezer.state", want);
    backoff.sleep();
  }
}

// blkio.throttle.io_service_bytes_recursive: "8:0 Read 4096" lines (and "Total N").
Result<void> read_stats(const std::string& dir, Stats& s) {
  auto set = [](std::optional<uint64_t>& f, std::optional<uint64_t> v) {
    if (!f && v) f = v;
  };
  for (auto [field, file] : {std::pair{&s.cpu_usage_ns, "cpuacct.usage"}, {&s.memory_current, "memory.usage_in_bytes"},
                              {&s.memory_peak, "memory.max_usage_in_bytes"}, {&s.pids_current, "pids.current"}}) {
    auto v = read_counter(dir + "/" + file);
    if (!v) return std::move(v).error();
    set(*field, *v);
  }
  if (auto t = read_file(dir + "/memory.oom_control"); t && !s.oom_kills) {
    for (const auto& line : split(*t, '\n')) {
      auto f = split_ws(line);
      if (f.size() == 2 && f[0] == "oom_kill") s.oom_kills = parse_uint(f[1]);
    }
  }
  auto sum_rw = [](const std::string& path, std::optional<uint64_t>& rd, std::optional<uint64_t>& wr) {
    auto t = read_file(path);
    if (!t || rd || wr) return;
    uint64_t r = 0, w = 0;
    for (const auto& line : split(*t, '\n')) {
      auto f = split_ws(line);
      if (f.size() != 3) continue;
      auto n = parse_uint(f[2]).value_or(0);
      if (f[1] == "Read") r += n;
      else if (f[1] == "Write") w += n;
    }
    rd = r;
    wr = w;
  };
  sum_rw(dir + "/blkio.throttle.io_service_bytes_recursive", s.io_read_bytes, s.io_write_bytes);
  sum_rw(dir + "/blkio.throttle.io_serviced_recursive", s.io_read_ops, s.io_write_ops);
  return {};
}

}  // namespace cove::cgroup::v1
