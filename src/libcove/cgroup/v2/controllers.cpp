// cgroup v2 writers, one function per controller, and the v2 usage counters. The values are
// already in v2 syntax; only io.weight falls back to io.bfq.weight when the kernel has no
// io.weight (no iocost). Devices on v2 are a BPF program: see device_bpf.cpp.
#include <chrono>

#include "base/clock.hpp"
#include "base/fs.hpp"
#include "base/strings.hpp"
#include "cgroup/cgroup.hpp"
#include "cgroup/writers.hpp"

namespace cove::cgroup::v2 {
namespace {

// "key value" lines (cpu.stat, memory.events).
std::optional<uint64_t> keyed(const std::string& path, std::string_view key) {
  auto t = read_file(path);
  if (!t) return std::nullopt;
  for (const auto& line : split(*t, '\n')) {
    auto f = split_ws(line);
    if (f.size() == 2 && f[0] == key) return parse_uint(f[1]);
  }
  return std::nullopt;
}

}  // namespace

Result<void> write_memory(const std::string& dir, const ResourceLimits& l) {
  if (l.memory_max) COVE_TRY(write_control(dir, "memory.max", format_limit(*l.memory_max), "memory.max"));
  if (l.memory_high) COVE_TRY(write_control(dir, "memory.high", format_limit(*l.memory_high), "memory.high"));
  if (l.memory_swap_max)
    COVE_TRY(write_control(dir, "memory.swap.max", format_limit(*l.memory_swap_max), "memory.swap.max"));
  return {};
}

Result<void> write_cpu(const std::string& dir, const ResourceLimits& l) {
  if (l.cpu_max) COVE_TRY(write_control(dir, "cpu.max", format_cpu_max(*l.cpu_max), "cpu.max"));
  if (l.cpu_weight) COVE_TRY(write_control(dir, "cpu.weight", std::to_string(*l.cpu_weight), "cpu.weight"));
  return {};
}

Result<void> write_io(const std::string& dir, const ResourceLimits& l) {
  for (const auto& io : l.io_max) {
    if (io.rootfs) return Error::invalid("io.max: `rootfs` was not bound to the rootfs' disk (bind_rootfs_disk)");
    COVE_TRY(write_control(dir, "io.max", format_io_max(io), "io.max"));
  }
  if (l.io_weight) {
    if (path_exists(dir + "/io.weight"))
      COVE_TRY(write_control(dir, "io.weight", "default " + std::to_string(*l.io_weight), "io.weight"));
    else
      COVE_TRY(write_control(dir, "io.bfq.weight", std::to_string(io_weight_to_blkio(*l.io_weight)), "io.weight"));
  }
  return {};
}

Result<void> write_hugetlb(const std::string& dir, const ResourceLimits& l) {
  for (const auto& h : l.hugetlb_max)
    COVE_TRY(write_control(dir, "hugetlb." + h.page_size + ".max", format_limit(h.max), "hugetlb." + h.page_size + ".max"));
  return {};
}

// cgroup.freeze is asynchronous: `frozen 1` in cgroup.events says when every task stopped.
Result<void> set_frozen(const std::string& dir, bool frozen, std::chrono::milliseconds timeout) {
  COVE_TRY(write_control(dir, "cgroup.freeze", frozen ? "1" : "0", frozen ? "freeze" : "thaw"));
  auto deadline = std::chrono::steady_clock::now() + timeout;
  Backoff backoff;
  for (;;) {
    auto v = keyed(dir + "/cgroup.events", "frozen");
    if (v && *v == (frozen ? 1u : 0u)) return {};
    if (std::chrono::steady_clock::now() > deadline)
      return Error(ETIMEDOUT, "`" + dir + "/cgroup.events` does not show `frozen " + (frozen ? "1" : "0") + "`");
    backoff.sleep();
  }
}

// io.stat: "8:0 rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N" per device.
Result<void> read_stats(const std::string& dir, Stats& s) {
  auto set = [](std::optional<uint64_t>& f, std::optional<uint64_t> v) {
    if (!f && v) f = v;
  };
  if (auto us = keyed(dir + "/cpu.stat", "usage_usec")) set(s.cpu_usage_ns, *us * 1000);
  for (auto [field, file] : {std::pair{&s.memory_current, "memory.current"}, {&s.memory_peak, "memory.peak"},
                              {&s.pids_current, "pids.current"}}) {
    auto v = read_counter(dir + "/" + file);
    if (!v) return std::move(v).error();
    set(*field, *v);
  }
  set(s.oom_kills, keyed(dir + "/memory.events", "oom_kill"));
  if (auto t = read_file(dir + "/io.stat"); t && !s.io_read_bytes) {
    uint64_t sums[4] = {0, 0, 0, 0};
    const char* keys[4] = {"rbytes", "wbytes", "rios", "wios"};
    for (const auto& line : split(*t, '\n'))
      for (const auto& word : split_ws(line)) {
        auto eq = word.find('=');
        if (eq == std::string::npos) continue;
        for (int i = 0; i < 4; ++i)
          if (word.compare(0, eq, keys[i]) == 0) sums[i] += parse_uint(word.substr(eq + 1)).value_or(0);
      }
    s.io_read_bytes = sums[0];
    s.io_write_bytes = sums[1];
    s.io_read_ops = sums[2];
    s.io_write_ops = sums[3];
  }
  return {};
}

}  // namespace cove::cgroup::v2
