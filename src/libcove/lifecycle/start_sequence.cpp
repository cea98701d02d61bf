#include "lifecycle/start_sequence.hpp"

#include <sys/mount.h>
#include <unistd.h>

#include <optional>

#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/syscalls.hpp"
#include "lifecycle/child_setup.hpp"
#include "lifecycle/security_plan.hpp"
#include "ns/idmap.hpp"
#include "ns/locked_mounts.hpp"
#include "ns/mapping_namespace.hpp"
#include "process/child_process.hpp"
#include "rootfs/mount.hpp"
#include "rootfs/ownership_shift.hpp"
#include "security/lsm/lsm.hpp"
#include "storage/mount_api.hpp"

namespace cove::lifecycle {

Result<UniqueFd> open_idmapped_tree(const std::string& path, int userns_fd, bool recursive) {
  auto tree = rootfs::clone_tree(path, recursive);
  if (!tree) return std::move(tree).error();
  COVE_TRY(storage::idmap_tree(*tree, userns_fd, "`" + path + "`", recursive));
  return tree;
}

Result<UniqueFd> open_idmapped_bind(const config::MountEntry& m, int userns_fd) {
  bool recursive = (m.flags & MS_REC) != 0;
  auto tree = rootfs::clone_tree_no_symlinks(m.source, recursive);
  if (!tree) return std::move(tree).error();
  COVE_TRY(storage::idmap_tree(*tree, userns_fd, "`" + m.source + "`", recursive));
  return tree;
}

namespace {

// The mount trees the parent makes for the child (they need host privileges), open until sent.
struct ParentTrees {
  UniqueFd rootfs;             // an idmapped or storage-backend rootfs
  std::vector<UniqueFd> binds;  // the idmapped `[mount]` binds, in entry order
};

// The rootfs of an unprivileged container: an idmapped clone handed to the child, or (mode
// `shift`, or `auto` on a filesystem that cannot be idmapped) no fd: the child then binds the
// rootfs itself, after a one-time shift of its ownership into the container's range.
Result<std::vector<int>> idmapped_or_shifted_rootfs(const LaunchPlan& plan, pid_t pid, UniqueFd& rootfs_tree) {
  using config::RootfsIdmap;
  if (plan.rootfs_idmap != RootfsIdmap::kShift) {
    auto userns = ns::open_user_ns(pid);
    if (!userns) return std::move(userns).error();
    auto tree = open_idmapped_tree(plan.rootfs, userns->get());
    if (tree) {
      rootfs_tree = std::move(*tree);
      return std::vector<int>{rootfs_tree.get()};
    }
    if (plan.rootfs_idmap == RootfsIdmap::kIdmapped) return std::move(tree).error();
    log::info("rootfs `{}` cannot be idmapped ({}); shifting its ownership instead", plan.rootfs,
              tree.error().message());
  }
  auto st = rootfs::shift_ownership(plan.rootfs, rootfs::ShiftRecord{plan.uid_map, plan.gid_map}, plan.shift_record);
  if (!st) return std::move(st).error();
  if (!st->already_done) log::info("shifted ownership of {} files in `{}`", st->changed, plan.rootfs);
  return std::vector<int>{};
}

// The NICs go into the child's network namespace now, so that init finds them configured.
Result<void> make_network(network::ContainerNetwork* network, pid_t pid) {
  if (!network || network->empty()) return {};
  auto ns = network::open_netns_of(pid);
  if (!ns) return std::move(ns).error().context("network");
  if (auto r = network->setup(ns->get()); !r) return std::move(r).error().context("network");
  return {};
}

// The rootfs of a backend other than `dir`: a detached tree (idmapped for a user-namespaced
// container) that the child attaches on the rootfs directory, privileged or not.
Result<std::vector<int>> storage_tree(const LaunchPlan& plan, pid_t pid, storage::PreparedRootfs* prepared,
                                      UniqueFd& rootfs_tree) {
  auto backend = storage::backend_for(plan.storage.cfg.backend);
  if (!backend) return std::move(backend).error();
  UniqueFd userns;
  if (plan.userns) {
    auto opened = ns::open_user_ns(pid);
    if (!opened) return std::move(opened).error();
    userns = std::move(*opened);
  }
  int fd = userns ? userns.get() : -1;
  auto tree = prepared ? (*backend)->open_tree(plan.storage, fd, *prepared) : (*backend)->open_tree(plan.storage, fd);
  if (!tree) return std::move(tree).error().context(std::string("backend `") + (*backend)->name() + "`");
  rootfs_tree = std::move(tree->tree);
  return std::vector<int>{rootfs_tree.get()};
}

// The `[mount]` binds with an id mapping: cloned and idmapped here, where mount_setattr(2) has
// the host privileges it needs, and sent to the child after the rootfs, in entry order
// (child_setup.cpp, parent_trees). A mapping other than the container's goes through a user
// namespace made for it. `held` keeps the trees open until they are sent.
Result<void> idmapped_binds(const LaunchPlan& plan, pid_t pid, std::vector<UniqueFd>& held, std::vector<int>& fds) {
  for (const auto& m : plan.mounts) {
    if (!m.idmapped()) continue;
    auto what = [&] { return m.where.empty() ? std::string("mount entry") : "mount entry at " + m.where; };
    bool containers = plan.userns && m.uid_map == plan.uid_map && m.gid_map == plan.gid_map;
    auto userns = containers ? ns::open_user_ns(pid) : ns::user_ns_with_maps(m.uid_map, m.gid_map);
    if (!userns) return std::move(userns).error().context(what());
    auto tree = open_idmapped_bind(m, userns->get());
    if (!tree) return std::move(tree).error().context(what());
    fds.push_back(tree->get());
    held.push_back(std::move(*tree));
  }
  return {};
}

// The payload cgroups to the container's root (a user-namespaced container): done while the
// child makes its mounts, which need no ownership (~50 chowns of kernfs files on a hybrid host,
// 0.2-0.4 ms, were on the start's critical path); init's exec waits for kMountsLocked after it.
Result<void> delegate_cgroups(const LaunchPlan& plan, cgroup::ContainerCgroups& cgroups) {
  if (!plan.userns) return {};
  auto uid = ns::host_id_of(plan.uid_map, 0);
  auto gid = ns::host_id_of(plan.gid_map, 0);
  if (!uid || !gid) return {};
  if (auto r = cgroups.delegate(*uid, *gid); !r) return std::move(r).error().context("delegate cgroup");
  return {};
}

Result<std::vector<int>> configure_child(const LaunchPlan& plan, pid_t pid, cgroup::ContainerCgroups& cgroups,
                                         const std::vector<std::string>& joined, network::ContainerNetwork* network,
                                         storage::PreparedRootfs* prepared, ParentTrees& held) {
  if (plan.userns) {
    if (auto r = ns::write_idmaps(pid, plan.uid_map, plan.gid_map); !r) return std::move(r).error();
  }
  if (auto r = cgroups.attach_payload(pid, joined); !r) return std::move(r).error().context("join cgroups");
  if (!plan.time_offsets.empty())
    if (auto r = write_existing("/proc/" + std::to_string(pid) + "/timens_offsets", plan.time_offsets); !r)
      return std::move(r).error().context("time offsets");
  COVE_TRY(make_network(network, pid));
  auto fds = plan.storage.cfg.backend != config::StorageBackend::kDir ? storage_tree(plan, pid, prepared, held.rootfs)
             : plan.userns && !plan.rootfs_as_is                      ? idmapped_or_shifted_rootfs(plan, pid, held.rootfs)
                                                                      : std::vector<int>{};
  if (!fds) return std::move(fds).error().context("prepare rootfs");
  COVE_TRY(idmapped_binds(plan, pid, held.binds, *fds));
  return fds;
}

}  // namespace

Result<InitProcess> start_init(const LaunchPlan& plan, cgroup::ContainerCgroups& cgroups,
                               network::ContainerNetwork* network, storage::PreparedRootfs* rootfs,
                               const StartHooks& hooks) {
  if (plan.generate_lsm_profile) {
    // Loaded (or replaced) before clone: the child's aa_change_onexec needs it to exist.
    auto lsm = security::lsm::open_lsm(plan.exec.lsm);
    if (!lsm) return std::move(lsm).error();
    COVE_TRY(mkdir_p(generated_profile_dir(), 0700));
    auto label = (*lsm)->prepare("generated", plan.exec.lsm_label, generated_profile_dir());
    if (!label) return std::move(label).error();
  }
  auto chan = SetupChannel::make_pair();
  if (!chan) return std::move(chan).error();
  auto& [parent, child] = *chan;

  // Killed and reaped on any error below, until the monitor takes it over. Born in its cgroup2
  // payload cgroup (the cgroup namespace comes later, from the child itself); its first step
  // joins the v1 ones (no grace period, see cgroup::join_self). Limits are set already: they
  // hold from its first instruction in the container's code.
  auto into = cgroup::clone_target(cgroups.payload_dirs());
  auto joins = cgroups.self_join_files();
  bool born_in = false;
  auto spawned = process::spawn(
      [&]() -> int {
        for (const auto& f : joins.files) (void)!::write(f.get(), "0", 1);  // checked by the parent
        joins.files.clear();
        parent.close();
        run_child(plan, cgroups.payload_dirs(), std::move(child));  // never returns
      },
      process::SpawnOptions{plan.clone_flags, into.fd.get(), &born_in});
  into.fd.reset();
  joins.files.clear();
  if (!spawned) return std::move(spawned).error();
  process::ChildProcess& init_child = *spawned;
  child.close();
  pid_t pid = init_child.pid();

  if (auto r = parent.expect(Phase::kChildStarted); !r) return std::move(r).error();
  // What the child could not join by itself (an older kernel checks the writer's credentials,
  // which in its new user namespace are nobody's) is written here, as before.
  std::vector<std::string> joined = joins.dirs.empty() ? std::vector<std::string>{}
                                                       : cgroups.payload_dirs_holding(pid);
  if (born_in) joined.push_back(into.dir);
  ParentTrees trees;
  auto fds = configure_child(plan, pid, cgroups, joined, network, rootfs, trees);
  if (!fds) return std::move(fds).error();
  if (hooks.namespaces_ready)
    if (auto r = hooks.namespaces_ready(pid); !r) return std::move(r).error();
  if (auto r = parent.send(Phase::kParentConfigured, *fds); !r) return std::move(r).error();
  trees = {};
  COVE_TRY(delegate_cgroups(plan, cgroups));
  // A user-namespaced container gets its guarded mounts locked (see ns/locked_mounts.hpp):
  // its root cannot unmount the masks or mount an unmasked proc or sysfs. The helper that
  // copies them is forked now, while the child builds them.
  std::optional<ns::MountLocker> locker;
  if (plan.userns) {
    auto started = ns::MountLocker::start(init_child.pidfd());
    if (!started) return std::move(started).error();
    locker = std::move(*started);
  }
  if (auto r = parent.expect(Phase::kRootfsReady); !r) return std::move(r).error();
  UniqueFd locked_ns;
  if (locker) {
    auto ns = locker->copy();
    if (!ns) return std::move(ns).error();
    locked_ns = std::move(*ns);
  }
  std::vector<int> ns_fds;
  if (locked_ns) ns_fds.push_back(locked_ns.get());
  if (auto r = parent.send(Phase::kMountsLocked, ns_fds); !r) return std::move(r).error();
  locked_ns.reset();  // `locker` reaps the helper on return, when it has long exited
  auto masters = parent.expect(Phase::kDevReady);
  if (!masters) return std::move(masters).error();
  size_t consoles = plan.console ? 1 : 0;  // the console's master comes first
  if (masters->size() != consoles + plan.ttys)
    return Error(EPROTO, "setup protocol: `dev-ready` carried " + std::to_string(masters->size()) + " ptys, not " +
                             std::to_string(consoles + plan.ttys));
  InitProcess init;
  if (plan.console) init.console_master = std::move((*masters)[0]);
  for (size_t i = consoles; i < masters->size(); ++i) init.tty_masters.push_back(std::move((*masters)[i]));
  if (auto r = parent.send(Phase::kGo); !r) return std::move(r).error();
  if (hooks.released)
    if (auto r = hooks.released(pid); !r) return std::move(r).error();
  // With a start gate, init waits there instead of exec'ing (cove-oci create).
  if (plan.start_gate_fd >= 0) {
    if (auto r = parent.expect(Phase::kAtStartGate); !r) return std::move(r).error();
  } else if (auto r = parent.wait_exec(); !r) {
    return std::move(r).error();
  }
  // Running: the monitor owns it now.
  auto released = init_child.release();
  init.pid = released.pid;
  init.pidfd = std::move(released.pidfd);
  return init;
}

}  // namespace cove::lifecycle
