#include "lifecycle/checkpoint.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/fsuid.h>
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
#include "base/log.hpp"
#include "base/scope_exit.hpp"
#include "base/strings.hpp"
#include "base/syscalls.hpp"
#include "config/ini_reader.hpp"
#include "criu/checkpoint.hpp"
#include "criu/image_check.hpp"
#include "criu/restore.hpp"
#include "criu/wire.hpp"
#include "lifecycle/dump_freeze.hpp"
#include "lifecycle/proc_scan.hpp"
#include "ns/idmap.hpp"

#ifndef COVE_VERSION
#define COVE_VERSION "0"
#endif

namespace cove::lifecycle {

namespace {

int64_t realtime_ms() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

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

char process_state(pid_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return 0;
  auto pos = text->rfind(')');
  return pos == std::string::npos || pos + 2 >= text->size() ? 0 : (*text)[pos + 2];
}

// Waits up to 2 s until `done()`.
template <typename F>
bool wait_until(F done) {
  for (int i = 0; i < 400; ++i) {
    if (done()) return true;
    ::usleep(5000);
  }
  return done();
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
  std::vector<pid_t> holders;
  for (pid_t p : t.cgroups->payload_pids()) {
    if (p == t.init_pid) continue;
    bool holds = false;
    for (const auto& f : open_files(p)) {
      struct stat st;
      std::string fdp = "/proc/" + std::to_string(p) + "/fd/" + std::to_string(f.fd);
      if (::stat(fdp.c_str(), &st) < 0 || !S_ISCHR(st.st_mode) || st.st_dev != devpts.st_dev) continue;
      unsigned idx = (major(st.st_rdev) - 136) * 256 + minor(st.st_rdev);
      if (major(st.st_rdev) >= 136 && major(st.st_rdev) <= 143 && ttys.count(idx)) holds = true;
    }
    if (holds) holders.push_back(p);
  }
  for (pid_t p : holders) ::kill(p, SIGKILL);
  bool gone = wait_until([&] {
    for (pid_t p : holders) {
      char st = process_state(p);
      if (st != 0 && st != 'Z' && st != 'X') return false;
    }
    return true;
  });
  if (!gone) return Error(ETIMEDOUT, "processes on the ttys did not end");
  return {};
}

// For its lifetime, file operations act as the owner of `dir` (the container's root for its
// /dev), so that what they create belongs to the container; nothing changes for a root-owned
// `dir` (a privileged container).
class AsOwnerOf {
 public:
  explicit AsOwnerOf(const std::string& dir) {
    struct stat st;
    active_ = ::stat(dir.c_str(), &st) == 0 && st.st_uid != 0;
    if (!active_) return;
    ::setfsgid(st.st_gid);
    ::setfsuid(st.st_uid);
  }
  ~AsOwnerOf() {
    if (!active_) return;
    ::setfsuid(0);
    ::setfsgid(0);
  }
  AsOwnerOf(const AsOwnerOf&) = delete;
  AsOwnerOf& operator=(const AsOwnerOf&) = delete;

 private:
  bool active_ = false;
};

void relink_ttys(pid_t init_pid, const criu::ImageMeta& meta) {
  std::string dev = "/proc/" + std::to_string(init_pid) + "/root/dev/";
  AsOwnerOf owner(dev);
  for (size_t i = 0; i < meta.tty_pts.size(); ++i)
    if (meta.tty_pts[i] > 0)
      (void)::symlink(("pts/" + std::to_string(meta.tty_pts[i])).c_str(), (dev + "tty" + std::to_string(i + 1)).c_str());
}

}  // namespace

// After a restore CRIU does not make the console init's controlling terminal again, so a later
// dump records it with no session (sid 0), and CRIU then refuses to restore an orphan pty
// without a session ("No task found with sid 0"). The console belongs to init's session by
// cove's design (see child_setup): its entry in tty-info.img says so again. In place: the
// varints 0 and 1 have the same size.
static Result<void> fix_console_session(const std::string& images_dir, int console_pts) {
  std::string path = images_dir + "/tty-info.img";
  auto bytes = read_file(path);
  if (!bytes) return std::move(bytes).error();
  std::string& b = *bytes;
  uint64_t console_rdev = (136u << 8) | unsigned(console_pts);
  bool changed = false;
  // After the two magics; a damaged entry ends the walk (the image is then CRIU's to refuse).
  (void)criu::wire::for_each_entry(b, 8, [&](size_t begin, size_t end) -> Result<void> {
    auto f = criu::wire::decode(b, begin, end);
    if (!f) return std::move(f).error();
    // tty_info_entry: type = 2 (PTY is 1), sid = 6, pgrp = 7, rdev = 8.
    if (f->has(2) && f->get(2) == 1 && f->has(8) && f->get(8) == console_rdev && f->has(6) && f->get(6) == 0 &&
        f->has(7) && f->get(7) == 0) {
      b[f->varint_at.at(6)] = 1;
      b[f->varint_at.at(7)] = 1;
      changed = true;
    }
    return {};
  });
  if (!changed) return {};
  return write_file_atomic(path, b, 0644);
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

// cgroup::criu_yard_entries as a directory of (relative) symlinks to the host's hierarchy mounts, for the
// time of one CRIU run: CRIU then mounts no hierarchy of its own (10-15 ms per dump and per
// restore on a v1 host). Empty path() when the layout does not allow it (CRIU mounts its own,
// as before). A hierarchy CRIU does not find there (images from a host with other ones) it
// mounts inside the yard: those mounts are detached when the yard goes.
class CriuYard {
 public:
  CriuYard(const cgroup::Layout* layout, const std::string& dir) {
    if (!layout || dir.empty()) return;
    auto entries = cgroup::criu_yard_entries(*layout);
    auto own = read_file("/proc/self/cgroup");
    if (entries.empty() || !own) return;
    std::set<std::string> names;
    for (const auto& [name, mount] : entries) names.insert(name);
    for (const auto& n : cgroup::criu_yard_names(*own))
      if (!names.count(n)) {
        log::debug("criu cgroup yard: no hierarchy `{}` in the layout; CRIU mounts its own", n);
        return;
      }
    std::string path = dir + "/criu-cgroups." + std::to_string(::getpid());
    if (::mkdir(path.c_str(), 0700) < 0) {
      log::debug("criu cgroup yard: mkdir `{}`: {}", path, std::strerror(errno));
      return;
    }
    path_ = path;
    // Relative links: CRIU opens them from its yard fd also in restored tasks that have their
    // own root and mount namespace already, where "/sys/fs/cgroup/..." would name the
    // container's view; "../../.." climbs the yard's own tree, the host's.
    std::string up;
    for (char c : path_)
      if (c == '/') up += "../";
    for (const auto& [name, mount] : entries)
      if (::symlink((up + mount.substr(1)).c_str(), (path_ + "/" + name).c_str()) < 0) {
        log::debug("criu cgroup yard: symlink `{}`: {}", name, std::strerror(errno));
        remove();
        return;
      }
  }
  ~CriuYard() { remove(); }
  CriuYard(const CriuYard&) = delete;
  CriuYard& operator=(const CriuYard&) = delete;
  const std::string& path() const { return path_; }

 private:
  void remove() {
    if (path_.empty()) return;
    if (auto names = list_dir(path_))
      for (const auto& n : *names) {
        std::string p = path_ + "/" + n;
        struct stat st;
        if (::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
          ::umount2(p.c_str(), MNT_DETACH);
          ::rmdir(p.c_str());
        } else {
          ::unlink(p.c_str());
        }
      }
    ::rmdir(path_.c_str());
    path_.clear();
  }
  std::string path_;
};

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
  CriuYard yard(t.layout, t.runtime_dir);
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
    // Frozen with no vfork in progress: CRIU cannot seize a parent inside vfork() (dump_freeze.hpp).
    if (!r.freeze_cgroup.empty()) {
      if (auto f = freeze_for_dump(*t.cgroups, was_frozen); !f) return std::move(f).error().context("freeze for the dump");
      if (!was_frozen) r.frozen_for_dump = frozen_for_dump = true;
    }
    // Read once the tree is frozen: nothing inside can add an interface now.
    if (auto names = net_interfaces(t.init_pid)) meta.interfaces = std::move(*names);
    r.lock_network = criu::needs_network_lock(meta.interfaces);
    return {};
  };
  auto res = criu::dump(req);
  if (!res) return std::move(res).error();
  if (auto r = fix_console_session(dir, meta.console_pts); !r) return std::move(r).error().context("console session");
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

// A user namespace with the given maps, held by a short-lived child; only its fd is kept (an
// idmapped mount needs a namespace with the mapping, not any particular one).
class MappingNamespace {
 public:
  static Result<MappingNamespace> make(const std::vector<config::IdMapEntry>& uid_map,
                                       const std::vector<config::IdMapEntry>& gid_map) {
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) < 0) return Error::from_errno(errno, "pipe");
    UniqueFd rd(pipefd[0]), wr(pipefd[1]);
    struct clone_args args = {};
    args.flags = CLONE_NEWUSER;
    args.exit_signal = SIGCHLD;
    pid_t pid = sys::clone3(&args, sizeof args);
    if (pid < 0) return Error::from_errno(errno, "clone a user namespace for the rootfs mapping");
    if (pid == 0) {
      wr.reset();
      char c;
      (void)!::read(rd.get(), &c, 1);  // until the parent closes its end
      ::_exit(0);
    }
    rd.reset();
    MappingNamespace ns;
    ns.pid_ = pid;
    ns.hold_ = std::move(wr);
    if (auto r = ns::write_idmaps(pid, uid_map, gid_map); !r) return std::move(r).error();
    return ns;
  }
  MappingNamespace() = default;
  MappingNamespace(MappingNamespace&& o) noexcept : pid_(std::exchange(o.pid_, 0)), hold_(std::move(o.hold_)) {}
  ~MappingNamespace() {
    hold_.reset();
    if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = 0;
  UniqueFd hold_;
};

// The rootfs as CRIU's `root`: for a user-namespaced container the same idmapped view a start
// gives init (CRIU bind-mounts `root`, and a bind of an idmapped mount keeps its mapping);
// attached under the runtime dir only for the restore.
class StagedRoot {
 public:
  ~StagedRoot() { release(); }
  Result<std::string> prepare(const config::ContainerConfig& cfg, const criu::ImageMeta& meta,
                              const std::string& runtime_dir) {
    if (meta.privileged || meta.uid_map.empty()) return cfg.rootfs;
    auto userns = MappingNamespace::make(meta.uid_map, meta.gid_map);
    if (!userns) return std::move(userns).error().context("idmapped rootfs");
    auto tree = open_idmapped_tree(cfg.rootfs, userns->pid());
    if (!tree) return std::move(tree).error();
    path_ = runtime_dir + "/rootfs";
    if (::mkdir(path_.c_str(), 0700) < 0 && errno != EEXIST)
      return Error::from_errno(errno, "create `" + path_ + "`");
    if (sys::move_mount(tree->get(), "", AT_FDCWD, path_.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0)
      return Error::from_errno(errno, "attach idmapped rootfs on `" + path_ + "`");
    mounted_ = true;
    return path_;
  }
  void release() {
    if (mounted_ && ::umount2(path_.c_str(), MNT_DETACH) < 0)
      log::warn("detach `{}`: {}", path_, std::strerror(errno));
    mounted_ = false;
    if (!path_.empty()) ::rmdir(path_.c_str());
    path_.clear();
  }

 private:
  std::string path_;
  bool mounted_ = false;
};

// A new pty for /dev/ttyN in the restored container's devpts, pointed to by its symlink. Made
// as the container's root (the owner of its /dev): devpts gives a new pty its opener's fsuid,
// and a host-root-owned pty or link would be out of reach of the container's root.
Result<UniqueFd> reopen_tty(pid_t init_pid, size_t n) {
  std::string dev = "/proc/" + std::to_string(init_pid) + "/root/dev/";
  AsOwnerOf owner(dev);
  UniqueFd master(::open((dev + "pts/ptmx").c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master) return Error::from_errno(errno, "open the container's ptmx");
  int unlock = 0, index = -1;
  if (::ioctl(master.get(), TIOCSPTLCK, &unlock) < 0 || ::ioctl(master.get(), TIOCGPTN, &index) < 0)
    return Error::from_errno(errno, "set up a pty");
  std::string link = dev + "tty" + std::to_string(n);
  ::unlink(link.c_str());
  if (::symlink(("pts/" + std::to_string(index)).c_str(), link.c_str()) < 0)
    return Error::from_errno(errno, "link `/dev/tty" + std::to_string(n) + "`");
  return master;
}

// The image directory and its regular files, whose owners and modes a restore changes and a
// failed restore puts back. Every file is opened relative to the directory's fd with
// O_NOFOLLOW | O_NONBLOCK and checked with fstat (the same inode as recorded, a regular file):
// a link or FIFO put in the directory is skipped, never followed, where a chown by path would
// give any host file it names to the container's root.
class ImageFiles {
 public:
  static Result<ImageFiles> open(const std::string& dir) {
    ImageFiles f;
    f.dir_ = dir;
    f.dir_fd_.reset(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!f.dir_fd_ || ::fstat(f.dir_fd_.get(), &f.dir_st_) < 0)
      return Error::from_errno(errno, "open image directory `" + dir + "`");
    auto names = list_dir(dir);
    if (!names) return std::move(names).error();
    for (const auto& n : *names) {
      UniqueFd fd(::openat(f.dir_fd_.get(), n.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
      struct stat st;
      if (fd && ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode))
        f.files_.push_back({n, st.st_dev, st.st_ino, st.st_uid, st.st_gid, st.st_mode});
    }
    return f;
  }

  // Some images are opened by restored tasks before their user namespace has its maps (as the
  // overflow uid): the directory is searchable and the images readable by anyone who gets
  // *into* it. CRIU opens them relative to the directory's fd, so a private parent directory
  // (the default place is one) still keeps them from other users.
  Result<void> give_to(uid_t uid, gid_t gid) const {
    if (::fchown(dir_fd_.get(), uid, gid) < 0 || ::fchmod(dir_fd_.get(), 0711) < 0)
      return Error::from_errno(errno, "chown `" + dir_ + "`");
    for (const auto& e : files_) {
      UniqueFd fd = reopen(e);
      if (fd && (::fchown(fd.get(), uid, gid) < 0 || ::fchmod(fd.get(), 0644) < 0))
        return Error::from_errno(errno, "chown `" + dir_ + "/" + e.name + "`");
    }
    return {};
  }

  void put_back() const {
    auto restore = [&](int fd, uid_t uid, gid_t gid, mode_t mode, const std::string& what) {
      if (::fchown(fd, uid, gid) < 0 || ::fchmod(fd, mode & 07777) < 0)
        log::warn("put back the owner of `{}`: {}", what, std::strerror(errno));
    };
    for (const auto& e : files_)
      if (UniqueFd fd = reopen(e)) restore(fd.get(), e.uid, e.gid, e.mode, dir_ + "/" + e.name);
    restore(dir_fd_.get(), dir_st_.st_uid, dir_st_.st_gid, dir_st_.st_mode, dir_);
  }

 private:
  struct Entry {
    std::string name;
    dev_t dev;
    ino_t ino;
    uid_t uid;
    gid_t gid;
    mode_t mode;
  };
  // The recorded file again, or nothing when the name now holds something else.
  UniqueFd reopen(const Entry& e) const {
    UniqueFd fd(::openat(dir_fd_.get(), e.name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    struct stat st;
    if (!fd || ::fstat(fd.get(), &st) < 0 || !S_ISREG(st.st_mode) || st.st_dev != e.dev || st.st_ino != e.ino)
      return UniqueFd();
    return fd;
  }

  std::string dir_;
  UniqueFd dir_fd_;
  struct stat dir_st_ = {};
  std::vector<Entry> files_;
};

pid_t parent_of(pid_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return 0;
  auto pos = text->rfind(')');
  if (pos == std::string::npos || pos + 4 > text->size()) return 0;
  return pid_t(std::strtol(text->c_str() + pos + 4, nullptr, 10));  // ") S PPID"
}

std::vector<pid_t> own_children() {
  std::vector<pid_t> out;
  pid_t self = ::getpid();
  if (auto entries = list_dir("/proc"))
    for (const auto& e : *entries)
      if (auto pid = parse_int(e); pid && *pid > 0 && parent_of(pid_t(*pid)) == self) out.push_back(pid_t(*pid));
  return out;
}

// Ends what a failed or timed-out CRIU run left: the restored tasks (our children through
// `rst_sibling`; the root task is the init of their pid namespace, so killing it ends the
// others) and CRIU's helpers, reparented to us (a subreaper) once CRIU is gone. Signals go
// through pidfds, and an unreaped child's pid cannot name another process meanwhile.
void end_restore_leftovers(const RestoreTarget& t) {
  // A task of a frozen (v1) cgroup dies only once thawed.
  if (t.cgroups && t.layout && is_cgroup_frozen(*t.cgroups, *t.layout)) (void)t.cgroups->set_frozen(false);
  for (int round = 0; round < 50; ++round) {
    auto children = own_children();
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

// CRIU leaves `.criu.cgyard.*` mounts in its work dir when it dies by SIGKILL mid-restore.
void detach_cgroup_yards(const std::string& work_dir) {
  auto entries = list_dir(work_dir);
  if (!entries) return;
  for (const auto& e : *entries)
    if (starts_with(e, ".criu.cgyard.")) {
      std::string p = work_dir + "/" + e;
      ::umount2(p.c_str(), MNT_DETACH);
      ::rmdir(p.c_str());
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
  auto images = ImageFiles::open(images_dir);
  if (!images) return std::move(images).error();
  StagedRoot staged;
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
    auto root = staged.prepare(cfg, *meta, t.runtime_dir);
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
  CriuYard yard(t.layout, t.runtime_dir);
  req.cgroup_yard = yard.path();

  auto res = criu::restore(req);
  if (!res) end_restore_leftovers(t);
  staged.release();
  detach_cgroup_yards(t.log_dir);
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
