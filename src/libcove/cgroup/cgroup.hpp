// Cgroup placement of one container on every mounted hierarchy (v1, v2 or hybrid).
// Owns: detection of the host layout from /proc/self/mountinfo (never by trying writes),
// creation of the monitor and payload cgroups, attaching pids, delegation of the payload
// cgroup to the container's root, stats, and removal (kill, then rmdir).
// Never touches cgroups it did not create. Limits come later through `apply`.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "cgroup/resources.hpp"
#include "process/child_process.hpp"

namespace cove::cgroup {

// One mounted hierarchy. For v2, `controllers` lists what the root offers.
struct Hierarchy {
  bool v2 = false;
  std::string mount_point;               // e.g. /sys/fs/cgroup/memory or /sys/fs/cgroup/unified
  std::string mount_root;                // the mount's root inside the hierarchy (mountinfo field 4)
  std::vector<std::string> controllers;  // v1: from super options (cpu, cpuacct, name=systemd...)
  std::string mount_options;             // super options without rw/ro (mount(2) data), to remount
                                         // the same hierarchy inside
};

struct Layout {
  std::vector<Hierarchy> hierarchies;
  bool pure_v2() const;                  // exactly one hierarchy, and it is cgroup2
  const Hierarchy* find_v1(const std::string& controller) const;
  const Hierarchy* v2() const;
};

// Parses mountinfo text; pure, unit-testable. Leaves v2 `controllers` empty (that needs a file
// read: `detect_layout` does it). A hierarchy mounted twice is listed once, at its first mount.
Result<Layout> parse_layout(const std::string& mountinfo);
// Parses /proc/PID/cgroup text into hierarchy-id lines; for v1 "4:memory:/a/b", for v2 "0::/x".
// Returns the path of `pid`'s cgroup in hierarchy `h` (relative to the hierarchy root).
Result<std::string> cgroup_path_of(const std::string& proc_cgroup, const Hierarchy& h);
// The absolute directory of `cgroup_path` (as `cgroup_path_of` returns it) under `h`'s mount,
// accounting for a mount of a subdirectory of the hierarchy. Fails when the cgroup lies outside
// the mounted part.
Result<std::string> directory_of(const Hierarchy& h, const std::string& cgroup_path);
// Reads /proc/self/mountinfo, keeps the hierarchies whose mount point really is a cgroup
// filesystem (statfs magic), and reads each v2 root's `cgroup.controllers`. Fails when no
// cgroup filesystem is mounted.
Result<Layout> detect_layout();

// The one of `dirs` on a cgroup2 mount, opened for clone3(CLONE_INTO_CGROUP)
// (process::SpawnOptions::cgroup_fd): a child born there needs no cgroup.procs write for that
// hierarchy, and on a pure v2 host none at all. An empty fd when none is (or it cannot be opened:
// then the write joins it as before).
struct CloneTarget {
  UniqueFd fd;
  std::string dir;
};
CloneTarget clone_target(const std::vector<std::string>& dirs);

// The monitors' shared cgroup (`cove.monitors`, see ContainerCgroups) on the cgroup2 hierarchy,
// beside the caller's own cgroup, made when missing and opened for clone3(CLONE_INTO_CGROUP):
// cove-start spawns a monitor there, so that on a pure v2 host the monitor joins it without a
// cgroup.procs write, whose first use after a quiet spell waits for an RCU grace period. An
// empty target when there is no cgroup2 hierarchy or the cgroup cannot be made (the monitor's
// own write then joins it, or says why it cannot).
CloneTarget monitors_clone_target();
// What cove-start reads once to plan a monitor's cgroups and spawn it: the layout (empty on
// failure) and its own /proc/self/cgroup.
struct StarterView {
  std::optional<Layout> layout;
  std::string proc_cgroup;
};
StarterView starter_view();
CloneTarget monitors_clone_target(const StarterView& view);

// For a process that starts many containers from a cgroup of its own (cove-autostart in
// cove.service): on the cgroup2 hierarchy, unless it is in the root, it moves into the monitors'
// shared cgroup beside the payloads it is about to make (`<base>/cove.monitors`, where a start
// plans as from <base>). Otherwise <base> would hold a process and, by the no-internal-process
// rule, its `cgroup.subtree_control` could enable no controller for them (EBUSY). Returns
// whether it moved. A one-off `cgroup.procs` write (cove-start does not need it: it exits).
Result<bool> step_into_monitors_cgroup();

// Joins the calling process to the cgroup `dir`. On a v1 hierarchy (`v1`) a process of one
// thread (`one_thread`: proc::thread_count, read once by a caller joining several) writes "0"
// to `tasks`: the kernel then moves only the calling thread, which for such a process is the
// whole of it, and skips `cgroup_threadgroup_rwsem`, whose write side (every `cgroup.procs`
// write) waits for an RCU grace period after a quiet spell (7-16 ms on this host). Otherwise
// its pid goes to `cgroup.procs`. `tasks` takes the same checks: the writer's (opener's)
// credentials, the target's cpuset and pids limits.
Result<void> join_self(const std::string& dir, bool v1, bool one_thread);

// Moves the calling process out of any container's cgroups (`cove.monitors`,
// `cove.payload.KEY`) into their parent, the cgroup its monitor was started in: for a daemon a
// monitor starts that must outlive the container (a managed network's dnsmasq), whose cgroups
// must be removable when it stops.
Result<void> leave_container_cgroups();

// A cgroup "yard" for CRIU: the directory of hierarchy mounts CRIU otherwise makes for itself
// on every dump and restore (one mount per hierarchy, 10-15 ms on a v1 host). CRIU names each
// entry after the hierarchy's controllers as /proc/PID/cgroup lists them ("cpu,cpuacct",
// "systemd" for name=systemd, "unified" for v2). `criu_yard_entries` gives (name, mount point)
// for every hierarchy, or nothing when one is mounted from below its root (the paths CRIU
// builds would be wrong); `criu_yard_names` the names a process's cgroup file needs (pure).
std::vector<std::pair<std::string, std::string>> criu_yard_entries(const Layout& layout);
std::vector<std::string> criu_yard_names(const std::string& proc_cgroup);

struct Stats {
  std::optional<uint64_t> cpu_usage_ns;
  std::optional<uint64_t> memory_current;
  std::optional<uint64_t> memory_peak;
  std::optional<uint64_t> pids_current;
  std::optional<uint64_t> io_read_bytes, io_write_bytes, io_read_ops, io_write_ops;
  std::optional<uint64_t> oom_kills;     // processes the OOM killer ended in the payload
};

// The cgroups of one container: `<base>/cove.payload.<key>` on every hierarchy, where <base> is
// the starting process's own cgroup in that hierarchy, and `<base>/cove.monitors`, the cgroup
// all monitors started from <base> share (one memory cgroup costs the kernel ~120 KiB: one per
// container for its monitor was a tenth of a container's memory). The shared one is made by the
// first monitor and removed by the last (an rmdir that fails while others are in it); joining
// makes it again when a stop removed it meanwhile. Directories recorded by older versions as
// `<base>/cove.monitor.<key>` are still removed whole.
// The absolute directories are recorded (see `dirs()`) so that cleanup after a crashed monitor
// works from the runtime state alone.
class ContainerCgroups {
 public:
  // Computes paths; creates nothing. `key` names the container (no `/`, no whitespace).
  static Result<ContainerCgroups> plan(const Layout& layout, const std::string& key, pid_t self);
  // `plan` with the text of /proc/<self>/cgroup given (what `plan` reads), for tests.
  static Result<ContainerCgroups> plan_from(const Layout& layout, const std::string& key,
                                            const std::string& proc_cgroup);
  // An OCI bundle's `linux.cgroupsPath` (cove-oci): the payload cgroup is PATH below each
  // hierarchy's root (a relative PATH: below the caller's own cgroup); no monitor cgroup.
  // `create` makes the missing ancestors too (kept by `destroy`, as runc does), and `destroy`
  // removes these dirs although they lack cove's prefix: the caller records them as its own.
  static Result<ContainerCgroups> plan_at(const Layout& layout, const std::string& path, pid_t self);
  // Rebuilds from recorded absolute payload/monitor dirs (for cleanup after a crash).
  static ContainerCgroups from_recorded(std::vector<std::string> payload_dirs, std::vector<std::string> monitor_dirs);
  // The same for dirs planned by `plan_at` (recorded by cove-oci).
  static ContainerCgroups from_recorded_explicit(std::vector<std::string> payload_dirs);

  // Creates every directory (v1 cpuset: copies cpuset.cpus/mems from the parent first).
  // On failure removes what it created.
  Result<void> create();
  // Undoes a successful `create`: removes the directories it made (not the leftovers it
  // adopted), last made first, each only while it is empty (rmdir(2) refuses a cgroup with
  // tasks or children). For cove-start, which makes a monitor's cgroups while the monitor
  // execs, when that monitor's start failed (monitor/launch.cpp).
  void remove_created();
  Result<void> attach_monitor(pid_t pid);
  // Moves the caller out of the monitor cgroups (into their parents, as destroy() does) from a
  // spawned child, and returns that child (wait for it before destroy()). The kernel makes the
  // first cgroup.procs write after a quiet spell wait for an RCU grace period (5-15 ms here):
  // started when a stop begins, that wait overlaps the stop instead of delaying its end.
  Result<process::ChildProcess> leave_monitor_in_background();
  // `joined`: payload dirs `pid` is in already (cloned into, clone_target; joined by itself,
  // self_join_files), not written again.
  Result<void> attach_payload(pid_t pid, const std::vector<std::string>& joined = {});
  // The `tasks` files of the v1 payload cgroups, opened for writing, for a child that joins
  // them by itself ("0", see join_self) before it does anything else: it is then placed without
  // a grace period. Opened here because the kernel checks the opener's credentials: the child
  // may already be in a new user namespace. `dirs` parallel to `files`. Close-on-exec.
  struct SelfJoin {
    std::vector<UniqueFd> files;
    std::vector<std::string> dirs;
  };
  SelfJoin self_join_files() const;
  // Which of the payload dirs `pid` is in (/proc/PID/cgroup): after a self join, the ones
  // still to write.
  std::vector<std::string> payload_dirs_holding(pid_t pid) const;
  // chown of the payload dirs and the files a delegatee writes (v1 cgroup.procs, tasks; v2
  // cgroup.procs, cgroup.subtree_control, cgroup.threads) to the container root's host ids.
  Result<void> delegate(uid_t uid, gid_t gid);
  Result<Stats> stats() const;
  // Only Stats::memory_current, from the one hierarchy that has it (a listing's column).
  std::optional<uint64_t> memory_current() const;
  // Writes `limits` (resources.hpp) through the writer of the hierarchy that carries each
  // controller: a v1 hierarchy with it, else the v2 one (whose parent's cgroup.subtree_control
  // gets it enabled). `only` restricts it to those controllers (as `needed_controllers` names
  // them, plus "raw"); empty means every one the limits need. A controller the host lacks is
  // an error naming the keys that need it. Needs a planned object (not `from_recorded`).
  Result<void> apply(const ResourceLimits& limits, const std::vector<std::string>& only = {});
  // v1 freezer.state or v2 cgroup.freeze of the payload; returns once the state settled, or
  // ETIMEDOUT after `timeout` (the state then stays in between: FREEZING on v1).
  Result<void> set_frozen(bool frozen, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // The current value of a [cgroup] key (or any control file name) in v2 syntax, read from the
  // payload dirs; works on recorded dirs too.
  Result<std::string> read_limit(const std::string& key) const;
  // Pids in the payload cgroup (any hierarchy that lists them).
  std::vector<pid_t> payload_pids() const;
  // SIGKILLs what is left in the payload cgroups, waits up to `timeout_ms` for them to empty,
  // then removes payload and monitor dirs (children first, for nested cgroups a guest made).
  // Missing dirs are not an error. Never removes a dir it did not plan.
  Result<void> destroy(int timeout_ms = 2000);
  // For a reboot: SIGKILLs what is left in the payload cgroups, removes the cgroups the guest made
  // below them and disables the controllers it enabled there (on v2 a cgroup with controllers
  // enabled for children cannot take the next init). The payload dirs themselves stay.
  Result<void> reset_payload(int timeout_ms = 2000);

  const std::vector<std::string>& payload_dirs() const { return payload_dirs_; }
  const std::vector<std::string>& monitor_dirs() const { return monitor_dirs_; }

  // How directories are made and removed; each returns 0, or -1 with errno set. cgroupfs fills
  // a new directory with control files and rmdir(2) removes them with it, so the defaults are
  // plain mkdir(2)/rmdir(2). A unit test's fake tree in a temp dir has to do both by hand.
  // `proc_cgroup` stands for reading /proc/PID/cgroup (which cgroups a monitor leaving is in).
  struct DirOps {
    std::function<int(const std::string& path)> make_dir;
    std::function<int(const std::string& path)> remove_dir;
    std::function<std::optional<std::string>(pid_t pid)> proc_cgroup;
  };
  void set_dir_ops(DirOps ops) { ops_ = std::move(ops); }

 private:
  Result<void> apply_device_program(const std::string& dir, const ResourceLimits& limits);
  Result<void> apply_raw(const ResourceLimits& limits);

  std::vector<std::string> payload_dirs_;
  std::vector<std::string> monitor_dirs_;
  std::vector<bool> v2_;  // parallel to payload_dirs_; empty when rebuilt from records
  bool explicit_path_ = false;           // plan_at: payload dirs without cove's prefix are ours
  std::vector<std::string> made_ancestors_;  // plan_at: ancestors `create` made (v2: controllers go down them)
  std::vector<std::string> created_;         // what `create` made, in order (remove_created)
  std::vector<Hierarchy> hierarchies_;  // parallel to payload_dirs_; empty when rebuilt from records
  std::shared_ptr<UniqueFd> device_prog_;  // the v2 device program attached to the payload
  DirOps ops_;            // empty members mean the plain syscalls
};

}  // namespace cove::cgroup
