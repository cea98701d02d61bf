// CRIU's cgroup yard made by cove: a directory of (relative) symlinks to the host's hierarchy
// mounts, for the time of one CRIU run (DumpRequest/RestoreRequest::cgroup_yard). CRIU then
// mounts no hierarchy of its own (10-15 ms per dump and per restore on a v1 host). The caller
// (lifecycle/) gives the hierarchies as (name, mount point) pairs (cgroup::criu_yard_entries)
// and the names CRIU will look for (cgroup::criu_yard_names of its own /proc/self/cgroup).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace cove::criu {

class CgroupYard {
 public:
  CgroupYard() = default;
  // Made under `dir` (criu-cgroups.PID); none (empty path(), CRIU mounts its own hierarchies
  // as without a yard) when a needed name has no entry or a link cannot be made. A hierarchy
  // CRIU still does not find there (images from a host with other ones) it mounts inside the
  // yard: those mounts are detached when the yard goes.
  CgroupYard(const std::vector<std::pair<std::string, std::string>>& entries, const std::vector<std::string>& needed,
             const std::string& dir);
  ~CgroupYard() { remove(); }
  CgroupYard(CgroupYard&& o) noexcept : path_(std::exchange(o.path_, {})) {}
  CgroupYard& operator=(CgroupYard&& o) noexcept;
  CgroupYard(const CgroupYard&) = delete;
  CgroupYard& operator=(const CgroupYard&) = delete;

  const std::string& path() const { return path_; }
  void remove();

 private:
  std::string path_;
};

// CRIU leaves `.criu.cgyard.*` mounts in its work dir when it dies by SIGKILL mid-restore:
// detached and removed.
void detach_cgroup_yards(const std::string& work_dir);

}  // namespace cove::criu
