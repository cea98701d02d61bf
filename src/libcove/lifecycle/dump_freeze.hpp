// Freezing a container for a dump so that CRIU can seize every task in it.
// A process between vfork() and its child's execve/_exit sleeps in the kernel, killable only,
// until the child is done. CRIU's seize cannot stop such a parent while it holds the child, so a
// dump that meets one waits for CRIU's timeout (10 s) and fails with "Unseizable non-zombie ...
// state D"; on a v1 freezer the pair cannot even finish freezing (it stays FREEZING). The window
// is microseconds long in busybox init, shells and posix_spawn, so the freeze for a dump is
// retried around it, and a vfork that does not end is a clear error. Called by checkpoint, which
// may name one more passing state the frozen tree must not be dumped in (DumpObstacle).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "cgroup/cgroup.hpp"

namespace cove::lifecycle {

struct VforkInProgress {
  pid_t parent = 0;
  pid_t child = 0;
};

// A process of `pids` whose child (also in `pids`) shares its memory: a vfork (or a CLONE_VM
// clone) that has not exec'd yet. Works on frozen tasks.
std::optional<VforkInProgress> find_vfork_in_progress(const std::vector<pid_t>& pids);

// A state of the tree's processes a dump must not meet, which usually ends by itself once the
// tree runs on: what it is (for the error, should it outlast `budget`), nothing when absent.
// Works on frozen tasks.
using DumpObstacle =
    std::function<std::optional<std::string>(const std::vector<pid_t>& pids, std::chrono::milliseconds budget)>;

// An fd in a state CRIU cannot dump that passes by itself (find_passing_fd_state,
// proc_scan.hpp): a mount being set up, credentials queued on a unix socket. Seen in systemd
// guests right after boot and around every service start. For checkpoint, with any CRIU.
std::optional<std::string> passing_fd_state_obstacle(const std::vector<pid_t>& pids, std::chrono::milliseconds budget);

// A process running a program that a process of the tree holds with O_PATH
// (find_exe_held_by_path, proc_scan.hpp): a stock CRIU's image of it cannot be restored. It
// passes in systemd >= 255 once the service's executor execs the service. For checkpoint with
// a stock CRIU.
std::optional<std::string> exe_held_by_path_obstacle(const std::vector<pid_t>& pids, std::chrono::milliseconds budget);

// Freezes the payload cgroup with no vfork in progress inside (nor `also`, when given),
// thawing and waiting for the window to end as needed, for at most `budget`. EBUSY naming the
// processes when it does not end; the cgroup is then left thawed if it was thawed before,
// frozen if it was frozen.
Result<void> freeze_for_dump(cgroup::ContainerCgroups& cgs, bool was_frozen, const DumpObstacle& also = nullptr,
                             std::chrono::milliseconds budget = std::chrono::seconds(3));

}  // namespace cove::lifecycle
