// Running from a sealed copy of our own executable (runc's CVE-2019-5736 defence). A tool that
// puts a process into a container runs host code there until it execs; in a privileged
// container (host root, no user namespace) a process inside can open /proc/PID/exe of that
// process with O_PATH, keep the fd, and reopen it for writing once the binary no longer runs:
// the host's executable would be overwritten and the next admin would run the attacker's code.
// reexec_sealed() re-executes the program from a memfd copy sealed against every change, so
// /proc/PID/exe names an anonymous file no write can reach; the host file never runs.
// Mechanism only: cove-attach calls it before it enters a privileged container.
#pragma once

#include <string>

#include "base/result.hpp"

namespace cove {

// Re-executes /proc/self/exe from a sealed memfd named `name`, with the same argv and
// environment, unless the process already runs sealed, i.e. /proc/self/exe carries all of
// F_SEAL_SEAL|SHRINK|GROW|WRITE (then it returns at once, having recorded original_exe()).
// Copies only the file's loaded part (program headers; debugging sections are not needed to
// run). Returns only on error, before anything changed.
Result<void> reexec_sealed(const char* name, char** argv);

// The executable the sealed copy was made from (so tools still find their siblings next to
// it), or "" when the process does not run sealed.
const std::string& original_exe();

}  // namespace cove
