// LaunchPlan: everything the child needs to become the container's init, computed by the
// monitor from the config before clone. The child carries it out without reading config.
// A plan is plain data: it can be printed (`describe`) and unit-tested.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/run_program.hpp"
#include "cgroup/cgroup.hpp"
#include "config/container_config.hpp"
#include "rootfs/dev.hpp"
#include "rootfs/lxcfs.hpp"
#include "security/exec_restrictions.hpp"
#include "storage/backend.hpp"

namespace cove::lifecycle {

struct LaunchPlan {
  std::string name;
  std::string rootfs;                    // host path of the rootfs directory
  // Where the rootfs lives (storage/backend.hpp): the monitor fills `storage.dir`. The `dir`
  // backend keeps the path-based start (and its ownership-shift fallback); the others hand
  // the child a detached tree.
  storage::Layout storage;
  bool userns = true;
  unsigned long clone_flags = 0;         // CLONE_NEW* passed to clone3 (never CLONE_NEWCGROUP: see child_setup)
  bool new_cgroupns = true;              // unshare(CLONE_NEWCGROUP) after the parent placed us
  bool new_netns = true;                 // bring `lo` up
  bool set_hostname = true;
  std::string hostname;
  std::vector<config::IdMapEntry> uid_map, gid_map;
  std::vector<config::MountEntry> mounts;
  config::AutoMounts auto_mounts;
  // LXCFS files bound read-only over /proc and /sys files (lifecycle/lxcfs.hpp): filled by the
  // monitor from the host's mounts, not by make_launch_plan.
  std::vector<rootfs::LxcfsView> lxcfs_views;
  std::vector<cgroup::Hierarchy> cgroup_hierarchies;  // for the cgroup automount
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string cwd = "/";
  unsigned ttys = 0;
  bool inherit_stdio = false;            // application container: init uses the caller's stdio
  // /dev/console exists (a pty whose master goes to the caller); an OCI container without a
  // terminal has none, as with runc (a console nobody holds would be a deleted pty's bind).
  bool console = true;

  // Security (see lifecycle/security_plan.hpp, doc/design/security.md).
  security::ExecRestrictions exec;       // rlimits, LSM label, caps, no_new_privs, seccomp: right before execve
  bool generate_lsm_profile = false;     // the monitor loads the generated AppArmor profile before clone
  std::vector<config::SysctlEntry> sysctls;  // written through the container's /proc/sys before it turns read-only
  std::vector<std::string> masked_paths;     // relative to the rootfs
  std::vector<std::string> readonly_paths;
  std::string mount_context;             // SELinux `context=` for the filesystems cove mounts ("" = none)
  config::RootfsIdmap rootfs_idmap = config::RootfsIdmap::kAuto;
  std::string shift_record;              // file recording a one-time ownership shift of the rootfs
  // /etc/resolv.conf text for NICs with `dns` (network/container_network's resolv_conf()); the
  // child writes it in its final mount namespace. "" = the rootfs's own file is left alone.
  std::string resolv_conf;

  // OCI bundles (cove-oci; doc/design/oci.md). Defaults keep cove's own behaviour.
  std::string domainname;                // setdomainname when the uts namespace is new; "" = leave
  bool readonly_root = false;            // `root.readonly`: `/` remounted read-only last
  unsigned long root_propagation = 0;    // MS_SHARED/... (+MS_REC) of `/` after pivot; 0 = leave
  // The start gate: a FIFO (open O_RDONLY|O_NONBLOCK, inherited at clone) that init reads to
  // its end (the container's state, from `start`) before it drops its privileges and execs. -1 = exec at once. With a gate the
  // child reports `at-start-gate` instead of exec'ing, and the parent may exit: init no longer
  // dies with it (no parent-death signal). `cove-oci start` writes the state and closes.
  int start_gate_fd = -1;
  // Programs init runs inside the container when the gate opens, before it drops privileges
  // (OCI startContainer hooks): each gets what came through the gate (the container's state)
  // on stdin; one that fails ends the start.
  std::vector<ProgramRequest> gate_hooks;
  // Nodes made in /dev after cove's own (OCI `linux.devices` the host lacks; privileged only).
  std::vector<rootfs::DeviceNode> device_nodes;
  // /proc/PID/timens_offsets text ("monotonic S N\nboottime S N\n"; OCI `linux.timeOffsets`).
  // Offsets can be set only before a task is in the namespace, so then the time namespace is
  // not cloned (CLONE_NEWTIME stays out of clone_flags): the child unshares it for its
  // children, the parent writes the offsets while configuring it, and the child enters it.
  std::string time_offsets;
  // The rootfs is used as it is (an OCI bundle's, already owned by the ids its mappings name):
  // neither idmapped nor shifted in a user namespace.
  bool rootfs_as_is = false;
  // fds 3 .. 3+N-1 stay open into the container (`--preserve-fds N`); all others are closed.
  unsigned preserve_fds = 0;
};

struct PlanOptions {
  std::vector<std::string> init_override;  // `cove-start -- CMD`
  bool inherit_stdio = false;
  // Init's restrictions, when computed already (by cove-start, from the same config);
  // nullopt: made here from the config.
  std::optional<security::ExecRestrictions> exec;
};

Result<LaunchPlan> make_launch_plan(const config::ContainerConfig& cfg, const PlanOptions& opts,
                                    const cgroup::Layout& layout, bool have_time_ns);
std::string describe(const LaunchPlan& plan);

}  // namespace cove::lifecycle
