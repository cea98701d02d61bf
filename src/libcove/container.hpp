// The libcove façade: one Container per (PATH, NAME), with the operations the cove-* tools
// offer. Tools parse options, call one method, print the result or the Error, and exit.
// Every method returns errors; none prints.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "config/ini_reader.hpp"
#include "images/image_info.hpp"
#include "lifecycle/attach.hpp"
#include "lifecycle/boot_order.hpp"
#include "monitor/nic_report.hpp"
#include "state/container_state.hpp"

namespace cove {

struct CreateOptions {
  std::string template_name;              // "busybox" or a path to a template executable
  std::string config_file;                // -f; empty = the shipped default.conf
  std::vector<std::string> template_args; // after "--"
};

struct CopyOptions {
  std::string new_name;                   // -N
  std::string new_path;                   // -p: the copy's cove path ("": the source's)
  bool snapshot = false;                  // -s: share the source's files (overlay, btrfs snapshot)
  bool ephemeral = false;                 // -e: a snapshot clone destroyed when it stops
  std::string backend;                    // -B: a full copy's backend ("": the source's)
  std::optional<uint64_t> size;           // --size: the copy's quota
  images::ProgressFn progress;            // bytes done of the total; false stops the copy
};

struct SnapshotInfo {
  std::string name;
  int64_t created_ms = 0;                 // wall clock, ms since the epoch
  uint64_t bytes = 0;                     // what it takes on the host
};

struct StorageInfo {
  std::string backend;
  std::optional<uint64_t> size;           // the quota
  uint64_t used_bytes = 0;                // on the host (its own changes for overlay)
  std::vector<std::string> lower;
};

struct StartOptions {
  bool foreground = false;                // -F: run the monitor here, console on stdio
  bool inherit_stdio = false;             // cove-execute: init uses our stdio, exit with its status
  std::vector<std::string> init_override; // -- CMD
  std::string log_file, log_level;        // -o / -l, passed to the monitor
  std::string restore_from;               // cove-restore: the monitor restores init from this checkpoint
  int restore_timeout_s = 0;              // cove-restore: CRIU is ended after this long (0: no bound)
  bool restore_thaw = false;              // cove-restore --thaw: RUNNING even if dumped frozen
  bool restore_lazy_pages = false;        // a post-copy migration: memory from `criu lazy-pages`
  std::string ids_shared_with;            // host_ids.hpp: a migration's source on this machine
};

struct CheckpointOptions {
  std::string images_dir;                 // -D; created, must be empty
  bool stop = false;                      // --stop: the container ends (STOPPED) after a good dump
  // Post-copy migration (container_migrate.cpp): the page stream's unix socket. The call returns
  // once the images are written; the monitor's CRIU then serves the memory on that socket and
  // the container is CHECKPOINTING (frozen) until every page is transferred.
  std::string lazy_pages_socket;
  std::string lazy_pages_token;  // written first on that stream (the receiver's secret)
};

// CRIU's statistics of a checkpoint, and the total time as cove-checkpoint saw it.
struct CheckpointReport {
  std::string images_dir, criu_version;
  bool stopped = false;
  int64_t wall_ms = 0;
  uint32_t freezing_time_us = 0, frozen_time_us = 0, memdump_time_us = 0, memwrite_time_us = 0;
  uint64_t pages_scanned = 0, pages_written = 0;
};

// How long a restore may take by default: far more than a container of a few GB needs (CRIU
// restores ~1 GB/s from a page cache), and a bound on a CRIU that hangs on damaged images.
inline constexpr int kDefaultRestoreTimeoutS = 120;

struct RestoreOptions {
  std::string images_dir;                 // -D
  std::string log_file, log_level;
  int timeout_s = kDefaultRestoreTimeoutS;  // --timeout: CRIU is ended after this long
  // --thaw: the container comes up RUNNING even when it was frozen at the dump (a migration
  // freezes it for the move; its destination must not stay frozen).
  bool thaw = false;
  // Post-copy migration: the memory is not in the images; CRIU registers it with userfaultfd and
  // a `criu lazy-pages` daemon, already listening in the container's directory, fills it.
  bool lazy_pages = false;
  // A migration's source (PATH/NAME) running on this machine with the same host ids (host_ids.hpp).
  std::string ids_shared_with;
};

struct RestoreReport {
  pid_t init_pid = 0;
  std::string criu_version;
  int64_t wall_ms = 0;                    // inside the monitor: images checked to init running
  uint32_t restore_time_us = 0, forking_time_us = 0;
  uint64_t pages_restored = 0;
};

// One finding of `cove-checkpoint --check`.
struct CheckpointFinding {
  std::string area;                       // criu, mounts, devices, console, sessions, sockets, files
  std::string what;
  bool blocking = false;
};

// What `cove-image export` made: the image's metadata (with its content hash) and the archive.
struct ExportReport {
  images::ImageMetadata metadata;
  std::string file;
  uint64_t archive_bytes = 0;             // compressed
  uint64_t rootfs_bytes = 0;              // file data read from the rootfs
  int64_t wall_ms = 0;
};

// cove-migrate (container_migrate.cpp, doc/design/migration.md).
enum class MigrateMode { kAuto, kStopAndCopy, kPostCopy };
const char* migrate_mode_name(MigrateMode m);  // "auto", "stop-and-copy", "post-copy"

struct MigrateOptions {
  std::string destination;                // ssh://[user@]host[:port][/cove-path]
  MigrateMode mode = MigrateMode::kAuto;
  bool shared_storage = false;            // the rootfs is not copied (same path on both hosts)
  bool keep_source = false;               // the source's copy stays, STOPPED
  // --transport page-server (post-copy): the pages go by direct TCP, source to destination,
  // unencrypted, instead of over the ssh connection.
  bool page_server_transport = false;
  std::vector<std::string> ssh_opts;      // extra ssh arguments (`-i KEY`, `-o K=V`)
  std::string remote_cove = "cove";       // the `cove` the destination runs
  int connect_timeout_s = 10;
  std::function<void(const std::string& stage)> on_stage_start;
  std::function<void(const std::string& stage, int64_t ms)> on_stage_end;
};

struct MigrateStage {
  std::string name;
  int64_t ms = 0;
};

struct MigrateReport {
  std::string destination, mode;
  std::string mode_note;                  // why this mode (what `auto` found)
  std::vector<MigrateStage> stages;
  int64_t downtime_ms = 0;                // frozen here until RUNNING there
  int64_t total_ms = 0;
  int64_t restore_ms = 0;                 // the destination's restore, as it measured it
  uint64_t rootfs_bytes = 0, memory_bytes = 0;
  bool source_kept = false;
};

struct StopOptions {
  int timeout_s = -1;                     // -t; -1 = the config's stop_timeout
  bool kill = false;                      // -k
  bool reboot = false;                    // -r
};

using AttachOptions = lifecycle::AttachRequest;

// cove-autostart: the host's containers started at boot, in `[boot] order`, and stopped at
// shutdown, last first (container_autostart.cpp; the order is lifecycle/boot_order.hpp's).
struct AutostartOptions {
  bool stop = false;                      // --stop: stop them instead, the last step first
  bool all = false;                       // -a: every container, whatever `[boot] autostart` says
  unsigned jobs = 0;                      // -j: at most this many at once (0: autostart_jobs())
  int timeout_s = -1;                     // --stop -t: a clean halt's bound (-1: each config's)
  bool kill = false;                      // --stop -k: no clean halt
};
enum class AutostartOutcome { kDone, kAlready, kFailed, kSkipped };
struct AutostartItem {
  std::string name;
  AutostartOutcome outcome = AutostartOutcome::kDone;
  std::string error;                      // kFailed, kSkipped: why
  int64_t ms = 0;                         // kDone, kFailed: how long its start (or stop) took
};
struct AutostartReport {
  std::vector<AutostartItem> items;       // in the order they finished
  int64_t wall_ms = 0;
  size_t count(AutostartOutcome o) const;
};
// Called as each container is done with (from the calling thread), with how many are of all.
using AutostartProgressFn = std::function<void(const AutostartItem&, size_t done, size_t total)>;
// What autostart would do: the plan (its `refused` also holds the containers whose config
// does not load) and each planned container's state.
struct AutostartPlan {
  lifecycle::BootPlan boot;
  std::map<std::string, ContainerState> states;
};

struct StateInfo {
  ContainerState state = ContainerState::kStopped;
  bool monitor_died = false;              // runtime state exists but no monitor: stale
  RuntimeState runtime;                   // valid when state != STOPPED
  // Set when the runtime dir under this container's key is another container's (keys of two
  // paths collided): the state is STOPPED and the dir is left alone. Says whose it is.
  std::string foreign;
  // " (FOREIGN)" or "", for messages that say the container is not running.
  std::string note() const { return foreign.empty() ? "" : " (" + foreign + ")"; }
};

struct ContainerInfo {
  std::string name;
  StateInfo state;
  bool privileged = false;
  bool incomplete = false;                // a create that never finished (cove-destroy removes it)
  std::string rootfs, config_path;
  std::string config_error;               // why the config does not load ("" when it does)
  std::optional<uint64_t> cpu_usage_ns, memory_current, memory_peak, pids_current;
  std::optional<uint64_t> io_read_bytes, io_write_bytes, io_read_ops, io_write_ops;
  std::optional<uint64_t> oom_kills;      // processes the OOM killer ended inside
  std::vector<monitor::NicReport> nics;   // a running container's NICs (empty: only `lo`)
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
  // kBrief is what a listing of many containers needs (cove-ls): the state, the config's
  // privileged flag (or its error) and the memory in use — no other cgroup statistics, no NICs.
  enum class InfoDetail { kFull, kBrief };
  Result<ContainerInfo> info(InfoDetail detail = InfoDetail::kFull) const;
  // Waits until the state is `want` (timeout_ms < 0: forever); ETIMEDOUT otherwise.
  Result<void> wait(ContainerState want, int timeout_ms) const;
  // Runs a command inside; returns its exit status (128+N when killed by signal N).
  Result<int> attach(const AttachOptions& opts);
  // The same with `known`, what state() returned just before (cove-attach reads it first to
  // know whether to re-execute sealed), instead of reading it again.
  Result<int> attach(const AttachOptions& opts, const StateInfo& known);
  // Connects the terminal to tty N (0 = console) until the escape sequence (Ctrl-a q).
  Result<void> console(unsigned tty, int escape_char);
  // Removes runtime state left by a monitor that died (under the container lock).
  Result<bool> cleanup_stale();
  // Freezes every process (state FROZEN) / thaws them (RUNNING again), through the monitor.
  Result<void> freeze();
  Result<void> unfreeze();
  // The live value of a [cgroup] key (or control file name) in v2 syntax; the container must run.
  Result<std::string> cgroup_get(const std::string& key) const;
  // Sets a [cgroup] key live through the monitor (the value is parsed like the config's); with
  // `persist`, also in the config file (then a stopped container is fine too).
  Result<void> cgroup_set(const std::string& key, const std::string& value, bool persist);

  // The NICs of a running container, through its monitor (container_net.cpp): a live change of
  // rate.ingress / rate.egress (`value` a rate or `unlimited`), hot plug of a NIC given as
  // [network.NIC] "key = value" lines, and its removal. `persist` also writes the config.
  Result<void> net_set(const std::string& nic, const std::string& key, const std::string& value, bool persist);
  Result<void> net_attach(const std::string& nic, const std::vector<std::string>& lines, bool persist);
  Result<void> net_detach(const std::string& nic, bool persist);
  Result<std::vector<monitor::NicReport>> net_status() const;

  // Checkpoint/restore through CRIU (container_checkpoint.cpp). The container keeps running
  // after a checkpoint unless `stop`; a restore starts a monitor as cove-start does.
  Result<CheckpointReport> checkpoint(const CheckpointOptions& opts);
  Result<RestoreReport> restore(const RestoreOptions& opts);
  // What would stop a checkpoint of the running container, without trying it.
  Result<std::vector<CheckpointFinding>> checkpoint_check() const;

  // Storage (container_storage.cpp). The container must be stopped unless noted.
  // A full copy (or snapshot clone) with a new name, id range, MAC addresses and hostname.
  Result<void> copy(const CopyOptions& opts);
  // Snapshots of the rootfs: `name` "" picks snapN. Returns the name.
  Result<std::string> snapshot_create(const std::string& name);
  Result<std::vector<SnapshotInfo>> snapshot_list() const;
  Result<void> snapshot_restore(const std::string& name);
  Result<void> snapshot_destroy(const std::string& name);
  // Grows the quota (`[rootfs] size`, written to the config); online when it runs and the
  // backend can (btrfs; loop and overlay images need CAP_SYS_RESOURCE).
  Result<void> resize(uint64_t size);
  Result<StorageInfo> storage_info() const;
  // Destroys a stopped container whose config says `ephemeral = true` (its monitor's last act).
  Result<void> destroy_if_ephemeral();
  // Writes the stopped container's rootfs and config (without host-specific keys) as an image
  // archive `file` (container_image.cpp); `file` appears only when complete. Import, list and
  // removal are the image store's (images/image_store.hpp).
  Result<ExportReport> export_image(const std::string& file, const images::ProgressFn& progress);

  // Moves the running container to another host through ssh; it runs there and is gone here
  // (or STOPPED with `keep_source`). Before the destination runs it, any failure leaves it
  // running here unchanged and nothing there (container_migrate.cpp).
  Result<MigrateReport> migrate(const MigrateOptions& opts);
  // The destination's side (`cove migrate --receive`): the migration protocol on `in`/`out`
  // (migrate/wire.hpp) until the source commits, or everything made here is removed.
  Result<void> receive_migration(int in_fd, int out_fd);

  static Result<std::vector<std::string>> list(const std::string& lxcpath);
  // Starts (or stops) the containers of `lxcpath` that say `[boot] autostart` (container_autostart.cpp).
  // One that fails (or whose config does not load) is reported and the others go on; a
  // container that shares a namespace of one that did not start is skipped.
  static Result<AutostartReport> autostart(const std::string& lxcpath, const AutostartOptions& opts,
                                           const AutostartProgressFn& progress = {});
  static Result<AutostartPlan> autostart_plan(const std::string& lxcpath, bool all);
  // -j's default: the CPUs this process may run on to start; eight times that to stop (a stop
  // mostly waits for the container's init).
  static unsigned autostart_jobs(bool stop);
  // info(detail) of each of `names` in `lxcpath`, in their order, read by up to `workers`
  // threads (0: one per CPU this process may run on, at most 4; fewer for a short list).
  static std::vector<Result<ContainerInfo>> info_of_all(const std::string& lxcpath,
                                                        const std::vector<std::string>& names, InfoDetail detail,
                                                        unsigned workers = 0);
  // For a tool that reads many containers' configs (a listing): while it lives, a shared
  // include's parse is read once (config::IncludeParseCache).
  using ConfigReadCache = config::IncludeParseCache;

 private:
  Result<void> cleanup_stale_locked(const StateInfo& st);
  // start(); a restore's report (from the monitor's start status) goes to `restored`.
  Result<int> start(const StartOptions& opts, RestoreReport* restored);
  std::string lxcpath_;
  std::string name_;
};

}  // namespace cove
