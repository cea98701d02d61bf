// Starting a container's monitor (the cove-monitor helper, exec'd): the caller's side of the
// start. Detached, the monitor is double-forked (never our zombie) and reports once on a status
// pipe: the start's Error, or success with the restore's report (monitor/protocol.hpp,
// StartStatus). In the foreground it replaces the caller, or runs as its child behind a stdio
// relay when init inherits a terminal. The monitor gets this process's host config on its
// command line (`--host KEY=VALUE`, `--host-config FILE`) and uses it for its whole life.
// Called by the façade (Container::start) with the container lock held; see
// doc/design/protocol.md.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "cgroup/cgroup.hpp"
#include "monitor/protocol.hpp"

namespace cove::monitor {

struct LaunchOptions {
  std::string lxcpath;
  std::string name;
  std::string log_file, log_level;
  std::string restore_from;       // restore mode: the images directory
  int restore_timeout_s = 0;
  bool restore_thaw = false;      // restore mode: RUNNING even when dumped frozen
  bool restore_lazy_pages = false;  // restore mode: memory from a `criu lazy-pages` daemon
  std::vector<std::string> init_override;
};

// A detached start, in two steps, so that the monitor execs while the caller makes its last
// checks. `spawn` double-forks the monitor, which reads the container's config meanwhile (no
// side effect) and waits on its starter socket (fd 4) for `go` before it touches anything of
// the container; the caller may still change the config (generated hwaddrs): the monitor reads
// it again after the `go` when the file changed (monitor::PreloadedConfig). `go` lets it on,
// makes its cgroups while it starts up (the ones it plans itself, said on the same socket:
// CgroupsMade) and waits for its start status; after a failed start it removes the cgroups it
// made. Given `restrictions` (a plain start), it then computes init's restrictions (the seccomp
// policy compiled: ~0.25 ms here) while the monitor makes its runtime dir and records its
// state, and hands them over (ExecMade); nothing when they fail (the monitor computes them
// itself and reports the error). Dropped without `go` (a check failed), the socket closes and
// the monitor ends at once, without a word and without touching anything. `go` returns
// nullopt once init runs, the restore's report after a restore.
class DetachedStart {
 public:
  using RestrictionsFn = std::function<Result<security::ExecRestrictions>()>;
  static Result<DetachedStart> spawn(const LaunchOptions& opts);
  Result<std::optional<RestoreReply>> go(const RestrictionsFn& restrictions = {});

 private:
  DetachedStart() = default;
  std::string key_;  // the container's (ContainerPaths::key), which names its cgroups
  std::string monitor_path_;
  UniqueFd status_, starter_;
  cgroup::StarterView view_;
};

// The monitor's side of its starter socket (fd 4). `receive_go`: true on `go`, false when
// cove-start closed it without one (its start failed before: the monitor must end without a
// trace). `receive_cgroups_made`: the cgroups cove-start made, or nullopt when it made none.
// Each blocks until cove-start has said it or gone.
Result<bool> receive_go(int fd);
Result<std::optional<CgroupsMade>> receive_cgroups_made(int fd);
// The restrictions cove-start computed (ExecMade), or nullopt when it closed the socket or
// sent none.
Result<std::optional<security::ExecRestrictions>> receive_exec_made(int fd);

// Runs the monitor in the foreground with `lock_fd` (the container lock, released by the
// monitor once init runs); returns its exit status (when it did not replace us).
Result<int> run_foreground(const LaunchOptions& opts, UniqueFd lock_fd, bool inherit_stdio);

// The monitor's environment: `env` (the caller's) with glibc's per-thread malloc cache turned
// off (GLIBC_TUNABLES glibc.malloc.tcache_count=0, ahead of the caller's own tunables, which
// win). Chunks parked in that cache are out of malloc_trim's reach: with it, a monitor keeps
// twice the heap after its start (96 against 48 KiB here), per container. The caller's value,
// or its absence, travels in COVE_CALLER_GLIBC_TUNABLES for restore_caller_tunables().
std::vector<std::string> monitor_environment(char* const* env);
// In the monitor, once glibc has read its tunables: GLIBC_TUNABLES back to the caller's, so
// that what the monitor runs (hooks, CRIU) does not inherit the setting.
void restore_caller_tunables();

}  // namespace cove::monitor
