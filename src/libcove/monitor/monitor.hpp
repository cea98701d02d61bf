// The per-container monitor: the parent of init and a child subreaper. It creates the
// container's cgroups, starts init through start_sequence, records the state in
// RUNTIME_DIR/KEY/state, serves the command socket, holds the console and tty pty masters
// (copying console output to the console log), and on init's exit cleans up everything it
// made: cgroups, socket, runtime dir. One poll loop; no threads.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "base/fs.hpp"
#include "base/result.hpp"
#include "config/container_config.hpp"

namespace cove::monitor {

struct MonitorOptions {
  std::string lxcpath;
  std::string name;
  bool foreground = false;        // proxy the console to stdio; exit with init's status
  bool inherit_stdio = false;     // application container: init gets our stdio (cove-execute)
  int status_fd = -1;             // the StartStatus (monitor/protocol.hpp) is written here once started
  int lock_fd = -1;               // the container lock, closed once started
  int starter_fd = -1;            // cove-start's go, then the cgroups it made (launch.hpp DetachedStart)
  std::vector<std::string> init_override;
  std::string restore_images;     // restore mode: init comes back from this checkpoint (cove-restore)
  int restore_timeout_s = 0;      // restore mode: CRIU's run is ended after this long (0: no bound)
  bool restore_thaw = false;      // restore mode: thawed even when the images say frozen
  bool restore_lazy_pages = false;  // restore mode: memory from a `criu lazy-pages` daemon (post-copy)
  std::string log_file;
  std::string log_level;
  // The whole disk under the rootfs, for `io.max = rootfs` (a loop-backed rootfs: its loop
  // device, storage::RootfsTree::disk); 0: found from the rootfs path when a limit needs it.
  dev_t rootfs_disk = 0;
};

// The container's config read ahead: a detached monitor reads and checks it (no side effect)
// while cove-start runs its last checks, before their `go` (off the start's critical path where
// the monitor would otherwise wait idle for the go, as in the TCG guest). Those checks may
// rewrite the file (a generated hwaddr, written by rename): `take`, after the go, reads it
// again when the file is no longer the one read (its FileStamp).
class PreloadedConfig {
 public:
  static PreloadedConfig read(const MonitorOptions& opts);
  Result<config::ContainerConfig> take(const MonitorOptions& opts) &&;

 private:
  explicit PreloadedConfig(Result<config::ContainerConfig> cfg) : cfg_(std::move(cfg)) {}
  Result<config::ContainerConfig> cfg_;
  std::optional<FileStamp> stamp_;  // of the config file before the read; none: read again
};

// Runs the monitor to the end with the config PreloadedConfig::take gave (an error in it fails
// the start); returns the process exit status (init's, in the foreground). An Error when the
// container could not be started: it went to the status pipe already (when there is one); the
// caller prints it in the foreground, where nobody reads a status pipe.
Result<int> run_monitor(const MonitorOptions& opts, Result<config::ContainerConfig> cfg);

}  // namespace cove::monitor
