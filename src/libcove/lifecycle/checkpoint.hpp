// Checkpoint and restore of a container: the policy over criu/ (which only speaks the protocol).
// Decides what CRIU must be told about a cove container — the host device nodes and [mount]
// bind entries that are external mounts, the console and tty ptys whose masters the monitor
// holds (orphan pts), the payload cgroups as the cgroup root, pipes shared with processes
// outside — and records it in the image directory (criu/image_meta) for the restore.
// Both sides run in the monitor: the dump because the monitor must know that init's death after
// a dump with --stop is expected, the restore because with `rst_sibling` the restored init
// becomes the child of whoever runs `criu swrk`, and the monitor must be init's parent.
// `check_checkpointable` runs in the tool: it reads /proc and says what would stop a dump.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "cgroup/cgroup.hpp"
#include "config/container_config.hpp"
#include "criu/checkpoint.hpp"
#include "criu/image_meta.hpp"
#include "criu/stats.hpp"
#include "lifecycle/start_sequence.hpp"
#include "network/container_network.hpp"
#include "storage/backend.hpp"

namespace cove::lifecycle {

struct CheckpointTarget {
  const config::ContainerConfig* cfg = nullptr;
  std::string lxcpath;
  std::string runtime_dir;  // /run/cove/KEY: CRIU's cgroup yard
  std::string config_path;
  pid_t init_pid = 0;
  cgroup::ContainerCgroups* cgroups = nullptr;
  const cgroup::Layout* layout = nullptr;
  // The /dev/ttyN masters the monitor holds. CRIU carries at most one pty whose master is
  // outside the dumped tree, and that is the console: the ttys are hung up (with the container
  // frozen) before the dump, like a serial line drop; init respawns their gettys/shells.
  std::vector<int> tty_masters;
  // The container has a /dev/console (a cove container always; an OCI container only with a
  // terminal): without one, no console is recorded.
  bool has_console = true;
};

struct CheckpointOptions {
  std::string images_dir;
  bool stop = false;  // leave_running = false: CRIU kills the container after a good dump
  // criu::DumpRequest::before_network_unlock (a tree left running only).
  std::function<Result<void>()> before_network_unlock;
  // Post-copy migration: a unix socket that leads to the destination's `criu lazy-pages`
  // (an ssh forward), or "ADDR:PORT" of its TCP listener (--transport page-server). The
  // images get no memory; CRIU serves the pages on it after the dump (CheckpointReport::lazy).
  // Only for a container frozen before the dump.
  std::string lazy_pages_socket;
  // criu::DumpRequest::externals (an OCI caller's stdio files).
  std::vector<std::string> external_files;
  // The netns is not the container's (joined by path): not dumped, only named
  // (ImageMeta::external_netns); a restore gets one in RestoreTarget::inherit_fds.
  bool external_netns = false;
  // criu::DumpRequest::ext_unix_sk (an OCI caller's --ext-unix-sk).
  bool external_unix_sockets = false;
  // Written on that stream before CRIU gets it: the receiver's secret, which tells it the
  // connection is this dump's and not another local process's.
  std::string lazy_pages_token;
};

struct CheckpointReport {
  std::string images_dir;
  std::string criu_version;
  criu::DumpStats stats;
  int64_t wall_ms = 0;
  std::unique_ptr<criu::LazyDump> lazy;  // CRIU still serving the pages (lazy_pages_socket)
};

// Dumps the container into `images_dir` (created if missing; must be empty) and writes
// cove-image.json there. On failure the container keeps running as it was.
Result<CheckpointReport> checkpoint_container(const CheckpointTarget& target, const CheckpointOptions& opts);

struct RestoreTarget {
  const config::ContainerConfig* cfg = nullptr;
  std::string runtime_dir;  // /run/cove/KEY: staging for the idmapped rootfs, CRIU's cgroup yard
  std::string log_dir;      // CRIU's work dir: restore.log stays there (the container's directory)
  std::string container_dir;  // PATH/NAME: where its storage lives (storage/backend.hpp)
  storage::PreparedRootfs* rootfs = nullptr;  // its backend's prepare(), done by the caller
  cgroup::ContainerCgroups* cgroups = nullptr;  // created by the caller (with limits)
  const cgroup::Layout* layout = nullptr;
  // CRIU key ("pipe:[INODE]") -> the caller's fd: what the restored tree gets for a file that
  // was outside it, before any holder the images' record finds (an OCI runtime's caller gives
  // the new stdio this way). Keys the tree does not use are ignored.
  std::vector<std::pair<std::string, int>> inherit_fds;
  // The rootfs is CRIU's root as it is (an OCI bundle's, never idmapped), not the backend's
  // tree staged as a start would stage it.
  bool rootfs_as_is = false;
  // Images of a container of another name are accepted (an OCI restore under a new id).
  bool any_container = false;
  int timeout_ms = 0;            // bound on CRIU's run (0: none)
  // The NICs to bring back (planned and prepared by the caller, who tears them down): CRIU
  // recreates each veth with its planned host name on its bridge; the host side (rates, rules,
  // DNS) is made again once the namespace exists. nullptr or empty: no NICs.
  network::ContainerNetwork* network = nullptr;
  // Thawed even when the images say it was frozen at the dump: a migration freezes the
  // container for the move, and the destination must come up running.
  bool thaw = false;
  // criu::RestoreRequest::ext_unix_sk: datagram sockets dumped as external are connected to
  // their peer's name again (an OCI caller's --ext-unix-sk).
  bool external_unix_sockets = false;
  // Post-copy: the memory comes from a `criu lazy-pages` daemon listening in `log_dir`.
  bool lazy_pages = false;
  // Runs once CRIU has made the restored tree's namespaces (after the NICs' host side), with
  // the root task's pid, before any task runs (cove-oci: the prestart and createRuntime hooks,
  // as runc runs them at a restore). An error fails the restore.
  std::function<Result<void>(pid_t)> namespaces_ready;
};

struct RestoreReport {
  InitProcess init;          // pid (our child), pidfd, console and tty masters
  bool frozen = false;       // the container was frozen (by its user) when it was dumped
  std::string criu_version;
  criu::RestoreStats stats;
  int64_t wall_ms = 0;
};

// Restores the container from `images_dir` as a child of the caller. Refuses images of another
// container, of a newer format, or damaged (criu/image_check) before creating anything. On
// failure, and when CRIU does not finish within `timeout_ms`, nothing restored is left: CRIU is
// killed, and so is every other child of the caller (restored tasks are its children through
// `rst_sibling`, CRIU's helpers once CRIU is gone: the caller has no other children while it
// restores); the staging mount is gone, and the image directory is as it was, owners and
// modes included. CRIU's log stays in `log_dir`, never in the image directory.
Result<RestoreReport> restore_container(const RestoreTarget& target, const std::string& images_dir);

// Reads and checks an image directory's metadata for `container`, and its page images against
// their pagemaps (no CRIU call).
Result<criu::ImageMeta> inspect_images(const std::string& images_dir, const std::string& container);

// The payload cgroup that freezes the container (v1 freezer first, else cgroup2), "" if none;
// CRIU freezes through it (all tasks at once) and records whether it was frozen already.
std::string freezer_dir(const cgroup::ContainerCgroups& cgs);
bool is_cgroup_frozen(const cgroup::ContainerCgroups& cgs, const cgroup::Layout& layout);

struct CheckFinding {
  std::string area;   // "criu", "mounts", "devices", "console", "sessions", "cgroups", "namespaces", "sockets", "files"
  std::string what;
  bool blocking = false;  // false: handled or informational
};

// What a checkpoint of the running container would meet, without trying it. `payload_cgroups`
// are the container's cgroups as cove recorded them at the start (host paths): the dump freezes
// those, with everything below them.
// Whether this process (and so the CRIU it runs) has CAP_SYS_RESOURCE: without it CRIU cannot
// grow pipes past fs.pipe-max-size nor read other uids' rlimits.
bool has_cap_sys_resource(pid_t pid = 0);

std::vector<CheckFinding> check_checkpointable(const config::ContainerConfig& cfg, pid_t init_pid,
                                               const std::vector<std::string>& payload_cgroups);

}  // namespace cove::lifecycle
