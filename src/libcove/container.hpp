// The libcove façade: one Container per (PATH, NAME), with the operations the cove-* tools
// offer. Tools parse options, call one method, print the result or the Error, and exit.
// Every method returns errors; none prints.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "lifecycle/attach.hpp"
#include "state/container_state.hpp"

namespace cove {

struct CreateOptions {
  std::string template_name;              // "busybox" or a path to a template executable
  std::string config_file;                // -f; empty = the shipped default.conf
  std::vector<std::string> template_args; // after "--"
};

struct StartOptions {
  bool foreground = false;                // -F: run the monitor here, console on stdio
  bool inherit_stdio = false;             // cove-execute: init uses our stdio, exit with its status
  std::vector<std::string> init_override; // -- CMD
  std::string log_file, log_level;        // -o / -l, passed to the monitor
};

struct StopOptions {
  int timeout_s = -1;                     // -t; -1 = the config's stop_timeout
  bool kill = false;                      // -k
  bool reboot = false;                    // -r
};

using AttachOptions = lifecycle::AttachRequest;

struct StateInfo {
  ContainerState state = ContainerState::kStopped;
  bool monitor_died = false;              // runtime state exists but no monitor: stale
  RuntimeState runtime;                   // valid when state != STOPPED
};

struct ContainerInfo {
  std::string name;
  StateInfo state;
  bool privileged = false;
  bool incomplete = false;                // a create that never finished (cove-destroy removes it)
  std::string rootfs, config_path;
  std::optional<uint64_t> cpu_usage_ns, memory_current, memory_peak, pids_current;
};

class Container {
 public:
  Container(std::string lxcpath, std::string name);

  const std::string& name() const { return name_; }
  const std::string& lxcpath() const { return lxcpath_; }
  bool exists() const;                     // config present and creation finished

  Result<void> create(const CreateOptions& opts);
  Result<void> destroy(bool force);
  // Detached: returns once init runs (or with the start error). Foreground: returns the exit
  // status of init when it ends.
  Result<int> start(const StartOptions& opts);
  Result<void> stop(const StopOptions& opts);
  StateInfo state() const;
  Result<ContainerInfo> info() const;
  // Waits until the state is `want` (timeout_ms < 0: forever); ETIMEDOUT otherwise.
  Result<void> wait(ContainerState want, int timeout_ms) const;
  // Runs a command inside; returns its exit status (128+N when killed by signal N).
  Result<int> attach(const AttachOptions& opts);
  // Connects the terminal to tty N (0 = console) until the escape sequence (Ctrl-a q).
  Result<void> console(unsigned tty, int escape_char);
  // Removes runtime state left by a monitor that died (under the container lock).
  Result<bool> cleanup_stale();

  static Result<std::vector<std::string>> list(const std::string& lxcpath);

 private:
  Result<void> cleanup_stale_locked(const StateInfo& st);
  std::string lxcpath_;
  std::string name_;
};

}  // namespace cove
