// Running a command inside a running container (cove-attach) and connecting a terminal to one
// of its ptys (cove-console). Attach enters the container's cgroups and every namespace of its
// init (one setns through a pidfd), becomes the container's root, and execs with a clean
// environment; with a terminal it allocates a pty from the container's own devpts. The command
// runs under the same ExecRestrictions as init (capabilities, LSM label, no_new_privs,
// rlimits, seccomp; see security/exec_restrictions.hpp), applied right before its execve.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "state/container_state.hpp"

namespace cove::security {
struct ExecRestrictions;
}

namespace cove::lifecycle {

struct AttachRequest {
  std::vector<std::string> argv;          // empty = root's shell in the container's /etc/passwd
  bool keep_env = false;
  std::vector<std::string> set_env;       // KEY=VALUE
  // The container's own environment (its config's init.env), over the defaults and under
  // set_env; not used with keep_env.
  std::vector<std::string> container_env;
  std::optional<bool> pty;                // default: when stdin is a terminal
  std::string cwd = "/";
  bool exact_env = false;                 // set_env is the whole environment (an OCI process's)
  unsigned preserve_fds = 0;              // the caller's fds 3 .. 3+N-1 go to the command too
};

// A command left running (cove-oci exec --detach): not waited for; once the caller exits it is
// the child of whoever reaps orphans for it (an engine's shim).
struct DetachedCommand {
  pid_t pid = 0;                          // host pid
  UniqueFd pty_master;                    // with a pty
};

// Returns the command's exit status (128+N when killed by signal N; 127 when exec failed).
Result<int> attach_to(const RuntimeState& rs, const AttachRequest& req, const security::ExecRestrictions& restrictions);

// The same entry (cgroups, namespaces, restrictions, a pty of the container's own when asked),
// but it returns once the command runs, with its pid and pty master; stdio is passed as it is.
Result<DetachedCommand> attach_detached(const RuntimeState& rs, const AttachRequest& req,
                                        const security::ExecRestrictions& restrictions);

// Copies stdin -> master and master -> stdout until the master hangs up, `hup_fd` (if >= 0)
// hangs up, or the user types `escape` followed by 'q' (escape < 0: no escape).
// Puts a terminal on stdin into raw mode for the duration and forwards window size changes.
// `wait_for_peer` (a console): while nothing holds the tty's slave (EIO/hang-up on the master,
// e.g. before init spawned its shell there), keep the session and retry every 100 ms instead of
// ending it.
Result<void> proxy_terminal(int master, int hup_fd, int escape, bool wait_for_peer = false);

}  // namespace cove::lifecycle
