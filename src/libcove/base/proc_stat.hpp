// A process's state and parent from /proc/PID/stat, the caller's children found by scanning
// /proc, and a short poll for a condition on them. Best effort: a process that is gone reads
// as state 0 and parent 0.
#pragma once

#include <sys/types.h>

#include <functional>
#include <vector>

namespace cove::proc {

// The state letter ('R', 'S', 'Z', ...), 0 when the process is gone.
char state_of(pid_t pid);
// True when the process is gone or a zombie (dead, not yet reaped).
bool has_ended(pid_t pid);
// The parent's pid, 0 when the process is gone.
pid_t parent_of(pid_t pid);
// The number of its threads, 0 when the process is gone.
unsigned thread_count(pid_t pid);
// The processes whose parent is `parent` (e.g. the caller's own children, as a subreaper).
std::vector<pid_t> children_of(pid_t parent);

// The number of CPUs this process may run on (its affinity; the online CPUs when that cannot
// be read), at least 1.
unsigned usable_cpus();

// Polls `done` for up to `timeout_ms`, the sleeps growing to `step_ms` (Backoff); true as soon as it holds.
bool poll_until(const std::function<bool()>& done, int timeout_ms = 2000, int step_ms = 5);

}  // namespace cove::proc
