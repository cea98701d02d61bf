// Supervisor: the monitor's event loop and the container's life around it. It starts init (or
// restores it), then polls one set of fds — signals (init's exit), the command socket, the stop
// timer, the console — and hands each event to the part that owns it: the CommandServer
// (requests), the ConsoleBroker (console and ttys), the StopController (halt -> stop signal ->
// kill, reboot) and the StateRecorder (the state file). On init's exit it cleans up what it
// made: cgroups, socket, runtime dir. One thread; a request is served to its end before the next.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <poll.h>

#include "cgroup/cgroup.hpp"
#include "config/container_config.hpp"
#include "lifecycle/checkpoint.hpp"
#include "lifecycle/start_sequence.hpp"
#include "monitor/command_server.hpp"
#include "monitor/console_broker.hpp"
#include "monitor/monitor.hpp"
#include "monitor/protocol.hpp"
#include "monitor/state_recorder.hpp"
#include "monitor/stop_controller.hpp"
#include "network/container_network.hpp"
#include "storage/backend.hpp"
#include "paths.hpp"
#include "process/child_process.hpp"

namespace cove::monitor {

class Supervisor {
 public:
  Supervisor(const MonitorOptions& opts, config::ContainerConfig cfg);

  Result<void> start();
  int loop();
  // Writes the start status (once) and lets the container lock go.
  void report_start(const Result<void>& r);
  void cleanup();

 private:
  // start() in steps
  Result<void> watch_signals();
  Result<void> claim_runtime_dir();
  Result<void> open_console_log();
  Result<void> make_cgroups();
  Result<void> create_cgroups();
  Result<std::optional<security::ExecRestrictions>> starter_restrictions();
  void close_starter();
  Result<void> prepare_rootfs();
  Result<void> launch();
  Result<void> restore_init();
  Result<void> adopt_init(lifecycle::InitProcess init, ContainerState as = ContainerState::kRunning);

  // State, logged when the file cannot follow (the monitor goes on either way).
  void record(ContainerState s);

  // Commands (supervisor_commands.cpp)
  void serve_commands();
  Result<void> on_state(int fd, const StateRequest& req);
  Result<void> on_stop(int fd, const StopRequest& req);
  Result<void> on_reboot(int fd, const RebootRequest& req);
  Result<void> on_console(int fd, const ConsoleRequest& req);
  Result<void> on_checkpoint(int fd, const CheckpointRequest& req);
  Result<void> on_set_frozen(int fd, bool frozen);
  Result<void> on_cgroup_set(int fd, const CgroupSetRequest& req);
  Result<void> on_net_set(int fd, const NetSetRequest& req);
  Result<void> on_net_attach(int fd, const NetAttachRequest& req);
  Result<void> on_net_detach(int fd, const NetDetachRequest& req);
  Result<void> on_net_status(int fd, const NetStatusRequest& req);
  Result<void> plan_network();  // network_ for cfg_'s NICs, its host links recorded
  lifecycle::CheckpointTarget checkpoint_target();
  void end_after_checkpoint(ContainerState before);
  // A lazy dump's CRIU has answered: every page is at the destination, or the transfer failed.
  // Either way the tree stays as CRIU was handed it (frozen) and the state goes back.
  void end_lazy_dump();
  Result<void> set_frozen(bool frozen);
  Result<void> silence_frozen_copy();
  void unsilence_network();
  Result<void> set_cgroup_key(const std::string& key, const std::string& value);
  // Writes `limits` (`only`: those controllers) with `io.max = rootfs` bound to rootfs_disk_.
  Result<void> apply_limits(const cgroup::ResourceLimits& limits, const std::vector<std::string>& only = {});

  // Events
  void handle_signal();
  void on_init_exit(int status);
  bool reboot();
  void finish(int status);
  void begin_stop(int sig, unsigned timeout_s);
  void proxy_stdin();
  void serve_clients(const std::vector<struct pollfd>& pfds, size_t first, const std::vector<int>& fds);
  // A stop has begun: the monitor leaves its cgroup (so that cleanup can remove it) from a
  // child, beside the stop (cgroup::ContainerCgroups::leave_monitor_in_background).
  void start_leaving_monitor_cgroup();
  void finish_leaving_monitor_cgroup();  // waits for that child

  MonitorOptions opts_;
  ContainerPaths paths_;
  config::ContainerConfig cfg_;
  std::optional<cgroup::ContainerCgroups> cgroups_;
  dev_t rootfs_disk_ = 0;  // for `io.max = rootfs`: opts_.rootfs_disk, else found at the first use
  network::ContainerNetwork network_;
  // What the rootfs's backend made before the cgroups (loop device, image mount), for the
  // next start or restore; consumed by it.
  storage::PreparedRootfs rootfs_;  // the NICs of the current init (rebuilt by each launch)
  cgroup::Layout layout_;
  process::ChildProcess init_;  // init, started or restored (its pty masters are the broker's)
  UniqueFd sigfd_;
  UniqueFd monitor_lock_;  // PATH/NAME/.monitor.lock, held from start to cleanup
  CommandServer server_;
  ConsoleBroker console_;
  StopController stopper_;
  StateRecorder state_;
  std::optional<RestoreReply> restored_;  // what a restore reports with its start status
  bool stdin_open_ = false;
  bool done_ = false;
  bool created_runtime_dir_ = false;
  bool left_monitor_cgroup_ = false;
  bool network_silenced_ = false;  // the host ends are down: a frozen copy dumped to go on elsewhere
  bool checkpointed_ = false;  // ended by a checkpoint with `stop`: its DHCP leases live on in the images
  std::unique_ptr<criu::LazyDump> lazy_dump_;  // CRIU serving a post-copy migration's pages
  ContainerState before_lazy_dump_ = ContainerState::kFrozen;
  process::ChildProcess cgroup_mover_;  // start_leaving_monitor_cgroup's child, until reaped
  int exit_status_ = 0;
  bool have_time_ns_;
};

}  // namespace cove::monitor
