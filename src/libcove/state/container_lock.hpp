// ContainerLock: an OFD write lock on PATH/NAME/.lock serialising on-disk changes of one
// container (create, start until the monitor reports, stop's cleanup, destroy). It is not held
// for the container's lifetime. Released when the object (its fd) goes away.
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

}  // namespace cove
