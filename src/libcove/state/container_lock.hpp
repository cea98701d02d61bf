// ContainerLock: an OFD write lock on PATH/NAME/.lock serialising on-disk changes of one
// container (create, start until the monitor reports, stop's cleanup, destroy). It is not held
// for the container's lifetime. Released when the object (its fd) goes away.
// The monitor lock: an OFD write lock on PATH/NAME/.monitor.lock that the container's monitor
// holds for its whole life. It is the liveness of the monitor (see doc/design/locking.md).
#pragma once

#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace cove {

class ContainerLock {
 public:
  // Waits up to `timeout_ms` for the lock; on timeout: EBUSY "`NAME` is locked by another operation".
  static Result<ContainerLock> acquire(const std::string& lock_file, const std::string& name, int timeout_ms);
  int fd() const { return fd_.get(); }
  UniqueFd release_fd() { return std::move(fd_); }

 private:
  explicit ContainerLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// Takes the monitor lock without waiting; EBUSY "`NAME` is already running" when another
// monitor holds it. The kernel releases it when the fd closes, at the latest when the holder
// dies, before the dead process is reaped: a zombie monitor holds nothing.
Result<UniqueFd> hold_monitor_lock(const std::string& lock_file, const std::string& name);
// True while some process holds the monitor lock (tested with F_OFD_GETLK: takes nothing).
bool is_monitor_lock_held(const std::string& lock_file);

}  // namespace cove
