// Checkpoint: the dump as a list of named steps (kCheckpointSteps below; doc/design/
// checkpoint-restore.md lists them with their rollbacks), and what the dump and the restore
// (restore.cpp) both tell CRIU about a cove container.
#include "lifecycle/checkpoint.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "base/clock.hpp"
#include "base/fs.hpp"
#include "base/fsuid_guard.hpp"
#include "base/proc_stat.hpp"
#include "base/pty.hpp"
#include "base/step_list.hpp"
#include "base/stream_socket.hpp"
#include "base/strings.hpp"
#include "base/syscalls.hpp"
#include "base/unique_fd.hpp"
#include "config/ini_reader.hpp"
#include "criu/checkpoint.hpp"
#include "criu/image_check.hpp"
#include "criu/tty_info.hpp"
#include "lifecycle/checkpoint_common.hpp"
#include "lifecycle/dump_freeze.hpp"
#include "lifecycle/lxcfs.hpp"
#include "lifecycle/proc_scan.hpp"

#ifndef COVE_VERSION
#define COVE_VERSION "0"
#endif

namespace cove::lifecycle {

std::string normalize_target(const std::string& target) {
  std::string t = "/" + target;
  while (t.size() > 1 && t.back() == '/') t.pop_back();
  std::string out;
  for (char c : t)
    if (!(c == '/' && !out.empty() && out.back() == '/')) out += c;
  return out;
}

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

criu::CgroupYard make_cgroup_yard(const cgroup::Layout* layout, const std::string& dir) {
  if (!layout || dir.empty()) return {};
  auto own = read_file("/proc/self/cgroup");
  if (!own) return {};
  return criu::CgroupYard(cgroup::criu_yard_entries(*layout), cgroup::criu_yard_names(*own), dir);
}

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

// The LXCFS views bound over /proc and /sys files: LXCFS lays its files out as the kernel does,
// so a view's root inside LXCFS is its mountpoint. The source is informational (a restore binds
// from the LXCFS of its own time, lifecycle/lxcfs.hpp).
void add_lxcfs_views(const std::vector<MountInfo>& mounts, std::vector<criu::ExternalMount>& out) {
  std::string dir;
  for (const auto& m : mounts) {
    if (m.fstype != rootfs::kLxcfsFsType) continue;
    if (dir.empty()) dir = default_lxcfs_dir();
    out.push_back({lxcfs_mount_key(m.mountpoint), m.mountpoint, dir + m.root});
  }
}

// The mounts whose source is outside the container: the host device nodes cove binds into
// /dev, the LXCFS views and the [mount] bind entries. Only those present in the live mount
// table are listed.
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
  add_lxcfs_views(mounts, out);
  int n = 0;
  for (const auto& e : cfg.mounts) {
    if (!(e.flags & MS_BIND)) continue;
    std::string mp = normalize_target(e.target);
    ++n;
    bool listed = std::any_of(out.begin(), out.end(), [&](const criu::ExternalMount& x) { return x.mountpoint == mp; });
    if (present.count(mp) && !listed) out.push_back({"bind-" + std::to_string(n), mp, e.source});
  }
  return out;
}

// /dev/console is a bind of a pts of the container's devpts (its mount root "/0" is the index);
// /dev/ttyN is a symlink "pts/M" (see rootfs/dev.cpp for why).
Result<void> pts_indices(pid_t pid, const std::vector<MountInfo>& mounts, unsigned ttys, bool has_console,
                         criu::ImageMeta& meta) {
  for (const auto& m : mounts)
    if (m.fstype == "devpts" && m.mountpoint == "/dev/console" && m.root.size() > 1)
      meta.console_pts = int(parse_int(m.root.substr(1)).value_or(-1));
  bool no_console = !has_console && meta.console_pts == -1;
  // CRIU derives a pty's index from the path's last number; "console" has none, so it reads 0.
  if (meta.console_pts != 0 && !no_console)
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

// The processes of the container other than init that hold one of the ptys `ttys` of the
// container's devpts (device `devpts`).
// A process of the container that holds one of the ttys, named by a pidfd opened before its
// fds were looked at: the process checked is the one signalled, even if its pid is reused.
struct TtyHolder {
  pid_t pid;
  UniqueFd pidfd;
};

bool holds_tty(pid_t p, dev_t devpts, const std::set<unsigned>& ttys) {
  for (const auto& f : open_files(p)) {
    struct stat st;
    std::string fdp = "/proc/" + std::to_string(p) + "/fd/" + std::to_string(f.fd);
    if (::stat(fdp.c_str(), &st) < 0 || !S_ISCHR(st.st_mode) || st.st_dev != devpts) continue;
    auto idx = pty::slave_index(st.st_rdev);
    if (idx && ttys.count(*idx)) return true;
  }
  return false;
}

std::vector<TtyHolder> tty_holders(const CheckpointTarget& t, dev_t devpts, const std::set<unsigned>& ttys) {
  std::vector<TtyHolder> holders;
  for (pid_t p : t.cgroups->payload_pids()) {
    if (p == t.init_pid) continue;
    UniqueFd pidfd(sys::pidfd_open(p, 0));
    if (!pidfd) continue;  // gone already
    if (holds_tty(p, devpts, ttys)) holders.push_back({p, std::move(pidfd)});
  }
  return holders;
}

// A pidfd polls readable once its process has exited.
bool has_exited(const UniqueFd& pidfd) {
  struct pollfd p = {pidfd.get(), POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
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
  for (const auto& h : holders) (void)sys::pidfd_send_signal(h.pidfd.get(), SIGKILL, nullptr, 0);  // ESRCH: ended
  bool gone = proc::poll_until([&] {
    for (const auto& h : holders)
      if (!has_exited(h.pidfd)) return false;
    return true;
  });
  if (!gone) return Error(ETIMEDOUT, "processes on the ttys did not end");
  return {};
}

// The links of end_tty_sessions again, made as the owner of the container's /dev.
void relink_ttys(pid_t init_pid, const criu::ImageMeta& meta) {
  std::string dev = "/proc/" + std::to_string(init_pid) + "/root/dev/";
  AsOwnerOf owner(dev);
  for (size_t i = 0; i < meta.tty_pts.size(); ++i)
    if (meta.tty_pts[i] > 0)
      (void)::symlink(("pts/" + std::to_string(meta.tty_pts[i])).c_str(), (dev + "tty" + std::to_string(i + 1)).c_str());
}

// One checkpoint as it runs: the target, what the steps learn and decide on the way, and what
// CRIU is asked. The steps below read and fill it in order.
struct Dump {
  Dump(const CheckpointTarget& target, const CheckpointOptions& options) : t(target), opts(options) {}
  const CheckpointTarget& t;
  const CheckpointOptions& opts;
  StepRunner<Dump>* steps = nullptr;
  int64_t t0 = monotonic_ms();
  std::string dir;  // the image directory (absolute)
  bool made_dir = false;
  bool was_frozen = false;  // by its user, before the checkpoint
  std::vector<MountInfo> mounts;
  criu::ImageMeta meta;  // cove-image.json
  criu::CgroupYard yard;
  criu::DumpRequest req;
  // While CRIU's session is open (before_dump): what CRIU is and the request it will get.
  const criu::CriuInfo* criu = nullptr;
  criu::DumpRequest* live = nullptr;
  bool ended_ttys = false;
  bool frozen_for_dump = false;
  UniqueFd page_stream;  // lazy pages: to the destination's `criu lazy-pages`
  criu::DumpResult res;

  bool has_cgroups() const { return t.cgroups && t.layout; }
};

Result<void> prepare_image_dir(Dump& d) {
  d.dir = absolute_path(d.opts.images_dir);
  if (!is_directory(d.dir)) {
    COVE_TRY(mkdir_p(d.dir, 0700));
    d.made_dir = true;
  } else if (auto entries = list_dir(d.dir); entries && !entries->empty()) {
    return Error(EEXIST, "image directory `" + d.dir + "` is not empty (use a new one; a checkpoint is never overwritten)");
  }
  return {};
}

// A failed dump leaves no half image that a restore could mistake for a checkpoint (CRIU's
// log stays, to read why).
void remove_partial_images(Dump& d) {
  if (auto entries = list_dir(d.dir))
    for (const auto& e : *entries)
      if (e != "dump.log") ::unlink((d.dir + "/" + e).c_str());
  if (d.made_dir) ::rmdir(d.dir.c_str());
}

Result<void> read_freezer_state(Dump& d) {
  d.was_frozen = d.has_cgroups() && is_cgroup_frozen(*d.t.cgroups, *d.t.layout);
  return {};
}

// cove's freeze for the dump, or one a CRIU that died mid-dump left behind.
void thaw_unless_frozen_before(Dump& d) {
  if (d.has_cgroups() && !d.was_frozen && is_cgroup_frozen(*d.t.cgroups, *d.t.layout))
    (void)d.t.cgroups->set_frozen(false);
}

Result<void> read_mounts(Dump& d) {
  auto mounts = read_mountinfo(d.t.init_pid);
  if (!mounts) return std::move(mounts).error();
  d.mounts = std::move(*mounts);
  return {};
}

Result<void> describe_container(Dump& d) {
  const auto& cfg = *d.t.cfg;
  auto& meta = d.meta;
  meta.cove_version = COVE_VERSION;
  meta.container = cfg.name;
  meta.lxcpath = d.t.lxcpath;
  meta.rootfs = cfg.rootfs;
  if (auto text = config::read_config_text(d.t.config_path); text) meta.config_hash = criu::hash_text(*text);
  meta.privileged = cfg.privileged;
  meta.uid_map = cfg.uid_map;
  meta.gid_map = cfg.gid_map;
  meta.stopped = d.opts.stop;
  meta.frozen = d.was_frozen;
  meta.mounts = external_mounts(cfg, d.mounts);
  return pts_indices(d.t.init_pid, d.mounts, cfg.ttys, d.t.has_console, meta);
}

Result<void> run_before_dump(Dump& d);

// A page stream over TCP whose peer went silent fails after this long: CRIU then ends (the
// monitor's loop reads its answer) rather than serving a destination that is gone.
constexpr int kPageStreamSilenceS = 15;

// A unix socket's path, or "ADDR:PORT" (the port after the last colon) for TCP.
Result<UniqueFd> connect_page_stream_to(const std::string& where) {
  if (where.starts_with("/")) return connect_unix(where);
  auto colon = where.rfind(':');
  auto port = colon == std::string::npos ? std::nullopt : parse_int(where.substr(colon + 1));
  if (!port || *port <= 0 || *port > 65535) return Error::invalid("page stream `" + where + "`: not a path or ADDR:PORT");
  auto fd = connect_tcp(where.substr(0, colon), unsigned(*port));
  if (fd) COVE_TRY(fail_when_peer_silent(fd->get(), kPageStreamSilenceS));
  return fd;
}

// Post-copy: the stream to the destination's lazy-pages daemon. CRIU serves the pages of the
// tree as it was handed over, so the tree must stay frozen (a migration froze it).
Result<void> connect_page_stream(Dump& d) {
  if (d.opts.lazy_pages_socket.empty()) return {};
  if (!d.was_frozen || d.opts.stop) return Error(EINVAL, "a lazy-pages dump needs a frozen container left running");
  auto fd = connect_page_stream_to(d.opts.lazy_pages_socket);
  if (!fd) return std::move(fd).error().context("connect to the page stream");
  if (auto t = send_all(fd->get(), d.opts.lazy_pages_token); !t) return std::move(t).error().context("the page stream's token");
  d.page_stream = std::move(*fd);
  return {};
}

// Where the files that a machine container's services watch with inotify live, searched in
// this order when an overlay rootfs's file handles cannot be opened
// (criu::DumpRequest::irmap_scan_paths): the small dirs most watches are in first (/etc:
// systemd, /etc/localtime; dbus-daemon's system.d and services dirs), the big ones last. CRIU
// searches these before its own list (which has /etc and /var/log too), and a dir searched once
// is cached for the next watch.
const std::vector<std::string> kOverlayWatchedDirs = {
    "/etc",      "/usr/share/dbus-1", "/usr/local/share/dbus-1", "/var/log", "/usr/lib/systemd", "/lib/systemd",
    "/var/lib",  "/usr/local",        "/opt",                    "/srv",     "/home",            "/root",
    "/usr/share", "/usr/lib"};

Result<void> make_dump_request(Dump& d) {
  auto& req = d.req;
  if (d.t.cfg->storage.backend == config::StorageBackend::kOverlay) req.irmap_scan_paths = kOverlayWatchedDirs;
  req.pid = d.t.init_pid;
  req.images_dir = d.dir;
  req.leave_running = !d.opts.stop;
  req.before_network_unlock = d.opts.before_network_unlock;
  req.lazy_pages_socket = d.page_stream.get();
  req.externals = d.opts.external_files;
  req.ext_unix_sk = d.opts.external_unix_sockets;
  if (d.opts.external_netns) {
    struct stat st;
    std::string ns = "/proc/" + std::to_string(d.t.init_pid) + "/ns/net";
    if (::stat(ns.c_str(), &st) < 0) return Error::from_errno(errno, "stat `" + ns + "`");
    d.meta.external_netns = criu::kExternalNetnsKey;
    req.externals.push_back(fmt::format("net[{}]:{}", st.st_ino, criu::kExternalNetnsKey));
  }
  for (const auto& m : d.meta.mounts) req.external_mounts.emplace_back(m.mountpoint, m.key);
  if (d.has_cgroups()) req.cgroup_roots = cgroup_roots(*d.t.cgroups, *d.t.layout);
  if (d.t.cgroups) req.freeze_cgroup = freezer_dir(*d.t.cgroups);
  d.yard = make_cgroup_yard(d.t.layout, d.t.runtime_dir);
  req.cgroup_yard = d.yard.path();
  req.before_dump = [&d](const criu::CriuInfo& criu, criu::DumpRequest& live) {
    d.criu = &criu;
    d.live = &live;
    return run_before_dump(d);
  };
  return {};
}

Result<void> dump_with_criu(Dump& d) {
  auto res = criu::dump(d.req);
  if (!res) return std::move(res).error();
  d.res = std::move(*res);
  return {};
}

// Once the dump is over (or failed), whether a tree left running: the /dev/ttyN links again.
void give_ttys_back(Dump& d) {
  if (d.ended_ttys && !d.opts.stop) relink_ttys(d.t.init_pid, d.meta);
}

// Ptys whose masters the monitor holds: the console, and /dev/ttyN. Stock CRIU carries only one
// such pty per dump (the console), so there the sessions on /dev/ttyN end at a checkpoint, like
// a serial line drop: their processes are killed, and init respawns its gettys/shells once the
// ttys are back (after the dump, or on fresh ptys after the restore). CRIU built with cove's
// patch (scripts/criu-patches) carries them all: nothing ends.
Result<void> end_tty_sessions_for_stock_criu(Dump& d) {
  if (!d.t.cgroups || d.t.tty_masters.empty() || d.criu->orphan_ttys) return {};
  // A frozen process cannot die: thawed for the moment it takes.
  if (d.was_frozen) COVE_TRY(d.t.cgroups->set_frozen(false));
  d.ended_ttys = true;
  auto ended = end_tty_sessions(d.t, d.meta);
  if (d.was_frozen) COVE_TRY(d.t.cgroups->set_frozen(true));
  return ended;
}

Result<void> find_outside_pipes(Dump& d) {
  if (d.t.cgroups) d.meta.pipes = find_external_pipes(d.t.cgroups->payload_pids());
  return {};
}

// CRIU's own freeze checks the freezer every 100 ms, and a v1 freezer still says FREEZING right
// after the write: every dump of a running container waited 100 ms. Frozen here with a fine
// poll, the cgroup reaches CRIU frozen and CRIU goes straight to seizing the tasks. Frozen with
// no vfork in progress, also when its user had frozen it: CRIU cannot seize a parent inside
// vfork() (dump_freeze.hpp), nor an fd CRIU cannot dump in a passing state; with a stock CRIU,
// also with no process running a program the tree holds with O_PATH: its image could not be
// restored (scripts/criu-patches/0014).
Result<void> freeze_the_tree(Dump& d) {
  if (d.live->freeze_cgroup.empty()) return {};
  bool stock = !d.criu->cove_build();
  DumpObstacle passing = [stock](const std::vector<pid_t>& pids, std::chrono::milliseconds budget) {
    if (auto o = passing_fd_state_obstacle(pids, budget)) return o;
    return stock ? exe_held_by_path_obstacle(pids, budget) : std::nullopt;
  };
  COVE_TRY(freeze_for_dump(*d.t.cgroups, d.was_frozen, passing));
  if (!d.was_frozen) d.live->frozen_for_dump = d.frozen_for_dump = true;
  return {};
}

// Read once the tree is frozen: nothing inside can add an interface now. A network namespace
// the container shares (the host's: `clone` without net, an OCI bundle without a network
// namespace) is not dumped: its interfaces are not the container's to record, and it is never
// locked (that would cut the host off while CRIU runs).
Result<void> read_interfaces(Dump& d) {
  const auto& ns = d.t.cfg->clone_ns;
  if (!d.opts.external_netns && std::find(ns.begin(), ns.end(), config::Namespace::kNet) == ns.end()) {
    d.live->lock_network = false;
    return {};
  }
  if (auto names = net_interfaces(d.t.init_pid)) d.meta.interfaces = std::move(*names);
  d.live->lock_network = criu::needs_network_lock(d.meta.interfaces);
  return {};
}

Result<void> give_console_its_session(Dump& d) {
  if (d.meta.console_pts < 0) return {};
  return criu::fix_console_session(d.dir, unsigned(d.meta.console_pts));
}

// CRIU puts a tree that stays running back into the freezer state it was handed.
Result<void> thaw_after_dump(Dump& d) {
  if (d.frozen_for_dump && !d.opts.stop) return d.t.cgroups->set_frozen(false);
  return {};
}

Result<void> check_nics(Dump& d) {
  auto why = nics_not_checkpointable(*d.t.cfg);
  if (!why.empty()) return Error(ENOTSUP, why);
  return {};
}


Result<void> record_checkpoint(Dump& d) {
  d.meta.criu_version = d.res.criu.version;
  d.meta.stats = d.res.stats;
  d.meta.dumped_at_ms = realtime_ms();
  return criu::write_meta(d.dir, d.meta);
}

// The steps of a checkpoint, in order. On a failure the rollbacks of the steps done run newest
// first and the container goes on as it was.
constexpr Step<Dump> kCheckpointSteps[] = {
    {"check the NICs", check_nics},
    {"prepare the image directory", prepare_image_dir, remove_partial_images},
    {"read the freezer state", read_freezer_state, thaw_unless_frozen_before},
    {"read the container's mounts", read_mounts},
    {"describe the container", describe_container},
    {"connect the page stream", connect_page_stream},
    {"make the dump request", make_dump_request},
    {"dump with CRIU", dump_with_criu},  // runs kBeforeDump once CRIU is up
    {"give the console its session", give_console_its_session},
    {"thaw after the dump", thaw_after_dump},
    // With --stop CRIU has killed the tree: the images are all that is left of it.
    {"record the checkpoint", record_checkpoint, nullptr, nullptr, StepKind::kPointOfNoReturn},
};

// Run inside CRIU's session, right before the DUMP request (criu::DumpRequest::before_dump):
// CRIU's abilities are known, and nothing here waits on CRIU's start.
constexpr Step<Dump> kBeforeDump[] = {
    {"end the tty sessions", end_tty_sessions_for_stock_criu, nullptr, give_ttys_back},  // at the very end
    {"find the pipes shared with outside", find_outside_pipes},
    {"freeze for the dump", freeze_the_tree},
    {"read the network interfaces", read_interfaces},
};

Result<void> run_before_dump(Dump& d) { return d.steps->run(kBeforeDump); }

CheckpointReport report_of(Dump& d) {
  CheckpointReport rep;
  rep.lazy = std::move(d.res.lazy);
  rep.images_dir = d.dir;
  rep.criu_version = d.res.criu.version;
  rep.stats = d.res.stats;
  rep.wall_ms = monotonic_ms() - d.t0;
  return rep;
}

}  // namespace

std::string nics_not_checkpointable(const config::ContainerConfig& cfg) {
  for (const auto& n : cfg.nics)
    if (n.type != config::NicType::kVeth)
      return "NIC `" + n.name + "` is a " + config::nic_type_name(n.type) +
             ": only veth NICs can be checkpointed (a macvlan, ipvlan or moved physical NIC cannot be brought back)";
  return "";
}

Result<CheckpointReport> checkpoint_container(const CheckpointTarget& t, const CheckpointOptions& opts) {
  Dump d(t, opts);
  StepRunner<Dump> steps("checkpoint", d);
  d.steps = &steps;
  COVE_TRY(steps.run(kCheckpointSteps));
  steps.commit();
  return report_of(d);
}

}  // namespace cove::lifecycle
