#include "process/child_process.hpp"

#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "base/fs.hpp"
#include "base/syscalls.hpp"

namespace cove::process {

ChildProcess ChildProcess::adopt(pid_t pid) { return ChildProcess(pid, UniqueFd(sys::pidfd_open(pid, 0))); }

ChildProcess::ChildProcess(ChildProcess&& o) noexcept : pid_(std::exchange(o.pid_, 0)), pidfd_(std::move(o.pidfd_)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& o) noexcept {
  if (this != &o) {
    if (owns()) kill_and_reap();
    pid_ = std::exchange(o.pid_, 0);
    pidfd_ = std::move(o.pidfd_);
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (!owns()) return;
  int saved = errno;
  kill_and_reap();
  errno = saved;
}

Result<void> ChildProcess::signal(int sig) const {
  if (!owns()) return Error(ESRCH, "signal a child process: none owned");
  // Without a pidfd (kernel < 5.3) the pid is still safe: an unreaped child's pid is not reused.
  int r = pidfd_ ? sys::pidfd_send_signal(pidfd_.get(), sig, nullptr, 0) : ::kill(pid_, sig);
  if (r < 0) return Error::from_errno(errno, "signal child " + std::to_string(pid_));
  return {};
}

Result<int> ChildProcess::wait() {
  if (!owns()) return Error(ECHILD, "wait for a child process: none owned");
  int status = 0;
  // __WALL: also a child whose exit signal is not SIGCHLD (clone3 children).
  while (::waitpid(pid_, &status, __WALL) < 0) {
    if (errno == EINTR) continue;
    int err = errno;
    pid_ = 0;
    pidfd_.reset();
    return Error::from_errno(err, "wait for child");
  }
  pid_ = 0;
  pidfd_.reset();
  return status;
}

Result<bool> ChildProcess::wait_exited(int timeout_ms) const {
  if (!owns()) return true;
  if (!pidfd_) return Error(ENOSYS, "wait for a child with a timeout: no pidfd");
  // A pidfd polls readable once its process has exited.
  struct pollfd p = {pidfd_.get(), POLLIN, 0};
  int n;
  while ((n = ::poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
  }
  if (n < 0) return Error::from_errno(errno, "poll child pidfd");
  return n > 0;
}

int ChildProcess::kill_and_reap() {
  if (!owns()) return 0;
  (void)signal(SIGKILL);  // ESRCH: already exited, reaped just below
  auto status = wait();
  return status ? *status : 0;
}

ChildProcess::Released ChildProcess::release() {
  Released r;
  r.pid = std::exchange(pid_, 0);
  r.pidfd = std::move(pidfd_);
  return r;
}

namespace {

// This kernel (6.18; not 6.1) SIGKILLs a child cloned with CLONE_INTO_CGROUP whenever the kill
// count of cgroup.kill differs between the caller's cgroup, read at the start of the fork, and
// the target's, read at its end: a target once emptied through cgroup.kill (a rebooted
// container's payload, a guest's sub-cgroup), or a caller in such a cgroup. Such a child has
// SIGKILL pending (ShdPnd keeps it until reaped), or died of it, when clone3 returns.
bool born_killed(pid_t pid, int pidfd) {
  siginfo_t si = {};
  if (::waitid(P_PIDFD, id_t(pidfd), &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid)
    return si.si_code == CLD_KILLED && si.si_status == SIGKILL;
  auto status = read_file("/proc/" + std::to_string(pid) + "/status");
  if (!status) return false;
  for (const char* key : {"\nSigPnd:", "\nShdPnd:"}) {
    auto at = status->find(key);
    if (at == std::string::npos) continue;
    uint64_t mask = std::strtoull(status->c_str() + at + std::strlen(key), nullptr, 16);
    if (mask & (uint64_t(1) << (SIGKILL - 1))) return true;
  }
  return false;
}

[[noreturn]] void run_child(const std::function<int()>& child_main) {
  int code = 127;
  try {
    code = child_main();
  } catch (...) {
    // No exception crosses a fork: the child ends here.
  }
  ::_exit(code);
}

}  // namespace

Result<ChildProcess> spawn(const std::function<int()>& child_main, const SpawnOptions& opts) {
  if (opts.born_in_cgroup) *opts.born_in_cgroup = opts.cgroup_fd >= 0;
  if (opts.clone_flags == 0 && opts.cgroup_fd < 0) {
    pid_t pid = ::fork();
    if (pid < 0) return Error::from_errno(errno, "fork");
    if (pid == 0) run_child(child_main);
    // Our child, not yet reaped: pidfd_open cannot name another process.
    return ChildProcess::adopt(pid);
  }
  int pidfd = -1;
  struct clone_args args = {};
  args.flags = opts.clone_flags | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  if (opts.cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = uint64_t(opts.cgroup_fd);
  }
  pid_t pid = sys::clone3(&args, sizeof args);
  if (pid == 0) run_child(child_main);
  ChildProcess child;
  if (pid > 0) child = ChildProcess(pid, UniqueFd(pidfd));
  // Not born there (a kernel before 5.7, a cgroup that cannot take it, the kill above): spawned
  // again in our cgroups; the caller's cgroup.procs write places it, or says why it cannot.
  if (opts.cgroup_fd >= 0 && (pid < 0 || born_killed(pid, pidfd))) {
    if (pid > 0) (void)child.kill_and_reap();
    SpawnOptions again = opts;
    again.cgroup_fd = -1;
    if (again.born_in_cgroup) *again.born_in_cgroup = false;  // before the clone: the child sees it
    again.born_in_cgroup = nullptr;
    return spawn(child_main, again);
  }
  if (pid < 0) return Error::from_errno(errno, "clone3 into new namespaces");
  return child;
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace cove::process
