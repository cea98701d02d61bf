// The per-version, per-controller writers behind ContainerCgroups::apply(). Each writes the
// fields of ResourceLimits that belong to its controller (and that are set) into one cgroup
// directory, converting units through resources.hpp; nothing else. They take the directory as
// a path, so unit tests run them against a fake cgroupfs in a temp dir. A control file the
// kernel lacks is an error naming the key and the file, never a silent no-op.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "base/result.hpp"
#include "cgroup/resources.hpp"

namespace cove::cgroup {

struct Stats;

// cpuset and pids: the same files and syntax on v1 and v2.
Result<void> write_cpuset(const std::string& dir, const ResourceLimits& l);
Result<void> write_pids(const std::string& dir, const ResourceLimits& l);

namespace v1 {
Result<void> write_memory(const std::string& dir, const ResourceLimits& l);
Result<void> write_cpu(const std::string& dir, const ResourceLimits& l);
Result<void> write_blkio(const std::string& dir, const ResourceLimits& l);  // io.max, io.weight
Result<void> write_hugetlb(const std::string& dir, const ResourceLimits& l);
Result<void> write_devices(const std::string& dir, const ResourceLimits& l);
Result<void> set_frozen(const std::string& dir, bool frozen, std::chrono::milliseconds timeout);  // freezer.state
// Adds what this (v1) directory's files tell to `s` (fields already set are kept).
Result<void> read_stats(const std::string& dir, Stats& s);
}  // namespace v1

namespace v2 {
Result<void> write_memory(const std::string& dir, const ResourceLimits& l);
Result<void> write_cpu(const std::string& dir, const ResourceLimits& l);
Result<void> write_io(const std::string& dir, const ResourceLimits& l);
Result<void> write_hugetlb(const std::string& dir, const ResourceLimits& l);
Result<void> set_frozen(const std::string& dir, bool frozen, std::chrono::milliseconds timeout);  // cgroup.freeze
Result<void> read_stats(const std::string& dir, Stats& s);
}  // namespace v2

// Writes `value` to `dir/file`; the error names the key the value came from:
// "memory.max: write `100` to `/sys/.../memory.limit_in_bytes`: ...". A missing file gets
// "the host's kernel has no `FILE`" so an unenforceable limit is never silent.
Result<void> write_control(const std::string& dir, const std::string& file, const std::string& value,
                           const std::string& key);
// A single-number control file: nullopt when it does not exist, an error naming the file when it
// holds something else (`-1` reads as UINT64_MAX, v1's "unlimited").
Result<std::optional<uint64_t>> read_counter(const std::string& path);

}  // namespace cove::cgroup
