#include "monitor/state_recorder.hpp"

#include <fmt/format.h>

#include <cassert>

#include "base/fs.hpp"

namespace cove::monitor {

void StateRecorder::set_init(pid_t pid) {
  rs_.init_pid = pid;
  rs_.init_starttime = pid > 0 ? process_starttime(pid).value_or(0) : 0;
}

void StateRecorder::set_cgroups(std::vector<std::string> payload, std::vector<std::string> monitor) {
  rs_.payload_cgroups = std::move(payload);
  rs_.monitor_cgroups = std::move(monitor);
}

Result<void> StateRecorder::record(ContainerState to) {
  ContainerState from = rs_.state;
  if (to != from && !can_transition(from, to)) {
    assert(!"state transition outside the table");
    return Error(EINVAL, fmt::format("state {} -> {} is not in the transition table", state_name(from), state_name(to)));
  }
  rs_.state = to;
  // Runtime state: no fsync (it means nothing after a reboot).
  if (auto r = write_file_atomic(path_, encode_runtime_state(rs_), 0600, Durability::kVolatile); !r)
    return std::move(r).error().context(fmt::format("record {}", state_name(to)));
  return {};
}

}  // namespace cove::monitor
