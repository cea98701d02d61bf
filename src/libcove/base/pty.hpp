// Unix98 ptys: which device numbers are pty slaves (majors 136-143, UNIX98_PTY_SLAVE_MAJOR and
// the seven after it: index = (major - 136) * 256 + minor), and opening a new pty in a devpts
// instance through its ptmx.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace cove::pty {

inline constexpr unsigned kSlaveMajor = 136;  // UNIX98_PTY_SLAVE_MAJOR
inline constexpr unsigned kSlaveMajors = 8;   // UNIX98_PTY_MAJOR_COUNT

bool is_slave_major(unsigned major);
// The pty index of a slave's device number, nullopt for any other device.
std::optional<unsigned> slave_index(dev_t rdev);

struct NewPty {
  UniqueFd master;
  int index = -1;  // the slave is pts/INDEX of the same devpts
};
// A new pty of the devpts that `ptmx` (its pts/ptmx or a /dev/ptmx link to it) belongs to,
// unlocked; the master is O_CLOEXEC and not our controlling terminal.
Result<NewPty> open_new(const std::string& ptmx);

}  // namespace cove::pty
