// Reading what a running container holds, from the host's /proc: its mount table, the pipes it
// shares with processes outside, its open files and sockets. Used by checkpoint (what to tell
// CRIU), restore (reconnecting outside pipes) and `cove-checkpoint --check`.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/list_dir.hpp"
#include "base/mountinfo.hpp"  // MountInfo, read_mountinfo
#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "criu/image_meta.hpp"

namespace cove::lifecycle {

// Interface names from the text of /proc/PID/net/dev (pure), and of the process's netns.
std::vector<std::string> parse_net_dev(const std::string& text);
Result<std::vector<std::string>> net_interfaces(pid_t pid);

struct OpenFile {
  pid_t pid = 0;
  int fd = -1;
  std::string target;  // readlink of /proc/PID/fd/FD
  unsigned flags = 0;  // from fdinfo
  int mnt_id = -1;     // from fdinfo: the mount the file was opened on
};
// Without `with_fdinfo` only the links are read (flags 0, mnt_id -1): half the reads.
std::vector<OpenFile> open_files(pid_t pid, bool with_fdinfo = true);

// A process of `pids` that runs a program some process of `pids` holds open with O_PATH, as
// systemd >= 255 holds systemd-executor while the children it spawns run it. A stock CRIU gives
// the exe link that fd's file entry, O_PATH flags and all, and no restore can use it
// (PR_SET_MM_MAP refuses an O_PATH exe fd: EBADF); cove's CRIU build does not
// (scripts/criu-patches/0014). Matched like CRIU matches: device, inode and mount.
struct ExeHeldByPath {
  pid_t runner = 0;
  pid_t holder = 0;
  int fd = -1;
  std::string exe;  // readlink of /proc/RUNNER/exe: the container's text
};
std::optional<ExeHeldByPath> find_exe_held_by_path(const std::vector<pid_t>& pids);

// An fd of `pids` in a state CRIU cannot dump, which passes by itself once the tree runs on: a
// mount being set up (an fscontext from fsopen(): "Can't dump file ... anon_inode:[fscontext]"),
// as systemd's executor does for a service's credentials; or a unix socket with a message
// queued that carries credentials its receiver asked for (SO_PASSCRED, SO_PASSPIDFD,
// SO_PASSSEC: "Control messages in queue, not supported"), as systemd's notify socket holds
// between a service's sd_notify() and systemd reading it.
struct PassingFdState {
  pid_t pid = 0;
  int fd = -1;
  std::string what;  // "a mount being set up (fscontext)", ...
};
std::optional<PassingFdState> find_passing_fd_state(const std::vector<pid_t>& pids);

// The NSpid, NSpgid and NSsid lines of /proc/PID/status: one number per pid namespace, from
// the reader's down to the process's own; 0 where the group or session leader has no pid in
// that namespace (it lives in an ancestor namespace).
struct NamespacedIds {
  std::vector<int64_t> pid, pgid, sid;
};
NamespacedIds parse_namespaced_ids(const std::string& status_text);  // pure

// The systemd unit a process of a systemd guest runs in, from the text of its /proc/PID/cgroup
// (pure): the last component of its cgroup2 path ("0::"), else of the name=systemd hierarchy,
// when it names a unit ("cron.service", "init.scope", "session-1.scope"); "" otherwise. The
// text is the container's choice: print the result through printable().
std::string systemd_unit_of(const std::string& cgroup_text);

// Whether an fd's target is a cgroup pressure (PSI) file: memory/cpu/io/irq.pressure. An open
// one may carry a trigger, which CRIU cannot restore.
bool is_pressure_file(const std::string& target);

// Pipes held by `pids` that a process outside `pids` holds too.
std::vector<criu::ExternalPipe> find_external_pipes(const std::vector<pid_t>& pids);
// An fd for the container's end of `pipe`, opened through a process outside that still holds it.
Result<UniqueFd> reopen_external_pipe(const criu::ExternalPipe& pipe);

}  // namespace cove::lifecycle
