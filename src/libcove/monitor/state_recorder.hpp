// StateRecorder: the monitor's record of its container in /run/cove/KEY/state, the file every
// tool reads. It owns the current state and refuses a transition outside the table of
// state/container_state (an assert in debug builds: a monitor bug; EINVAL otherwise, nothing
// written). A failed write is returned, never dropped: the state in memory moves on (it is
// what the monitor does), the caller reports that the file lags.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"
#include "state/container_state.hpp"

namespace cove::monitor {

class StateRecorder {
 public:
  // `base`: what stays true for the monitor's life (container, monitor pid, ids, privileged).
  StateRecorder(std::string path, RuntimeState base) : path_(std::move(path)), rs_(std::move(base)) {}

  ContainerState state() const { return rs_.state; }
  bool is(ContainerState s) const { return rs_.state == s; }

  // Fields recorded with the next write.
  void set_init(pid_t pid);
  void set_started_at(int64_t ms) { rs_.started_at_ms = ms; }
  void set_cgroups(std::vector<std::string> payload, std::vector<std::string> monitor);
  void set_host_links(std::vector<std::string> links) { rs_.host_links = std::move(links); }

  // Records `to` (the same state again rewrites the record with the fields set since).
  Result<void> record(ContainerState to);

 private:
  std::string path_;
  RuntimeState rs_;
};

}  // namespace cove::monitor
