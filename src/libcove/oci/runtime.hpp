// The OCI runtime operations behind cove-oci (runc's command line; doc/design/oci.md).
// There is no monitor: `create` clones init (through lifecycle/start_sequence, as cove-start's
// monitor does) and exits, leaving init at its start gate and a child of whoever reaps orphans
// for the caller (containerd's shim, podman's conmon: subreapers). State lives in
// ROOT/ID/state.json (written atomically); init is identified by pid *and* start time, so a
// reused pid never reads as the container. Every operation on one container holds ROOT/ID/lock.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "oci/spec.hpp"

namespace cove::oci {

struct CreateOptions {
  std::string bundle = ".";
  std::string pid_file;            // "" = none
  std::string console_socket;      // required when process.terminal
  unsigned preserve_fds = 0;
  bool no_pivot = false;
};

// `exec`: a process file (runc's --process, as the shims write it), or args with overrides of
// the container's own process.
struct ExecOptions {
  std::string process_file;
  std::vector<std::string> args;
  std::string cwd;
  std::vector<std::string> env;    // KEY=VALUE, over the container's
  std::string user;                // UID[:GID]
  bool tty = false;
  bool detach = false;
  std::string pid_file;
  std::string console_socket;
  unsigned preserve_fds = 0;
};

// `checkpoint` (runc's flags). cove's dumps always allow established TCP connections and held
// file locks (as a cove container's do), so --tcp-established and --file-locks change nothing.
struct CheckpointOptions {
  std::string image_path = "checkpoint";
  std::string work_path;           // dump.log is copied here ("" = stays in the image directory)
  bool leave_running = false;      // else the container is gone after a good dump, as with runc
  bool ext_unix_sk = false;        // datagram sockets to named sockets outside (/dev/log) allowed
};

// `restore`: the container ID made again from a checkpoint, with the bundle's config.
struct RestoreOptions {
  CreateOptions create;            // bundle, pid file, console socket
  std::string image_path = "checkpoint";
  std::string work_path;           // restore.log ("" = the container's state directory)
  bool detach = false;             // else wait for init, delete the container, return its status
  bool ext_unix_sk = false;        // such sockets in the images connected to their peer's name again
  bool no_subreaper = false;
};

enum class Status { kCreating, kCreated, kRunning, kPaused, kStopped };
const char* status_name(Status s);

struct ContainerInfo {
  std::string id;
  pid_t pid = 0;                   // 0 once stopped
  Status status = Status::kStopped;
  std::string bundle;
  std::string rootfs;
  std::string created;             // RFC 3339, UTC, nanoseconds
  std::map<std::string, std::string> annotations;
  std::vector<std::string> cgroup_dirs;
};

class Runtime {
 public:
  explicit Runtime(std::string root) : root_(std::move(root)) {}

  // create: set up everything and leave init at its start gate (state "created").
  Result<void> create(const std::string& id, const CreateOptions& opts);
  // run: create + start; `detach` false waits for init and returns its exit status (128+N for a
  // signal) after deleting the container.
  Result<int> run(const std::string& id, const CreateOptions& opts, bool detach);
  Result<void> start(const std::string& id);
  // exec: detached, returns 0 once the process runs (a child of the caller's subreaper from
  // then on); else its exit status.
  Result<int> exec(const std::string& id, const ExecOptions& opts);
  Result<ContainerInfo> state(const std::string& id);
  // The OCI state JSON (runtime-spec runtime.md "State").
  static std::string state_json(const ContainerInfo& info);
  Result<void> kill(const std::string& id, int signal, bool all);
  Result<void> remove(const std::string& id, bool force);
  Result<std::vector<ContainerInfo>> list();
  Result<std::vector<pid_t>> processes(const std::string& id);
  // update: new limits on a running (or created, paused) container's cgroups; only the
  // controllers the resources name are written.
  Result<void> update(const std::string& id, const Resources& resources);
  // events --stats: one runc-style stats object of the container's cgroups.
  Result<std::string> stats_json(const std::string& id);
  // events without --stats: runc's stream, one JSON line each to `emit`: the stats every
  // `interval_ms`, and {"type":"oom"} as soon as the cgroup counts a new OOM kill (polled every
  // 100 ms). Returns once the container has stopped or is gone; one not there at the start is
  // an error.
  Result<void> events(const std::string& id, int64_t interval_ms, const std::function<void(const std::string&)>& emit);
  Result<void> pause(const std::string& id);
  Result<void> resume(const std::string& id);
  // checkpoint: CRIU's images of a running (or paused) container in `image_path`, with cove's
  // record and the container's stdio (descriptors.json) beside them (oci/checkpoint.cpp).
  Result<void> checkpoint(const std::string& id, const CheckpointOptions& opts);
  // restore: as create + start, with CRIU's tree as init (a child of the caller, like a
  // created init); stdio pipes of the checkpointed init are replaced by this process's.
  Result<int> restore(const std::string& id, const RestoreOptions& opts);

 private:
  Result<int> wait_and_remove(const std::string& id, const UniqueFd& pidfd);
  std::string dir_of(const std::string& id) const { return root_ + "/" + id; }
  std::string root_;
};

// runc's id rule: [A-Za-z0-9_+.-], not starting with `.`, at most 1024 bytes.
Result<void> check_id(const std::string& id);
// "KILL", "SIGKILL", "9" -> 9.
Result<int> parse_signal(const std::string& text);

}  // namespace cove::oci
