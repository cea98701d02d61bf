// The DUMP side of the CRIU protocol: turns a DumpRequest (plain data, decided by the caller's
// policy in lifecycle/checkpoint) into CRIU options, runs it through one swrk session and
// returns CRIU's statistics. The images and `dump.log` go into the image directory.
// A failed dump leaves the tree running (CRIU thaws it); with `leave_running` false a
// successful dump ends with the tree killed by CRIU.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "criu/features.hpp"
#include "criu/stats.hpp"

namespace cove::criu {

struct CgroupRoot {
  std::string controller;  // "" = every controller not named otherwise
  std::string path;        // relative to the hierarchy's root, e.g. /cove.payload.web
};

struct DumpRequest {
  pid_t pid = 0;                       // the container's init (host pid)
  std::string images_dir;
  bool leave_running = true;
  bool tcp_established = true;         // established TCP connections (else the dump fails on them)
  bool file_locks = true;              // held POSIX/flock/OFD locks (else the dump fails on them)
  // Datagram sockets connected to a named socket outside the tree (a syslog client's /dev/log)
  // are dumped as external, to be connected to that name again at the restore; else such a
  // socket fails the dump. A stream connection to the outside fails it either way.
  bool ext_unix_sk = false;
  // Lock the network (nftables) while CRIU has the tree, so no packet changes a TCP socket it
  // is saving or rebuilding. Pointless for a loopback-only netns (criu::needs_network_lock),
  // and not free: unlocking deletes the lock's base chains, a kernel RCU wait (~14 ms here).
  bool lock_network = true;
  std::string cgroup_yard;             // a directory of hierarchy mounts; empty: CRIU mounts its own
  bool orphan_pts_master = true;       // console/tty slaves whose masters the monitor holds
  std::vector<std::pair<std::string, std::string>> external_mounts;  // mountpoint -> key
  // Other `external` resources, as CRIU spells them, e.g. "file[MNT_ID:INODE]" (hex): a file
  // opened outside the tree's mounts, which the restore gets by inherit_fd under that key.
  std::vector<std::string> externals;
  std::string freeze_cgroup;           // a v1 freezer dir to freeze with; empty: CRIU's own freeze
  // The caller froze `freeze_cgroup` itself for this dump from a running state: the images then
  // record the freezer as THAWED (CRIU records the state it found, FROZEN, and would restore the
  // tree frozen). With `leave_running`, CRIU leaves the cgroup frozen again: the caller thaws it.
  bool frozen_for_dump = false;
  std::vector<CgroupRoot> cgroup_roots;
  // More directories (inside the tree's root) where CRIU looks for the files inotify/fanotify
  // watch when it cannot open their file handles (an overlayfs rootfs: its handles cannot be
  // decoded without nfs_export); searched recursively in this order, before CRIU's own list,
  // only for a handle that does not open.
  std::vector<std::string> irmap_scan_paths;
  // Called once the CRIU session is open (its version and abilities known), right before the
  // DUMP request is built: the caller's last preparations, which may change this request.
  std::function<Result<void>(const CriuInfo&, DumpRequest&)> before_dump;
  // Called at CRIU's `network-unlock` NOTIFY: after the dump (or its failure), with the
  // sockets out of repair mode but the network still locked, when the tree stays alive.
  std::function<Result<void>()> before_network_unlock;
  // Post-copy migration: a connected stream socket to the destination's `criu lazy-pages`
  // daemon (-1: none). The images then hold no memory; once they are written CRIU says
  // `status-ready` and serves the frozen tree's pages on this socket until the daemon has them
  // all (dump() returns then, with the rest of the session in DumpResult::lazy).
  int lazy_pages_socket = -1;
};

struct Session;

// The rest of a lazy dump: CRIU serving pages. Its socket polls readable once CRIU has answered
// (every page transferred, or the transfer failed: then the tree stays as it was handed to
// CRIU, frozen). Destroying it kills CRIU.
class LazyDump {
 public:
  // `on_network_unlock`: DumpRequest::before_network_unlock (CRIU unlocks the network once
  // the pages are served).
  LazyDump(std::unique_ptr<Session> s, std::string log_path, std::function<Result<void>()> on_network_unlock);
  ~LazyDump();
  int fd() const;
  // Reads CRIU's answer (waits for it) and reaps CRIU.
  Result<void> finish();
  pid_t criu_pid() const;

 private:
  std::unique_ptr<Session> session_;
  std::string log_path_;
  std::function<Result<void>()> on_network_unlock_;
};

struct DumpResult {
  CriuInfo criu;
  DumpStats stats;
  std::string log_path;
  std::unique_ptr<LazyDump> lazy;  // set for a lazy dump: CRIU still serving pages
};

Result<DumpResult> dump(DumpRequest req);

}  // namespace cove::criu
