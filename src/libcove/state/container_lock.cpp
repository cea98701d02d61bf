#include "state/container_lock.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "base/clock.hpp"

namespace cove {

Result<ContainerLock> ContainerLock::acquire(const std::string& lock_file, const std::string& name, int timeout_ms) {
  UniqueFd fd(::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return Error::from_errno(errno, "open lock `" + lock_file + "`");
  struct flock fl = {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  int64_t end = monotonic_ms() + timeout_ms;
  for (Backoff backoff;; backoff.sleep()) {
    if (::fcntl(fd.get(), F_OFD_SETLK, &fl) == 0) return ContainerLock(std::move(fd));
    if (errno != EAGAIN && errno != EACCES) return Error::from_errno(errno, "lock `" + lock_file + "`");
    if (monotonic_ms() >= end) return Error(EBUSY, "`" + name + "` is locked by another operation");
  }
}

Result<UniqueFd> hold_monitor_lock(const std::string& lock_file, const std::string& name) {
  UniqueFd fd(::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return Error::from_errno(errno, "open monitor lock `" + lock_file + "`");
  struct flock fl = {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (::fcntl(fd.get(), F_OFD_SETLK, &fl) == 0) return fd;
  if (errno == EAGAIN || errno == EACCES)
    return Error(EBUSY, "`" + name + "` is already running (a live monitor holds `" + lock_file + "`)");
  return Error::from_errno(errno, "lock `" + lock_file + "`");
}

bool is_monitor_lock_held(const std::string& lock_file) {
  UniqueFd fd(::open(lock_file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  struct flock fl = {};
  fl.l_type = F_RDLCK;  // conflicts with the monitor's write lock only
  fl.l_whence = SEEK_SET;
  if (::fcntl(fd.get(), F_OFD_GETLK, &fl) < 0) return false;
  return fl.l_type != F_UNLCK;
}

}  // namespace cove
