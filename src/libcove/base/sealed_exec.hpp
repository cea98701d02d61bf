// Running from a sealed view of our own executable (runc's CVE-2019-5736 defence). A tool that
// puts a process into a container runs host code there until it execs; in a privileged
// container (host root, no user namespace) a process inside can open /proc/PID/exe of that
// process with O_PATH, keep the fd, and reopen it for writing once the binary no longer runs:
// the host's executable would be overwritten and the next admin would run the attacker's code.
// reexec_sealed() re-executes the program from a file no write can reach: the same file seen
// through a detached overlayfs without an upper layer (no copy; what runc does since 1.2), or,
// where the kernel cannot make that, a memfd copy sealed against every change.
// Mechanism only: cove-attach calls it before it enters a privileged container.
#pragma once

#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace cove {

// Re-executes /proc/self/exe, with the same argv and environment, from its read-only overlay
// view (overlay_view, `spare_dir` its bottom layer on kernels before 6.13) or else from a
// sealed memfd named `name`, unless the process already runs sealed: /proc/self/exe carries
// all of F_SEAL_SEAL|SHRINK|GROW|WRITE, or lies on a read-only overlayfs and the re-exec's
// marker is in the environment (then it returns at once, having recorded original_exe()). The
// copy holds only the file's loaded part (program headers; debugging sections are not needed
// to run). Returns only on error, before anything changed.
Result<void> reexec_sealed(const char* name, char** argv, const std::string& spare_dir = "");

// The executable the sealed view or copy was made from (so tools still find their siblings
// next to it), or "" when the process does not run sealed.
const std::string& original_exe();

// A new detached overlayfs whose layers are `dir` and, below it, an empty tmpfs (layers by fd,
// kernel 6.13) or, given, the directory `spare` (layers by path, any kernel: the bottom layer
// must exist and not overlap `dir`; what it holds shows only where `dir` has no such name).
// No upper layer: its superblock is read-only for good (EROFS for a write, after a
// reconfiguration, or through a clone of the mount with its read-only flag cleared).
Result<UniqueFd> readonly_overlay_of(const std::string& dir, const std::string& spare = "");
// The file at absolute `path` through readonly_overlay_of(its directory) (with `spare` where
// the kernel takes no layers by fd), as an O_PATH fd to exec; the mount leaves every namespace
// with this call (nothing can clone it then). Refused (ESTALE) unless its size and mtime are
// those of the open file `exe` (the running executable).
Result<UniqueFd> overlay_view(const std::string& path, int exe, const std::string& spare = "");
// A copy of the open executable `exe` (its loaded part, without section headers) in a memfd
// named `name`, sealed against every change (F_SEAL_SEAL|SHRINK|GROW|WRITE).
Result<UniqueFd> sealed_memfd_copy(const char* name, int exe);
// `fd` lies on an overlayfs that reads as read-only (the mount or the superblock).
bool on_readonly_overlay(int fd);

}  // namespace cove
