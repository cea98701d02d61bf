// Restore: a list of named steps (kRestoreSteps below; doc/design/checkpoint-restore.md lists
// them with their rollbacks), run in the monitor, which becomes the restored init's parent.
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>

#include "base/clock.hpp"
#include "base/fs.hpp"
#include "base/fsuid_guard.hpp"
#include "base/log.hpp"
#include "base/proc_stat.hpp"
#include "base/pty.hpp"
#include "base/step_list.hpp"
#include "base/strings.hpp"
#include "criu/image_files.hpp"
#include "criu/restore.hpp"
#include "lifecycle/checkpoint.hpp"
#include "lifecycle/checkpoint_common.hpp"
#include "lifecycle/lxcfs.hpp"
#include "lifecycle/proc_scan.hpp"
#include "ns/idmap.hpp"
#include "ns/mapping_namespace.hpp"
#include "process/child_process.hpp"
#include "rootfs/staged_root.hpp"
#include "storage/backend.hpp"

namespace cove::lifecycle {

namespace {

// A new pty for /dev/ttyN in the restored container's devpts, pointed to by its symlink. Made
// as the container's root (the owner of its /dev): devpts gives a new pty its opener's fsuid,
// and a host-root-owned pty or link would be out of reach of the container's root.
Result<UniqueFd> reopen_tty(pid_t init_pid, size_t n) {
  std::string dev = "/proc/" + std::to_string(init_pid) + "/root/dev/";
  AsOwnerOf owner(dev);
  auto pty = pty::open_new(dev + "pts/ptmx");
  if (!pty) return std::move(pty).error();
  std::string link = dev + "tty" + std::to_string(n);
  ::unlink(link.c_str());
  if (::symlink(("pts/" + std::to_string(pty->index)).c_str(), link.c_str()) < 0)
    return Error::from_errno(errno, "link `/dev/tty" + std::to_string(n) + "`");
  return std::move(pty->master);
}

// One restore as it runs: the target, the checked images, what CRIU is asked and what it gave
// back. The steps below read and fill it in order.
struct Restore {
  Restore(const RestoreTarget& target, const std::string& dir) : t(target), images_dir_in(dir) {}
  const RestoreTarget& t;
  std::string images_dir_in;
  StepRunner<Restore>* steps = nullptr;
  int64_t t0 = monotonic_ms();
  std::string images_dir;  // absolute
  criu::ImageMeta meta;
  std::optional<criu::ImageFiles> images;
  std::vector<UniqueFd> pipe_fds;  // the container's ends of pipes shared with outside
  criu::CgroupYard yard;
  rootfs::StagedRoot staged;
  // The idmapped `[mount]` binds, staged for CRIU to bind from (keyed by mountpoint), in
  // `binds_dir`.
  std::map<std::string, std::unique_ptr<rootfs::StagedRoot>> staged_binds;
  std::string binds_dir;
  criu::RestoreRequest req;
  criu::RestoreRequest* live = nullptr;  // while CRIU starts: the request it will get
  criu::RestoreResult res;
  process::ChildProcess init;  // the restored init, ours until handed over in the report
  RestoreReport rep;

  bool has_cgroups() const { return t.cgroups && t.layout; }
};

Result<void> check_images(Restore& r) {
  r.images_dir = absolute_path(r.images_dir_in);
  auto meta = inspect_images(r.images_dir, r.t.any_container ? std::string() : r.t.cfg->name);
  if (!meta) return std::move(meta).error();
  r.meta = std::move(*meta);
  if (r.meta.privileged != r.t.cfg->privileged)
    return Error(EINVAL, std::string("the checkpoint is of a ") +
                             (r.meta.privileged ? "privileged" : "user-namespaced") +
                             " container, the config now says otherwise");
  return {};
}

Result<void> record_image_owners(Restore& r) {
  auto images = criu::ImageFiles::open(r.images_dir);
  if (!images) return std::move(images).error();
  r.images.emplace(std::move(*images));
  return {};
}

void put_back_image_owners(Restore& r) { r.images->put_back(); }

// Where the binds are staged: beside the runtime dir (`/run/cove/.binds-KEY`), not in it. CRIU
// opens an external mount's path from inside the restored user namespace, as the container's
// root, which cannot pass the runtime dir (0700, host root's); this dir is that root's own
// (0700), so no other host user can reach what is staged in it.
Result<void> make_binds_dir(Restore& r) {
  std::string key = basename_of(r.t.runtime_dir);
  if (key.empty()) return Error(EINVAL, "no runtime dir to stage the idmapped binds beside (`" + r.t.runtime_dir + "`)");
  r.binds_dir = dirname_of(r.t.runtime_dir) + "/.binds-" + key;
  if (::mkdir(r.binds_dir.c_str(), 0700) < 0 && errno != EEXIST)
    return Error::from_errno(errno, "make `" + r.binds_dir + "`");
  auto uid = ns::host_id_of(r.meta.uid_map, 0);
  auto gid = ns::host_id_of(r.meta.gid_map, 0);
  if (!r.meta.privileged && uid && gid && ::chown(r.binds_dir.c_str(), *uid, *gid) < 0)
    return Error::from_errno(errno, "give `" + r.binds_dir + "` to the container's root");
  return {};
}

void release_staged_binds(Restore& r) {
  r.staged_binds.clear();
  if (!r.binds_dir.empty()) ::rmdir(r.binds_dir.c_str());
  r.binds_dir.clear();
}

// An idmapped `[mount]` bind comes back through its mapping: CRIU binds an external mount from a
// path, and a bind of an idmapped mount keeps the mapping, so each is cloned, idmapped (with
// the dumped maps for `idmap=container`, as the rootfs) and attached in make_binds_dir's
// directory for the restore only, like the rootfs (stage_rootfs).
Result<void> stage_idmapped_binds(Restore& r) {
  int n = 0;
  for (const auto& m : r.t.cfg->mounts) {
    if (!m.idmapped()) continue;
    if (r.binds_dir.empty()) COVE_TRY(make_binds_dir(r));
    std::string what = "idmapped bind `" + normalize_target(m.target) + "`";
    auto userns = m.idmap_container ? ns::user_ns_with_maps(r.meta.uid_map, r.meta.gid_map)
                                    : ns::user_ns_with_maps(m.uid_map, m.gid_map);
    if (!userns) return std::move(userns).error().context(what);
    auto tree = open_idmapped_bind(m, userns->get());
    if (!tree) return std::move(tree).error().context(what);
    auto staged = std::make_unique<rootfs::StagedRoot>();
    auto path = staged->attach(*tree, r.binds_dir + "/" + std::to_string(++n));
    if (!path) return std::move(path).error().context(what);
    r.staged_binds[normalize_target(m.target)] = std::move(staged);
  }
  return {};
}

// Sources of external mounts: device nodes from the host's /dev, LXCFS views from the LXCFS
// the config asks for now (`[mount] lxcfs`: a configured path that is not LXCFS fails the
// restore; under auto or off without LXCFS, the host's own files, with auto's warning), bind
// entries from the current config (a copy of the container may use other host paths; an
// idmapped one from its staged clone), else as dumped.
Result<void> find_mount_sources(Restore& r) {
  std::map<std::string, std::string> bind_sources;
  for (const auto& e : r.t.cfg->mounts)
    if (e.flags & MS_BIND) bind_sources[normalize_target(e.target)] = e.source;
  for (const auto& [mountpoint, staged] : r.staged_binds) bind_sources[mountpoint] = staged->path();
  std::optional<std::string> lxcfs_dir;
  for (const auto& m : r.meta.mounts) {
    if (is_lxcfs_mount_key(m.key)) {
      if (!lxcfs_dir) {
        auto dir = lxcfs_dir_for(*r.t.cfg);
        if (!dir) return std::move(dir).error();
        lxcfs_dir = std::move(*dir);
      }
      r.req.external_mounts.emplace_back(m.key, lxcfs_restore_source(*lxcfs_dir, m.mountpoint));
      continue;
    }
    auto it = bind_sources.find(m.mountpoint);
    bool from_config = starts_with(m.key, "bind-") && it != bind_sources.end();
    r.req.external_mounts.emplace_back(m.key, from_config ? it->second : m.source);
  }
  return {};
}

Result<void> reopen_outside_pipes(Restore& r) {
  r.req.inherit_fds = r.t.inherit_fds;
  auto given = [&](const std::string& key) {
    return std::any_of(r.t.inherit_fds.begin(), r.t.inherit_fds.end(), [&](const auto& kv) { return kv.first == key; });
  };
  for (const auto& p : r.meta.pipes) {
    if (given("pipe:[" + std::to_string(p.inode) + "]")) continue;
    auto fd = reopen_external_pipe(p);
    if (!fd) {
      log::warn("pipe:[{}] has no holder outside any more; it is restored without its peer", p.inode);
      continue;
    }
    r.req.inherit_fds.emplace_back("pipe:[" + std::to_string(p.inode) + "]", fd->get());
    r.pipe_fds.push_back(std::move(*fd));
  }
  return {};
}

// The NICs come back as they were dumped: every interface of the images but `lo` must be a veth
// NIC of the config (a NIC hot-plugged without --persist is not), whose host end CRIU recreates
// under its planned name on its bridge. The host side (rates, rules, DNS) is made again as soon
// as CRIU has the namespace, while the network is still locked.
Result<void> name_the_nics(Restore& r) {
  bool netns_given = std::any_of(r.t.inherit_fds.begin(), r.t.inherit_fds.end(),
                                 [](const auto& f) { return f.first == criu::kExternalNetnsKey; });
  if (netns_given && r.meta.external_netns.empty())
    return Error(EINVAL, "the checkpoint has a network namespace of its own: it cannot be restored into a joined one");
  if (!r.meta.external_netns.empty()) {
    // Not the container's netns: whatever NICs it had are its owner's (CNI's), and the restore
    // goes into the netns the caller passes under the same key.
    bool given = std::any_of(r.t.inherit_fds.begin(), r.t.inherit_fds.end(),
                             [&](const auto& f) { return f.first == r.meta.external_netns; });
    if (!given)
      return Error(EINVAL, "the checkpoint's network namespace was outside the container (joined by path): the "
                           "restore needs one to join (`" + r.meta.external_netns + "`)");
    if (r.t.network && !r.t.network->empty())
      return Error(EINVAL, "the checkpoint's network namespace was outside the container: it cannot get NICs");
    return {};
  }
  auto* net = r.t.network;
  std::vector<std::string> configured;
  if (net)
    for (const auto& n : net->planned_nics()) configured.push_back(n.name);
  for (const auto& ifname : r.meta.interfaces)
    if (ifname != "lo" && std::find(configured.begin(), configured.end(), ifname) == configured.end())
      return Error(ENOENT, "interface `" + ifname + "` of the checkpoint has no [network." + ifname +
                               "] section in the config (was it attached without --persist?)");
  if (!net || net->empty()) return {};
  if (auto why = nics_not_checkpointable(*r.t.cfg); !why.empty()) return Error(ENOTSUP, why);
  for (const auto& n : configured)
    if (std::find(r.meta.interfaces.begin(), r.meta.interfaces.end(), n) == r.meta.interfaces.end())
      return Error(ENOENT, "NIC `" + n + "` of the config was not in the checkpoint");
  r.req.externals = net->criu_externals();
  r.req.on_namespaces_ready = [net](pid_t pid) -> Result<void> {
    auto ns = network::open_netns_of(pid);
    if (!ns) return std::move(ns).error();
    if (auto a = net->adopt_restored(ns->get()); !a) return std::move(a).error().context("host side of the NICs");
    return {};
  };
  return {};
}

Result<void> run_while_criu_starts(Restore& r);

Result<void> make_restore_request(Restore& r) {
  auto& req = r.req;
  req.images_dir = r.images_dir;
  req.work_dir = r.t.log_dir;
  req.lazy_pages = r.t.lazy_pages;
  req.ext_unix_sk = r.t.external_unix_sockets;
  req.timeout_ms = r.t.timeout_ms;
  req.images_criu_version = r.meta.criu_version;
  if (r.has_cgroups()) req.cgroup_roots = cgroup_roots(*r.t.cgroups, *r.t.layout);
  req.lock_network = criu::needs_network_lock(r.meta.interfaces);
  r.yard = make_cgroup_yard(r.t.layout, r.t.runtime_dir);
  req.cgroup_yard = r.yard.path();
  req.while_criu_starts = [&r](criu::RestoreRequest& live) {
    r.live = &live;
    return run_while_criu_starts(r);
  };
  if (r.t.namespaces_ready) {
    req.on_namespaces_ready = [nics = std::move(req.on_namespaces_ready), &r](pid_t pid) -> Result<void> {
      if (nics) COVE_TRY(nics(pid));
      return r.t.namespaces_ready(pid);
    };
  }
  return {};
}

// The restored tasks read some images themselves (tty-info.img, ...) as the container's root,
// which has no rights on files owned by host root: the images become the container root's own
// (the memory in them is its own anyway), and stay private to it (criu/image_files.hpp).
Result<void> give_images_to_container_root(Restore& r) {
  if (r.meta.privileged || r.meta.uid_map.empty()) return {};
  auto uid = ns::host_id_of(r.meta.uid_map, 0);
  auto gid = ns::host_id_of(r.meta.gid_map, 0);
  if (uid && gid) return r.images->give_to(*uid, *gid);
  return {};
}

Result<UniqueFd> open_storage_tree(Restore& r, int userns_fd) {
  auto backend = storage::backend_for(r.t.cfg->storage.backend);
  if (!backend) return std::move(backend).error();
  auto layout = storage::layout_of(r.t.container_dir, *r.t.cfg);
  auto tree = r.t.rootfs ? (*backend)->open_tree(layout, userns_fd, *r.t.rootfs) : (*backend)->open_tree(layout, userns_fd);
  if (!tree) return std::move(tree).error().context(std::string("backend `") + (*backend)->name() + "`");
  return std::move(tree->tree);
}

// The rootfs as CRIU's `root`: for a user-namespaced container the same idmapped view a start
// gives init (through a user namespace with the dumped maps), attached under the runtime dir
// for the restore only.
// Another backend's rootfs is assembled (loop device, overlay) as a start would, idmapped or
// not, and staged the same way.
Result<void> stage_rootfs(Restore& r) {
  const auto& cfg = *r.t.cfg;
  bool unprivileged = !r.meta.privileged && !r.meta.uid_map.empty();
  bool dir = cfg.storage.backend == config::StorageBackend::kDir;
  if ((!unprivileged && dir) || r.t.rootfs_as_is) {
    r.live->root = cfg.rootfs;
    return {};
  }
  UniqueFd userns;
  if (unprivileged) {
    auto u = ns::user_ns_with_maps(r.meta.uid_map, r.meta.gid_map);
    if (!u) return std::move(u).error().context("idmapped rootfs");
    userns = std::move(*u);
  }
  auto tree = dir ? open_idmapped_tree(cfg.rootfs, userns.get()) : open_storage_tree(r, userns ? userns.get() : -1);
  if (!tree) return std::move(tree).error();
  auto root = r.staged.attach(*tree, r.t.runtime_dir + "/rootfs");
  if (!root) return std::move(root).error();
  r.live->root = *root;
  return {};
}

void release_staged_rootfs(Restore& r) { r.staged.release(); }

// Ends what a failed or timed-out CRIU run left: the restored tasks (our children through
// `rst_sibling`; the root task is the init of their pid namespace, so killing it ends the
// others) and CRIU's helpers, reparented to us (a subreaper) once CRIU is gone. Signals go
// through pidfds, and an unreaped child's pid cannot name another process meanwhile.
void end_restore_leftovers(const RestoreTarget& t) {
  // A task of a frozen (v1) cgroup dies only once thawed.
  if (t.cgroups && t.layout && is_cgroup_frozen(*t.cgroups, *t.layout)) (void)t.cgroups->set_frozen(false);
  for (int round = 0; round < 50; ++round) {
    auto children = proc::children_of(::getpid());
    if (children.empty()) return;
    for (pid_t p : children) {
      log::warn("ending pid {} left by the failed restore", p);
      process::ChildProcess::adopt(p).kill_and_reap();
    }
  }
}

// On failure CRIU's run leaves nothing: what it restored is killed, its cgroup yards go.
Result<void> restore_with_criu(Restore& r) {
  auto res = criu::restore(r.req);
  if (!res) {
    end_restore_leftovers(r.t);
    criu::detach_cgroup_yards(r.t.log_dir);
    return std::move(res).error();
  }
  r.res = std::move(*res);
  r.init = process::ChildProcess::adopt(r.res.pid);
  return {};
}

// From here the restored tree is ours: killed if it cannot be taken over (its init is the init
// of its pid namespace: the others die with it).
void kill_restored_tree(Restore& r) { r.init.kill_and_reap(); }

// What CRIU needed only while it ran.
Result<void> release_criu_staging(Restore& r) {
  r.staged.release();
  release_staged_binds(r);
  criu::detach_cgroup_yards(r.t.log_dir);
  r.yard.remove();
  return {};
}

// adopt() opened it when CRIU handed init over; the monitor needs it (signals, exit).
Result<void> check_init_pidfd(Restore& r) {
  if (r.init.pidfd() >= 0) return {};
  return Error(ESRCH, "no pidfd for the restored init " + std::to_string(r.init.pid()));
}

// The restore has succeeded: init goes to the caller (the monitor), who reaps it from now on.
void hand_over_init(Restore& r) {
  auto init = r.init.release();
  r.rep.init.pid = init.pid;
  r.rep.init.pidfd = std::move(init.pidfd);
}

// Each master CRIU recreated goes to the console or /dev/ttyN by its pts index.
Result<void> take_pty_masters(Restore& r) {
  auto& init = r.rep.init;
  init.tty_masters.resize(r.meta.tty_pts.size());
  for (auto& fd : r.res.pts_masters) {
    int idx = -1;
    if (::ioctl(fd.get(), TIOCGPTN, &idx) < 0) continue;
    if (idx == r.meta.console_pts) {
      init.console_master = std::move(fd);
      continue;
    }
    for (size_t i = 0; i < r.meta.tty_pts.size(); ++i)
      if (idx == r.meta.tty_pts[i]) init.tty_masters[i] = std::move(fd);
  }
  // The record says whether there was a console (an OCI container without a terminal has none).
  if (!init.console_master && r.meta.console_pts >= 0)
    return Error(EPROTO, "the restore gave back no console (pts " + std::to_string(r.meta.console_pts) + ")");
  return {};
}

// No process had the tty open at the dump, so CRIU did not recreate it: a new one.
Result<void> open_fresh_ttys(Restore& r) {
  auto& masters = r.rep.init.tty_masters;
  for (size_t i = 0; i < masters.size(); ++i) {
    if (masters[i]) continue;
    auto fresh = reopen_tty(r.res.pid, i + 1);
    if (!fresh) return std::move(fresh).error().context("tty" + std::to_string(i + 1));
    masters[i] = std::move(*fresh);
  }
  return {};
}

// CRIU restores the freezer state recorded at the dump. A freeze that was only cove's own (for
// the dump itself) is recorded as THAWED (criu::DumpRequest::frozen_for_dump); should the record
// still say FROZEN, the tree is thawed here; so is one frozen at the dump when the caller asks
// for `thaw` (a migration: frozen by cove for the move).
Result<void> thaw_restored_tree(Restore& r) {
  r.rep.frozen = r.meta.frozen && !r.t.thaw;
  if (!r.rep.frozen && r.has_cgroups() && is_cgroup_frozen(*r.t.cgroups, *r.t.layout))
    return r.t.cgroups->set_frozen(false);
  return {};
}

// The steps of a restore, in order. On a failure the rollbacks of the steps done run newest
// first: nothing restored is left, and the image directory is as it was.
constexpr Step<Restore> kRestoreSteps[] = {
    {"check the images", check_images},
    {"record the image files' owners", record_image_owners, put_back_image_owners},
    {"stage the idmapped binds", stage_idmapped_binds, nullptr, release_staged_binds},  // also when it fails
    {"find the external mounts' sources", find_mount_sources},
    {"reopen the pipes shared with outside", reopen_outside_pipes},
    {"name the NICs", name_the_nics},
    {"make the restore request", make_restore_request},
    {"restore with CRIU", restore_with_criu, kill_restored_tree},  // runs kWhileCriuStarts
    {"release CRIU's staging", release_criu_staging},
    {"check the restored init's pidfd", check_init_pidfd},
    {"take the console and tty masters", take_pty_masters},
    {"open fresh ttys", open_fresh_ttys},
    {"thaw the restored tree", thaw_restored_tree},
};

// Run once `criu swrk` is started, while it loads (criu::RestoreRequest::while_criu_starts):
// CRIU reads no image and no rootfs before the RESTORE request.
constexpr Step<Restore> kWhileCriuStarts[] = {
    {"give the images to the container's root", give_images_to_container_root},
    {"stage the rootfs", stage_rootfs, release_staged_rootfs},
};

Result<void> run_while_criu_starts(Restore& r) { return r.steps->run(kWhileCriuStarts); }

}  // namespace

Result<RestoreReport> restore_container(const RestoreTarget& t, const std::string& images_dir) {
  Restore r(t, images_dir);
  StepRunner<Restore> steps("restore", r);
  r.steps = &steps;
  COVE_TRY(steps.run(kRestoreSteps));
  steps.commit();
  hand_over_init(r);
  r.rep.criu_version = r.res.criu.version;
  r.rep.stats = r.res.stats;
  r.rep.wall_ms = monotonic_ms() - r.t0;
  return std::move(r.rep);
}

}  // namespace cove::lifecycle
