// ChildProcess: owns one child of this process, through its pidfd. Signals go through the pidfd
// (a pid may name another process once reaped; a pidfd never does), `wait()` reaps and returns
// the wait status, and a child still owned at destruction is killed (SIGKILL) and reaped, so a
// failed start or an early return leaves neither a stray process nor a zombie. `release()`
// hands the child over (to a supervisor that reaps it), after which nothing is done to it.
// `spawn()` is the one place that forks or clones: every fork site of libcove goes through it.
// Callers: lifecycle/ (init, attach), ns/locked_mounts, criu/rpc_client, templates, security/lsm.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace cove::process {

class ChildProcess {
 public:
  ChildProcess() = default;
  // Takes over `pid`, a child of this process not yet reaped, and its pidfd (may be invalid on
  // kernels without pidfds: signals then go by pid, which stays ours until we reap it).
  ChildProcess(pid_t pid, UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
  // Takes over `pid` (a child of ours, unreaped), opening its pidfd.
  static ChildProcess adopt(pid_t pid);
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ChildProcess(ChildProcess&& o) noexcept;
  ChildProcess& operator=(ChildProcess&& o) noexcept;
  // Kills (SIGKILL) and reaps a child still owned. Preserves errno.
  ~ChildProcess();

  // Whether a child is owned (spawned or adopted, and neither reaped nor released).
  bool owns() const { return pid_ > 0; }
  explicit operator bool() const { return owns(); }
  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }

  // Sends `sig` through the pidfd. ESRCH once the child has exited (it is a zombie until waited).
  Result<void> signal(int sig) const;
  // Waits until the child has exited and reaps it; returns its wait status (WIFEXITED...).
  Result<int> wait();
  // Whether the child exits within `timeout_ms` (without reaping it; -1: no bound).
  Result<bool> wait_exited(int timeout_ms) const;
  // SIGKILL (if still running) and reap; returns the wait status. Used by the destructor.
  int kill_and_reap();

  // Hands the child over: the caller (or a process it passes the pidfd to) now reaps it.
  struct Released {
    pid_t pid = 0;
    UniqueFd pidfd;
  };
  Released release();

 private:
  pid_t pid_ = 0;
  UniqueFd pidfd_;
};

struct SpawnOptions {
  // CLONE_NEW* flags: the child starts in new namespaces (clone3). 0: a plain fork.
  unsigned long clone_flags = 0;
  // A cgroup2 directory (an fd of it) the child is born in: clone3(CLONE_INTO_CGROUP). Unlike a
  // cgroup.procs write after the fact it takes no write lock of the cgroup core, whose first
  // use after a quiet spell waits for an RCU grace period (5-15 ms). -1: the caller's cgroups.
  int cgroup_fd = -1;
  // Where given, says whether the child was born in `cgroup_fd`'s cgroup: set before each clone,
  // so the child reads its own case. False after the retry without CLONE_INTO_CGROUP that a
  // child killed at birth gets (see born_killed in child_process.cpp); the caller then places it.
  bool* born_in_cgroup = nullptr;
};

// Forks (or clones, with namespace flags) a child that runs `child_main` and `_exit`s with its
// result; `child_main` must not return into the caller's code, throw, or rely on locks held by
// other threads (the caller is single-threaded when it spawns). The parent gets the owner.
// Without clone flags or a cgroup it is fork(2) plus pidfd_open: glibc's fork keeps its internal
// state (malloc arenas, atfork handlers) consistent in the child, which a raw clone3 does not
// (hence the single-threaded caller). With namespace flags or a cgroup it is
// clone3(CLONE_PIDFD | flags), so the pidfd exists from the start.
Result<ChildProcess> spawn(const std::function<int()>& child_main, const SpawnOptions& opts = {});

// The exit code a shell would report for wait status `status`: the exit status, or 128 + the
// signal that killed it.
int exit_code_of(int status);

}  // namespace cove::process
