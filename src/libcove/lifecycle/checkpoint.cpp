#include "lifecycle/checkpoint.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <set>

#include "base/clock.hpp"
#include "base/fs.hpp"
#include "base/fsuid_guard.hpp"
#include "base/log.hpp"
#include "base/proc_stat.hpp"
#include "base/pty.hpp"
#include "base/scope_exit.hpp"
#include "base/strings.hpp"
#include "base/syscalls.hpp"
#include "config/ini_reader.hpp"
#include "criu/cgroup_yard.hpp"
#include "criu/checkpoint.hpp"
#include "criu/image_check.hpp"
#include "criu/image_files.hpp"
#include "criu/restore.hpp"
#include "criu/tty_info.hpp"
#include "lifecycle/proc_scan.hpp"
#include "ns/idmap.hpp"
#include "ns/mapping_namespace.hpp"
#include "rootfs/staged_root.hpp"

#ifndef COVE_VERSION
#define COVE_VERSION "0"
#endif

namespace cove::lifecycle {

namespace {

std::string normalize_target(const std::string& target) {
  std::string t = "/" + target;
  while (t.size() > 1 && t.back() == '/') t.pop_back();
  std::string out;
  for (char c : t)
    if (!(c == '/' && !out.empty() && out.back() == '/')) out += c;
  return out;
}

// The mounts whose source is outside the container: the host device nodes cove binds into
// /dev and the [mount] bind entries. Only those present in the live mount table are listed.
std::vector<criu::ExternalMount> external_mounts(const config::ContainerConfig& cfg,
                                                 const std::vector<MountInfo>& mounts) {
  std::set<std::string> present;
  for (const auto& m : mounts) present.insert(m.mountpoint);
  std::vector<criu::ExternalMount> out;
  // Host device nodes: cove's standard /dev nodes and the /dev/null binds that mask /proc files,
  // all from the host's devtmpfs (mount root "/null" is the host's /dev/null).
  for (const auto& m : mounts) {
    if (m.fstype != "devtmpfs" || m.mountpoint == "/") continue;
    std::string key = "dev";
    for (char c : m.mountpoint) key += (c == '/' ? '-' : c);
    out.push_back({key, m.mountpoint, "/dev" + (m.root == "/" ? std::string() : m.root)});
  }
  int n = 0;
  for (const auto& e : cfg.mounts) {
    if (!(e.flags & MS_BIND)) continue;
    std::string mp = normalize_target(e.target);
    ++n;
    if (present.count(mp)) out.push_back({"bind-" + std::to_string(n), mp, e.source});
  }
  return out;
}

// /dev/console is a bind of a pts of the container's devpts (its mount root "/0" is the index);
// /dev/ttyN is a symlink "pts/M" (see rootfs/dev.cpp for why).
Result<void> pts_indices(pid_t pid, const std::vector<MountInfo>& mounts, unsigned ttys, criu::ImageMeta& meta) {
  for (const auto& m : mounts)
    if (m.fstype == "devpts" && m.mountpoint == "/dev/console" && m.root.size() > 1)
      meta.console_pts = int(parse_int(m.root.substr(1)).value_or(-1));
  // CRIU derives a pty's index from the path's last number; "console" has none, so it reads 0.
  if (meta.console_pts != 0)
    return Error(ENOTSUP, "/dev/console is pts " + std::to_string(meta.console_pts) +
                              ", not 0: CRIU would restore it as pts 0");
  meta.tty_pts.assign(ttys, -1);
  for (unsigned i = 1; i <= ttys; ++i) {
    char buf[64];
    std::string link = "/proc/" + std::to_string(pid) + "/root/dev/tty" + std::to_string(i);
    ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
    if (n <= 0) continue;  // removed inside: nothing to restore for it
    std::string target(buf, size_t(n));
    if (starts_with(target, "pts/")) meta.tty_pts[i - 1] = int(parse_int(target.substr(4)).value_or(-1));
  }
  return {};
}

// The payload cgroup of each hierarchy as a path from the hierarchy's root, per controller.
std::vector<criu::CgroupRoot> cgroup_roots(const cgroup::ContainerCgroups& cgs, const cgroup::Layout& layout) {
  std::vector<criu::CgroupRoot> out;
  const auto& dirs = cgs.payload_dirs();
  for (size_t i = 0; i < dirs.size() && i < layout.hierarchies.size(); ++i) {
    const auto& h = layout.hierarchies[i];
    if (!starts_with(dirs[i], h.mount_point)) continue;
    std::string rel = dirs[i].substr(h.mount_point.size());
    if (h.mount_root != "/") rel = h.mount_root + rel;
    if (rel.empty() || rel[0] != '/') rel = "/" + rel;
    if (h.v2) {
      out.push_back({"", rel});
    } else {
      for (const auto& c : h.controllers) out.push_back({c, rel});
    }
  }
  return out;
}

}  // namespace

std::string freezer_dir(const cgroup::ContainerCgroups& cgs) {
  for (const auto& d : cgs.payload_dirs())
    if (path_exists(d + "/freezer.state")) return d;
  for (const auto& d : cgs.payload_dirs())
    if (path_exists(d + "/cgroup.freeze")) return d;
  return "";
}

bool is_cgroup_frozen(const cgroup::ContainerCgroups& cgs, const cgroup::Layout&) {
  std::string d = freezer_dir(cgs);
  if (d.empty()) return false;
  if (auto t = read_file(d + "/freezer.state")) return trim(*t) == "FROZEN";
  if (auto t = read_file(d + "/cgroup.freeze")) return trim(*t) == "1";
  return false;
}

namespace {

// The processes of the container other than init that hold one of the ptys `ttys` of the
// container's devpts (device `devpts`).
std::vector<pid_t> tty_holders(const CheckpointTarget& t, dev_t devpts, const std::set<unsigned>& ttys) {
  std::vector<pid_t> holders;
  for (pid_t p : t.cgroups->payload_pids()) {
    if (p == t.init_pid) continue;
    bool holds = false;
    for (const auto& f : open_files(p)) {
      struct stat st;
      std::string fdp = "/proc/" + std::to_string(p) + "/fd/" + std::to_string(f.fd);
      if (::stat(fdp.c_str(), &st) < 0 || !S_ISCHR(st.st_mode) || st.st_dev != devpts) continue;
      auto idx = pty::slave_index(st.st_rdev);
      if (idx && ttys.count(*idx)) holds = true;
    }
    if (holds) holders.push_back(p);
  }
  return holders;
}

// Ends the sessions on /dev/ttyN (see checkpoint_container): the symlinks go first, so that
// init cannot respawn a getty on a tty meanwhile, then the processes holding a tty are killed.
Result<void> end_tty_sessions(const CheckpointTarget& t, const criu::ImageMeta& meta) {
  struct stat devpts;
  std::string dev = "/proc/" + std::to_string(t.init_pid) + "/root/dev/";
  if (::stat((dev + "pts/ptmx").c_str(), &devpts) < 0) return Error::from_errno(errno, "stat the container's devpts");
  std::set<unsigned> ttys;
  for (size_t i = 0; i < meta.tty_pts.size(); ++i)
    if (meta.tty_pts[i] > 0) {
      ttys.insert(unsigned(meta.tty_pts[i]));
      ::unlink((dev + "tty" + std::to_string(i + 1)).c_str());
    }
  if (ttys.empty()) return {};
  auto holders = tty_holders(t, devpts.st_dev, ttys);
  for (pid_t p : holders) ::kill(p, SIGKILL);
  bool gone = proc::poll_until([&] {
    for (pid_t p : holders)
      if (!proc::has_ended(p)) return false;
    return true;
  });
  if (!gone) return Error(ETIMEDOUT, "processes on the ttys did not end");
  return {};
}

void relink_ttys(pid_t init_pid, const criu::ImageMeta& meta) {
  std::string dev = "/proc/" + std::to_string(init_pid) + "/root/dev/";
  AsOwnerOf owner(dev);
  for (size_t i = 0; i < meta.tty_pts.size(); ++i)
    if (meta.tty_pts[i] > 0)
      (void)::symlink(("pts/" + std::to_string(meta.tty_pts[i])).c_str(), (dev + "tty" + std::to_string(i + 1)).c_str());
}

}  // namespace

Result<criu::ImageMeta> inspect_images(const std::string& images_dir, const std::string& container) {
  auto meta = criu::read_meta(images_dir);
  if (!meta) return std::move(meta).error();
  if (auto r = criu::check_restorable(*meta, container, ""); !r) return std::move(r).error();
  if (!path_exists(images_dir + "/inventory.img"))
    return Error(ENOENT, "`" + images_dir + "` has cove's record but no CRIU images (inventory.img)");
  // CRIU would hang on a short pages image (criu/image_check.hpp): refused before it runs.
  long page_size = ::sysconf(_SC_PAGESIZE);
  if (auto r = criu::check_page_images(images_dir, uint64_t(page_size > 0 ? page_size : 4096)); !r)
    return std::move(r).error();
  return meta;
}

namespace {

// CRIU's cgroup yard for one run (criu/cgroup_yard.hpp), when the layout allows one.
criu::CgroupYard make_cgroup_yard(const cgroup::Layout* layout, const std::string& dir) {
  if (!layout || dir.empty()) return {};
  auto own = read_file("/proc/self/cgroup");
  if (!own) return {};
  return criu::CgroupYard(cgroup::criu_yard_entries(*layout), cgroup::criu_yard_names(*own), dir);
}

}  // namespace

Result<CheckpointReport> checkpoint_container(const CheckpointTarget& t, const CheckpointOptions& opts) {
  int64_t t0 = monotonic_ms();
  const auto& cfg = *t.cfg;
  std::string dir = absolute_path(opts.images_dir);
  bool made_dir = false;
  if (!is_directory(dir)) {
    COVE_TRY(mkdir_p(dir, 0700));
    made_dir = true;
  } else if (auto entries = list_dir(dir); entries && !entries->empty()) {
    return Error(EEXIST, "image directory `" + dir + "` is not empty (use a new one; a checkpoint is never overwritten)");
  }
  // A failed dump leaves no half image that a restore could mistake for a checkpoint.
  bool was_frozen_at_start = t.cgroups && t.layout && is_cgroup_frozen(*t.cgroups, *t.layout);
  ScopeExit clean_failed([&] {
    // A CRIU that died mid-dump leaves its freeze behind.
    if (t.cgroups && t.layout && !was_frozen_at_start && is_cgroup_frozen(*t.cgroups, *t.layout))
      (void)t.cgroups->set_frozen(false);
    if (auto entries = list_dir(dir))
      for (const auto& e : *entries)
        if (e != "dump.log") ::unlink((dir + "/" + e).c_str());
    if (made_dir) ::rmdir(dir.c_str());
  });

  auto mounts = read_mountinfo(t.init_pid);
  if (!mounts) return std::move(mounts).error().context("read the container's mounts");
  bool was_frozen = t.cgroups && t.layout && is_cgroup_frozen(*t.cgroups, *t.layout);
  criu::ImageMeta meta;
  meta.cove_version = COVE_VERSION;
  meta.container = cfg.name;
  meta.lxcpath = t.lxcpath;
  meta.rootfs = cfg.rootfs;
  if (auto text = config::read_config_text(t.config_path); text) meta.config_hash = criu::hash_text(*text);
  meta.privileged = cfg.privileged;
  meta.uid_map = cfg.uid_map;
  meta.gid_map = cfg.gid_map;
  meta.stopped = opts.stop;
  meta.frozen = was_frozen;
  meta.mounts = external_mounts(cfg, *mounts);
  if (auto r = pts_indices(t.init_pid, *mounts, cfg.ttys, meta); !r) return std::move(r).error();
  // Ptys whose masters the monitor holds: the console, and /dev/ttyN. Stock CRIU carries only
  // one such pty per dump (the console), so there the sessions on /dev/ttyN end at a
  // checkpoint, like a serial line drop: their processes are killed, and init respawns its
  // gettys/shells once the ttys are back (after the dump, or on fresh ptys after the restore).
  // CRIU built with cove's patch (scripts/criu-patches) carries them all: nothing ends.
  bool ended_ttys = false;
  ScopeExit relink([&] {
    if (ended_ttys && !opts.stop) relink_ttys(t.init_pid, meta);
  });

  criu::DumpRequest req;
  req.pid = t.init_pid;
  req.images_dir = dir;
  req.leave_running = !opts.stop;
  for (const auto& m : meta.mounts) req.external_mounts.emplace_back(m.mountpoint, m.key);
  if (t.cgroups && t.layout) req.cgroup_roots = cgroup_roots(*t.cgroups, *t.layout);
  if (t.cgroups) req.freeze_cgroup = freezer_dir(*t.cgroups);
  auto yard = make_cgroup_yard(t.layout, t.runtime_dir);
  req.cgroup_yard = yard.path();
  bool frozen_for_dump = false;
  req.before_dump = [&](const criu::CriuInfo& criu, criu::DumpRequest& r) -> Result<void> {
    if (t.cgroups && !t.tty_masters.empty() && !criu.orphan_ttys) {
      // A frozen process cannot die: thawed for the moment it takes.
      if (was_frozen) COVE_TRY(t.cgroups->set_frozen(false));
      ended_ttys = true;
      auto ended = end_tty_sessions(t, meta);
      if (was_frozen) COVE_TRY(t.cgroups->set_frozen(true));
      if (!ended) return std::move(ended).error().context("end the tty sessions");
    }
    if (t.cgroups) meta.pipes = find_external_pipes(t.cgroups->payload_pids());
    // CRIU's own freeze checks the freezer every 100 ms, and a v1 freezer still says FREEZING
    // right after the write: every dump of a running container waited 100 ms. Frozen here with
    // a fine poll, the cgroup reaches CRIU frozen and CRIU goes straight to seizing the tasks.
    if (!r.freeze_cgroup.empty() && !was_frozen) {
      if (auto f = t.cgroups->set_frozen(true); !f) return std::move(f).error().context("freeze for the dump");
      r.frozen_for_dump = frozen_for_dump = true;
    }
    // Read once the tree is frozen: nothing inside can add an interface now.
    if (auto names = net_interfaces(t.init_pid)) meta.interfaces = std::move(*names);
    r.lock_network = criu::needs_network_lock(meta.interfaces);
    return {};
  };
  auto res = criu::dump(req);
  if (!res) return std::move(res).error();
  if (auto r = criu::fix_console_session(dir, unsigned(meta.console_pts)); !r)
    return std::move(r).error().context("console session");
  // CRIU puts a tree that stays running back into the freezer state it was handed.
  if (frozen_for_dump && !opts.stop)
    if (auto r = t.cgroups->set_frozen(false); !r) return std::move(r).error().context("thaw after the dump");
  clean_failed.dismiss();
  meta.criu_version = res->criu.version;
  meta.stats = res->stats;
  meta.dumped_at_ms = realtime_ms();
  if (auto r = criu::write_meta(dir, meta); !r) return std::move(r).error().context("record the checkpoint");
  CheckpointReport rep;
  rep.images_dir = dir;
  rep.criu_version = res->criu.version;
  rep.stats = res->stats;
  rep.wall_ms = monotonic_ms() - t0;
  return rep;
}

namespace {

// The rootfs as CRIU's `root`: for a user-namespaced container the same idmapped view a start
// gives init, attached under the runtime dir only for the restore.
Result<std::string> stage_root(rootfs::StagedRoot& staged, const config::ContainerConfig& cfg,
                               const criu::ImageMeta& meta, const std::string& runtime_dir) {
  if (meta.privileged || meta.uid_map.empty()) return cfg.rootfs;
  auto userns = ns::MappingNamespace::make(meta.uid_map, meta.gid_map);
  if (!userns) return std::move(userns).error().context("idmapped rootfs");
  auto tree = open_idmapped_tree(cfg.rootfs, userns->pid());
  if (!tree) return std::move(tree).error();
  return staged.attach(*tree, runtime_dir + "/rootfs");
}

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
      UniqueFd pidfd(sys::pidfd_open(p, 0));
      if (pidfd) sys::pidfd_send_signal(pidfd.get(), SIGKILL, nullptr, 0);
      while (::waitpid(p, nullptr, __WALL) < 0 && errno == EINTR) {
      }
    }
  }
}

}  // namespace

Result<RestoreReport> restore_container(const RestoreTarget& t, const std::string& images_dir_in) {
  int64_t t0 = monotonic_ms();
  const auto& cfg = *t.cfg;
  std::string images_dir = absolute_path(images_dir_in);
  auto meta = inspect_images(images_dir, cfg.name);
  if (!meta) return std::move(meta).error();
  if (meta->privileged != cfg.privileged)
    return Error(EINVAL, std::string("the checkpoint is of a ") + (meta->privileged ? "privileged" : "user-namespaced") +
                             " container, the config now says otherwise");

  criu::RestoreRequest req;
  req.images_dir = images_dir;
  req.work_dir = t.log_dir;
  req.timeout_ms = t.timeout_ms;
  req.images_criu_version = meta->criu_version;
  auto images = criu::ImageFiles::open(images_dir);
  if (!images) return std::move(images).error();
  rootfs::StagedRoot staged;
  // Done while CRIU loads (criu::RestoreRequest::while_criu_starts): CRIU reads no image and
  // no rootfs before the RESTORE request.
  req.while_criu_starts = [&](criu::RestoreRequest& r) -> Result<void> {
    // The restored tasks read some images themselves (tty-info.img, ...) as the container's
    // root, which has no rights on files owned by host root: the images become the container
    // root's own (the memory in them is its own anyway), and stay private to it.
    if (!meta->privileged && !meta->uid_map.empty()) {
      auto uid = ns::host_id_of(meta->uid_map, 0);
      auto gid = ns::host_id_of(meta->gid_map, 0);
      if (uid && gid) COVE_TRY(images->give_to(*uid, *gid));
    }
    auto root = stage_root(staged, cfg, *meta, t.runtime_dir);
    if (!root) return std::move(root).error();
    r.root = *root;
    return {};
  };
  // Sources of external mounts: device nodes from the host's /dev, bind entries from the
  // current config (a copy of the container may use other host paths), else as dumped.
  std::map<std::string, std::string> bind_sources;
  for (const auto& e : cfg.mounts)
    if (e.flags & MS_BIND) bind_sources[normalize_target(e.target)] = e.source;
  for (const auto& m : meta->mounts) {
    auto it = bind_sources.find(m.mountpoint);
    req.external_mounts.emplace_back(m.key, starts_with(m.key, "bind-") && it != bind_sources.end() ? it->second
                                                                                                  : m.source);
  }
  std::vector<UniqueFd> pipe_fds;
  for (const auto& p : meta->pipes) {
    auto fd = reopen_external_pipe(p);
    if (!fd) {
      log::warn("pipe:[{}] has no holder outside any more; it is restored without its peer", p.inode);
      continue;
    }
    req.inherit_fds.emplace_back("pipe:[" + std::to_string(p.inode) + "]", fd->get());
    pipe_fds.push_back(std::move(*fd));
  }
  if (t.cgroups && t.layout) req.cgroup_roots = cgroup_roots(*t.cgroups, *t.layout);
  req.lock_network = criu::needs_network_lock(meta->interfaces);
  auto yard = make_cgroup_yard(t.layout, t.runtime_dir);
  req.cgroup_yard = yard.path();

  auto res = criu::restore(req);
  if (!res) end_restore_leftovers(t);
  staged.release();
  criu::detach_cgroup_yards(t.log_dir);
  if (!res) {
    images->put_back();
    return std::move(res).error();
  }
  // From here the restored tree is ours: kill it if it cannot be taken over.
  ScopeExit kill_restored([&] {
    ::kill(res->pid, SIGKILL);
    ::waitpid(res->pid, nullptr, __WALL);
    images->put_back();
  });

  RestoreReport rep;
  rep.init.pid = res->pid;
  rep.init.pidfd.reset(sys::pidfd_open(res->pid, 0));
  if (!rep.init.pidfd) return Error::from_errno(errno, "pidfd of the restored init");
  rep.init.tty_masters.resize(meta->tty_pts.size());
  for (auto& fd : res->pts_masters) {
    int idx = -1;
    if (::ioctl(fd.get(), TIOCGPTN, &idx) < 0) continue;
    if (idx == meta->console_pts) {
      rep.init.console_master = std::move(fd);
      continue;
    }
    for (size_t i = 0; i < meta->tty_pts.size(); ++i)
      if (idx == meta->tty_pts[i]) rep.init.tty_masters[i] = std::move(fd);
  }
  if (!rep.init.console_master)
    return Error(EPROTO, "the restore gave back no console (pts " + std::to_string(meta->console_pts) + ")");
  for (size_t i = 0; i < rep.init.tty_masters.size(); ++i) {
    if (rep.init.tty_masters[i]) continue;
    // No process had the tty open at the dump, so CRIU did not recreate it: a new one.
    auto fresh = reopen_tty(res->pid, i + 1);
    if (!fresh) return std::move(fresh).error().context("tty" + std::to_string(i + 1));
    rep.init.tty_masters[i] = std::move(*fresh);
  }
  // CRIU restores the freezer state recorded at the dump. A freeze that was only cove's own
  // (for the dump itself) is recorded as THAWED (criu::DumpRequest::frozen_for_dump); should
  // the record still say FROZEN, the tree is thawed here.
  rep.frozen = meta->frozen;
  if (!meta->frozen && t.cgroups && t.layout && is_cgroup_frozen(*t.cgroups, *t.layout))
    if (auto r = t.cgroups->set_frozen(false); !r) return std::move(r).error().context("thaw the restored tree");

  rep.criu_version = res->criu.version;
  rep.stats = res->stats;
  rep.wall_ms = monotonic_ms() - t0;
  kill_restored.dismiss();
  return rep;
}

}  // namespace cove::lifecycle
