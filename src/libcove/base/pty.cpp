#include "base/pty.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>

namespace cove::pty {

bool is_slave_major(unsigned major) { return major >= kSlaveMajor && major < kSlaveMajor + kSlaveMajors; }

std::optional<unsigned> slave_index(dev_t rdev) {
  if (!is_slave_major(major(rdev))) return std::nullopt;
  return (major(rdev) - kSlaveMajor) * 256 + minor(rdev);
}

Result<NewPty> open_new(const std::string& ptmx) {
  NewPty p;
  p.master.reset(::open(ptmx.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!p.master) return Error::from_errno(errno, "open `" + ptmx + "`");
  int unlock = 0;
  if (::ioctl(p.master.get(), TIOCSPTLCK, &unlock) < 0 || ::ioctl(p.master.get(), TIOCGPTN, &p.index) < 0)
    return Error::from_errno(errno, "set up a pty");
  return p;
}

}  // namespace cove::pty
