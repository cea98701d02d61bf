// ContainerState: the states a container goes through and the legal transitions between them.
// The monitor owns the live state and records it in /run/cove/KEY/state (RuntimeState) with
// its own pid and start time, so readers can tell a live monitor from a dead one without IPC.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"

namespace cove {

enum class ContainerState { kStopped, kStarting, kRunning, kStopping, kAborting, kFrozen, kCheckpointing, kRestoring };

const char* state_name(ContainerState s);                        // "RUNNING"
std::optional<ContainerState> parse_state(std::string_view name);  // case-insensitive
std::string state_names();                                       // "STOPPED STARTING ... RESTORING"
bool can_transition(ContainerState from, ContainerState to);
inline bool can_start(ContainerState s) { return s == ContainerState::kStopped; }
inline bool can_stop(ContainerState s) {
  return s == ContainerState::kRunning || s == ContainerState::kFrozen || s == ContainerState::kStarting;
}
inline bool can_attach(ContainerState s) { return s == ContainerState::kRunning; }
inline bool can_checkpoint(ContainerState s) { return s == ContainerState::kRunning || s == ContainerState::kFrozen; }
// CHECKPOINTING and RESTORING: the monitor is running CRIU and serves requests only once it is
// done. The tools refuse to change such a container meanwhile (busy_error); see lifecycle.md.
inline bool is_busy(ContainerState s) { return s == ContainerState::kCheckpointing || s == ContainerState::kRestoring; }
// EBUSY "`NAME` is being checkpointed (CHECKPOINTING); try again when that has finished".
Error busy_error(std::string_view name, ContainerState s);

// What the monitor records about a live container.
struct RuntimeState {
  ContainerState state = ContainerState::kStopped;
  std::string container;           // canonical PATH/NAME: whose state this is (keys may collide)
  pid_t monitor_pid = 0;
  uint64_t monitor_starttime = 0;  // /proc/PID/stat field 22, guards against pid reuse
  pid_t init_pid = 0;
  uint64_t init_starttime = 0;
  bool privileged = false;
  int64_t started_at_ms = 0;       // CLOCK_REALTIME
  std::vector<std::string> payload_cgroups;
  std::vector<std::string> monitor_cgroups;
  // Host ids of an unprivileged container, [first, count] ranges: a start of another container
  // checks its own against them.
  std::vector<std::pair<uint64_t, uint64_t>> host_uids, host_gids;
  // Host-side links the container's network made or will make (veth ends, ifbs), recorded before
  // they exist: a monitor that died leaves nothing the next start cannot find.
  std::vector<std::string> host_links;
};

std::string encode_runtime_state(const RuntimeState& s);
Result<RuntimeState> decode_runtime_state(const std::string& text);
// Decodes a state found under `container_dir`'s runtime key; EEXIST when it names another
// container (or none: a monitor of an older cove), which must then be left alone.
Result<RuntimeState> decode_runtime_state_for(const std::string& text, const std::string& container_dir);
// The check decode_runtime_state_for makes, on a state already decoded.
Result<void> check_runtime_state_owner(const RuntimeState& s, const std::string& container_dir);

// /proc/PID/stat start time (clock ticks since boot), nullopt if the process is gone.
std::optional<uint64_t> process_starttime(pid_t pid);
// True when `pid` is alive and started at `starttime`.
bool process_matches(pid_t pid, uint64_t starttime);

}  // namespace cove
