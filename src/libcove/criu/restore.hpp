// The RESTORE side of the CRIU protocol. The caller (the monitor, in restore mode) runs it so
// that with `rst_sibling` the restored init becomes the caller's own child, exactly as after a
// start. Pty masters CRIU recreates for slaves whose masters were outside (the console and
// ttys held by the monitor) come back in `orphan-pts-master` notifications and are returned.
// On failure CRIU kills what it restored; the images are left untouched. A restore is bounded
// in time (`timeout_ms`): a CRIU that has not answered by then is killed (through its pidfd),
// and the error says so (ETIMEDOUT); what it had restored is then the caller's to end.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "criu/checkpoint.hpp"
#include "criu/features.hpp"
#include "criu/stats.hpp"

namespace cove::criu {

struct RestoreRequest {
  std::string images_dir;
  std::string root;                    // the rootfs as the restored tree's `/` (mandatory)
  std::string work_dir;                // restore.log, stats-restore (mandatory: never the image directory)
  int timeout_ms = 0;                  // the whole session, from `criu swrk` to its answer (0: none)
  bool tcp_established = true;
  bool file_locks = true;
  bool ext_unix_sk = false;            // DumpRequest::ext_unix_sk: images with such sockets need it
  bool lock_network = true;            // as DumpRequest::lock_network
  std::string cgroup_yard;             // as DumpRequest::cgroup_yard
  std::vector<std::pair<std::string, std::string>> external_mounts;  // key -> host path
  // Other `external` resources, as CRIU spells them, e.g. "veth[eth0]:cv0123456789@br0": the
  // veth CRIU recreates with its host end named and joined to the bridge.
  std::vector<std::string> externals;
  // Called at CRIU's `post-setup-namespaces` with the restored root task's pid: its network
  // namespace exists with its links (the veths' host ends too), and the network is still locked.
  std::function<Result<void>(pid_t)> on_namespaces_ready;
  std::vector<std::pair<std::string, int>> inherit_fds;             // CRIU key -> our fd
  std::vector<CgroupRoot> cgroup_roots;
  bool restore_cgroup_properties = true;  // limits recorded at dump go into our cgroups
  // Memory registered with userfaultfd and filled by a `criu lazy-pages` daemon whose socket
  // (`lazy-pages.socket`) is in `work_dir` (post-copy migration).
  bool lazy_pages = false;
  std::string images_criu_version;     // refused when newer than the CRIU that would restore
  // Run once `criu swrk` is started, while it loads (a few ms): the caller's remaining
  // preparations (e.g. `root`), overlapped with CRIU's start. May change this request.
  std::function<Result<void>(RestoreRequest&)> while_criu_starts;
};

struct RestoreResult {
  pid_t pid = 0;                       // the restored init, our child
  std::vector<UniqueFd> pts_masters;   // from orphan-pts-master, in arrival order
  CriuInfo criu;
  RestoreStats stats;
  std::string log_path;
};

inline constexpr const char* kRestoreLog = "restore.log";

Result<RestoreResult> restore(RestoreRequest req);

}  // namespace cove::criu
