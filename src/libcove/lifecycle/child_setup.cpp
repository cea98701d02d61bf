#include "lifecycle/child_setup.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/magic.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <iterator>

#include <fmt/format.h>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "base/syscalls.hpp"
#include "rootfs/dev.hpp"
#include "rootfs/masked_paths.hpp"
#include "rootfs/mount.hpp"
#include "security/exec_restrictions.hpp"

namespace cove::lifecycle {

using rootfs::Create;

namespace {

Result<void> become_root(const LaunchPlan& plan) {
  if (!plan.userns) return {};
  // The parent wrote our id maps, so 0 is mapped now; setgroups is allowed because host root
  // (not an unprivileged user) wrote gid_map.
  if (::setgroups(0, nullptr) < 0) return Error::from_errno(errno, "setgroups");
  if (::setresgid(0, 0, 0) < 0) return Error::from_errno(errno, "setresgid 0");
  if (::setresuid(0, 0, 0) < 0) return Error::from_errno(errno, "setresuid 0");
  // A uid change resets the parent-death signal: set it again.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) return Error::from_errno(errno, "set parent-death signal");
  return {};
}

// Runs before become_root(): until then our fsuid is still host root, which owns the
// directories above the rootfs (cove-create makes PATH/NAME 0711, but a user's PATH or a
// configured rootfs elsewhere may sit below 0700 directories), so path lookups there succeed. The
// returned fd is the root of the container's rootfs mount; everything after uses it, never the path.
Result<UniqueFd> enter_rootfs_mount(const LaunchPlan& plan, UniqueFd tree) {
  // Nothing we mount may propagate back to the host.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0)
    return Error::from_errno(errno, "make `/` private");
  if (tree) {
    // The parent made an idmapped clone of the rootfs (that needs host privileges).
    UniqueFd target(::open(plan.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!target) return Error::from_errno(errno, "open rootfs `" + plan.rootfs + "`");
    if (sys::move_mount(tree.get(), "", target.get(), "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
      return Error::from_errno(errno, "attach idmapped rootfs on `" + plan.rootfs + "`");
    return tree;
  }
  if (::mount(plan.rootfs.c_str(), plan.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0)
    return Error::from_errno(errno, "bind rootfs `" + plan.rootfs + "`");
  UniqueFd root(::open(plan.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Error::from_errno(errno, "open rootfs `" + plan.rootfs + "`");
  return root;
}

// Namespaced sysctls (config/ allows only those) go through the container's own /proc/sys:
// the files act on the namespaces of the process that writes them, which are the container's.
Result<void> write_sysctls(int rootfd, const std::vector<config::SysctlEntry>& sysctls) {
  for (const auto& s : sysctls) {
    std::string rel = "proc/sys/" + s.key;
    std::replace(rel.begin() + 9, rel.end(), '.', '/');
    auto fd = rootfs::open_in_root(rootfd, rel, Create::kNone);
    if (!fd) return std::move(fd).error().context("sysctl `" + s.key + "`");
    UniqueFd w(::open(rootfs::fd_path(fd->get()).c_str(), O_WRONLY | O_CLOEXEC));
    if (!w) return Error::from_errno(errno, "open sysctl `" + s.key + "`");
    if (::write(w.get(), s.value.data(), s.value.size()) < 0)
      return Error::from_errno(errno, "set sysctl `" + s.key + "` to `" + s.value + "`");
  }
  return {};
}

Result<void> mount_proc(int rootfd, config::AutoMountMode mode, const std::vector<config::SysctlEntry>& sysctls) {
  using config::AutoMountMode;
  if (mode == AutoMountMode::kNone) {
    if (!sysctls.empty()) return Error::invalid("sysctls need /proc ([mount] auto = proc:...)");
    return {};
  }
  unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  COVE_TRY(rootfs::mount_in_root(rootfd, "proc", "proc", "proc", flags, "", Create::kDir));
  // Before /proc/sys becomes read-only.
  COVE_TRY(write_sysctls(rootfd, sysctls));
  if (mode == AutoMountMode::kRo) {
    auto fd = rootfs::open_in_root(rootfd, "proc", Create::kNone);
    if (!fd) return std::move(fd).error();
    if (::mount(nullptr, rootfs::fd_path(fd->get()).c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | flags,
                nullptr) < 0)
      return Error::from_errno(errno, "remount `/proc` read-only");
  }
  if (mode == AutoMountMode::kMixed) {
    // Writable /proc for the guest's own processes, but no host-wide knobs.
    // sysrq-trigger exists only with CONFIG_MAGIC_SYSRQ.
    for (const char* rel : {"proc/sys", "proc/sysrq-trigger"}) {
      auto r = rootfs::make_readonly_in_root(rootfd, rel);
      if (!r && r.error().code() != ENOENT) return r;
    }
  }
  return {};
}

Result<void> mount_sys(int rootfd, config::AutoMountMode mode) {
  using config::AutoMountMode;
  if (mode == AutoMountMode::kNone) return {};
  unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | (mode == AutoMountMode::kRw ? 0 : MS_RDONLY);
  return rootfs::mount_in_root(rootfd, "sysfs", "sys", "sysfs", flags, "", Create::kDir);
}

bool mounts_cgroup(const LaunchPlan& plan) {
  return plan.auto_mounts.cgroup != config::AutoMountMode::kNone && plan.auto_mounts.sys != config::AutoMountMode::kNone;
}

// The container's own cgroup in each hierarchy (`dirs`, index = plan.cgroup_hierarchies'),
// cloned before become_root() like the LXCFS views, with the automount's flags set on each
// detached tree. The container sees what a cgroup mount inside its cgroup namespace would
// show (the same superblock, rooted at its cgroup, which mountinfo names `/` to it), but a
// clone does not ask the kernel for a mount: a v1 mount walks every cgroup of the host
// (cgroup_lock_and_drain_offline) and every cgroup mount scans all kernfs superblocks, one
// more per running container's sysfs (bench/README.md, 2026-12-06). Without a cgroup
// namespace of its own, a mount would show the hierarchy from the monitor's namespace's root:
// so does the clone of the monitor's mount of it.
Result<std::vector<UniqueFd>> clone_cgroup_trees(const LaunchPlan& plan, const std::vector<std::string>& dirs) {
  std::vector<UniqueFd> out;
  if (!mounts_cgroup(plan)) return out;
  const auto& hs = plan.cgroup_hierarchies;
  if (dirs.size() != hs.size())
    return Error(EINVAL, fmt::format("{} cgroup directories for {} hierarchies", dirs.size(), hs.size()));
  struct mount_attr attr = {};
  attr.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC |
                  (plan.auto_mounts.cgroup == config::AutoMountMode::kRo ? MOUNT_ATTR_RDONLY : 0);
  for (size_t i = 0; i < hs.size(); ++i) {
    const std::string& dir = plan.new_cgroupns ? dirs[i] : hs[i].mount_point;
    auto tree = rootfs::clone_tree(dir, false);
    if (!tree) return std::move(tree).error();
    struct statfs fs;
    if (::fstatfs(tree->get(), &fs) < 0) return Error::from_errno(errno, "statfs `" + dir + "`");
    if (fs.f_type != (hs[i].v2 ? CGROUP2_SUPER_MAGIC : CGROUP_SUPER_MAGIC))
      return Error(EINVAL, "`" + dir + "` is not on the cgroup hierarchy at `" + hs[i].mount_point + "`");
    if (sys::mount_setattr(tree->get(), "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
      return Error::from_errno(errno, "set the flags of the clone of `" + dir + "`");
    out.push_back(std::move(*tree));
  }
  return out;
}

// The trees of clone_cgroup_trees in place: the cgroup2 tree as /sys/fs/cgroup on a pure v2
// host; else a tmpfs there holding one per hierarchy, named as on the host.
Result<void> mount_cgroup(int rootfd, const LaunchPlan& plan, std::vector<UniqueFd> trees) {
  if (!mounts_cgroup(plan)) return {};
  const auto& hs = plan.cgroup_hierarchies;
  if (hs.size() == 1 && hs[0].v2)
    return rootfs::attach_in_root(rootfd, std::move(trees[0]), "sys/fs/cgroup", 0, Create::kNone, "cgroup2");
  COVE_TRY(rootfs::mount_in_root(rootfd, "cgroup", "sys/fs/cgroup", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                 "mode=755,size=64k", Create::kNone));
  auto dir = rootfs::FreshDir::open(rootfd, "sys/fs/cgroup");
  if (!dir) return std::move(dir).error();
  for (size_t i = 0; i < hs.size(); ++i) {
    std::string name = hs[i].v2 ? std::string("unified") : basename_of(hs[i].mount_point);
    COVE_TRY(dir->attach(std::move(trees[i]), name, 0, Create::kDir, hs[i].mount_point));
  }
  // The tmpfs itself, not a bind of it: a bind would leave the hierarchies out.
  if (plan.auto_mounts.cgroup == config::AutoMountMode::kRo)
    COVE_TRY(rootfs::remount_in_root(rootfd, "sys/fs/cgroup", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC));
  return {};
}

// The LXCFS views (index = view index), cloned before become_root(): the LXCFS directory may
// sit below directories only host root can search (a test's private LXCFS), and a detached
// clone reaches the container's tree after the user namespace's root took over. LXCFS serves
// any user (allow_other), so reads from inside work.
Result<std::vector<UniqueFd>> clone_lxcfs_views(const LaunchPlan& plan) {
  std::vector<UniqueFd> out;
  for (const auto& v : plan.lxcfs_views) {
    auto tree = rootfs::clone_tree(v.source, false);
    if (!tree) return std::move(tree).error().context("LXCFS view for `/" + v.target + "`");
    // Still FUSE: had LXCFS gone since the monitor looked, this would be a file of the
    // directory underneath, not a view.
    struct statfs fs;
    if (::fstatfs(tree->get(), &fs) < 0) return Error::from_errno(errno, "statfs `" + v.source + "`");
    if (fs.f_type != FUSE_SUPER_MAGIC) return Error(ENOTCONN, "`" + v.source + "` is no longer on LXCFS");
    out.push_back(std::move(*tree));
  }
  return out;
}

// Read-only binds of the LXCFS views over the container's files, after proc and sys are mounted
// and before the masks; a file the container's /proc or /sys lacks is skipped. Made in the
// first half, they are locked with /proc in a user-namespaced container: its root cannot
// unmount one to read the host's values underneath.
Result<void> bind_lxcfs_views(int rootfd, const LaunchPlan& plan, std::vector<UniqueFd> trees) {
  constexpr unsigned long kFlags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  for (size_t i = 0; i < plan.lxcfs_views.size(); ++i) {
    const auto& v = plan.lxcfs_views[i];
    if (auto fd = rootfs::open_in_root(rootfd, v.target, Create::kNone); !fd) {
      if (fd.error().code() == ENOENT) continue;
      return std::move(fd).error().context("LXCFS view for `/" + v.target + "`");
    }
    COVE_TRY(rootfs::attach_in_root(rootfd, std::move(trees[i]), v.target, kFlags, Create::kNone, v.source));
  }
  return {};
}

// The sources of the `[mount]` bind entries, cloned while the host's paths are in reach (index
// = entry index; empty for other entries and for optional binds whose source is missing). The
// idmapped ones the parent cloned and idmapped (`idmapped`, in entry order).
Result<std::vector<UniqueFd>> clone_entry_sources(const LaunchPlan& plan, std::vector<UniqueFd> idmapped) {
  std::vector<UniqueFd> out(plan.mounts.size());
  size_t next_idmapped = 0;
  for (size_t i = 0; i < plan.mounts.size(); ++i) {
    const auto& m = plan.mounts[i];
    if (!(m.flags & MS_BIND)) continue;
    if (m.idmapped()) {
      out[i] = std::move(idmapped.at(next_idmapped++));
      continue;
    }
    auto tree = rootfs::clone_tree(m.source, (m.flags & MS_REC) != 0);
    if (tree) {
      out[i] = std::move(*tree);
    } else if (!m.optional) {
      return std::move(tree).error().context(m.where.empty() ? "mount entry" : "mount entry at " + m.where);
    }
  }
  return out;
}

Result<void> mount_entries(int rootfd, const LaunchPlan& plan, std::vector<UniqueFd> sources) {
  for (size_t i = 0; i < plan.mounts.size(); ++i) {
    const auto& m = plan.mounts[i];
    Create create = m.create_dir ? Create::kDir : m.create_file ? Create::kFile : Create::kNone;
    Result<void> r;
    if (m.flags & MS_BIND) {
      if (!sources[i]) continue;  // optional, source missing
      r = rootfs::attach_in_root(rootfd, std::move(sources[i]), m.target, m.flags & ~(MS_BIND | MS_REC), create,
                                 m.source);
    } else {
      r = rootfs::mount_in_root(rootfd, m.source, m.target, m.fstype.c_str(), m.flags, m.data, create);
    }
    if (r && m.propagation) {
      auto fd = rootfs::open_in_root(rootfd, m.target, Create::kNone);
      if (!fd) r = std::move(fd).error();
      else if (::mount(nullptr, rootfs::fd_path(fd->get()).c_str(), nullptr, m.propagation, nullptr) < 0)
        r = Error::from_errno(errno, "set propagation of `" + m.target + "`");
    }
    if (!r) {
      if (m.optional) continue;
      return std::move(r).error().context(m.where.empty() ? "mount entry" : "mount entry at " + m.where);
    }
  }
  return {};
}

Result<void> bring_up_loopback() {
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) return Error::from_errno(errno, "socket for `lo`");
  struct ifreq ifr = {};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) < 0) return Error::from_errno(errno, "get flags of `lo`");
  ifr.ifr_flags |= IFF_UP;
  if (::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) < 0) return Error::from_errno(errno, "bring up `lo`");
  return {};
}

Result<void> pivot_into(int rootfd) {
  if (::fchdir(rootfd) < 0) return Error::from_errno(errno, "chdir to rootfs");
  // pivot_root(".", ".") stacks the old root on top of the new one; detaching it then leaves
  // the new root alone, with no directory needed for the old root inside the container.
  if (sys::pivot_root(".", ".") < 0) return Error::from_errno(errno, "pivot_root");
  if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) < 0)
    return Error::from_errno(errno, "make old root a slave");
  if (::umount2(".", MNT_DETACH) < 0) return Error::from_errno(errno, "detach old root");
  if (::chdir("/") < 0) return Error::from_errno(errno, "chdir to `/`");
  return {};
}

// What cove takes from the host for the second half of the tree: after pivot_root (and, in a
// user namespace, in the locked copy of the mount namespace) host paths are out of reach.
struct HostTrees {
  std::vector<UniqueFd> dev_nodes;
  std::vector<UniqueFd> entry_sources;
};

// The first half, before pivot_root: everything that guards the host (proc with its read-only
// /proc/sys, sys, the cgroup tree, the LXCFS views, masks, read-only paths). In a user-namespaced container the
// parent locks these mounts next (see ns/locked_mounts.hpp).
Result<HostTrees> prepare_guarded_mounts(const LaunchPlan& plan, const UniqueFd& rootfd, std::vector<UniqueFd> cgroup_trees,
                                         std::vector<UniqueFd> lxcfs_trees, std::vector<UniqueFd> idmapped_binds) {
  if (auto r = mount_proc(rootfd.get(), plan.auto_mounts.proc, plan.sysctls); !r)
    return std::move(r).error().context("mount proc");
  if (auto r = mount_sys(rootfd.get(), plan.auto_mounts.sys); !r) return std::move(r).error().context("mount sys");
  if (auto r = mount_cgroup(rootfd.get(), plan, std::move(cgroup_trees)); !r)
    return std::move(r).error().context("mount cgroup");
  if (auto r = bind_lxcfs_views(rootfd.get(), plan, std::move(lxcfs_trees)); !r) return std::move(r).error();
  if (auto r = rootfs::mask_paths(rootfd.get(), plan.masked_paths, plan.mount_context); !r)
    return std::move(r).error().context("mask paths");
  if (auto r = rootfs::make_paths_readonly(rootfd.get(), plan.readonly_paths); !r)
    return std::move(r).error().context("read-only paths");
  HostTrees trees;
  auto nodes = rootfs::clone_host_nodes();
  if (!nodes) return std::move(nodes).error().context("prepare /dev");
  trees.dev_nodes = std::move(*nodes);
  auto sources = clone_entry_sources(plan, std::move(idmapped_binds));
  if (!sources) return std::move(sources).error();
  trees.entry_sources = std::move(*sources);
  if (plan.set_hostname && ::sethostname(plan.hostname.data(), plan.hostname.size()) < 0)
    return Error::from_errno(errno, "set hostname `" + plan.hostname + "`");
  if (plan.set_hostname && !plan.domainname.empty() &&
      ::setdomainname(plan.domainname.data(), plan.domainname.size()) < 0)
    return Error::from_errno(errno, "set domain name `" + plan.domainname + "`");
  if (plan.new_netns) COVE_TRY(bring_up_loopback());
  COVE_TRY(pivot_into(rootfd.get()));
  return trees;
}

// The NICs' name servers, written as the container's root inside its own mount namespace; a
// symlink there (systemd-resolved's stub) is the distribution's choice and is left alone.
Result<void> write_resolv_conf(int root, const LaunchPlan& plan) {
  if (plan.resolv_conf.empty()) return {};
  struct open_how how = {};
  how.flags = O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC;
  how.mode = 0644;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  UniqueFd fd(sys::openat2(root, "etc/resolv.conf", &how, sizeof how));
  if (!fd && (errno == ELOOP || errno == ENOENT)) return {};  // a symlink, or no /etc
  if (!fd) return Error::from_errno(errno, "open `/etc/resolv.conf`");
  if (::write(fd.get(), plan.resolv_conf.data(), plan.resolv_conf.size()) != static_cast<ssize_t>(plan.resolv_conf.size()))
    return Error::from_errno(errno, "write `/etc/resolv.conf`");
  return {};
}

// An OCI bundle's `linux.rootfsPropagation` and `root.readonly`, once every mount is made.
Result<void> finish_root(const LaunchPlan& plan) {
  if (plan.root_propagation && ::mount(nullptr, "/", nullptr, plan.root_propagation, nullptr) < 0)
    return Error::from_errno(errno, "set propagation of `/`");
  if (plan.readonly_root && ::mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) < 0)
    return Error::from_errno(errno, "remount `/` read-only");
  return {};
}

// The second half, in the final mount namespace: /dev and the `[mount]` entries. They are the
// container's own business (nothing of the host is under them but the bound sources), stay
// unlocked, and CRIU needs /dev's tmpfs unlocked to dump its content without the node binds.
// An entry may cover a masked path (the admin asked for it) but cannot uncover one.
Result<rootfs::DevPtys> prepare_container_mounts(const LaunchPlan& plan, HostTrees trees) {
  UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Error::from_errno(errno, "open `/`");
  auto ptys = rootfs::setup_dev(root.get(), plan.ttys, plan.console, std::move(trees.dev_nodes), plan.mount_context);
  if (!ptys) return std::move(ptys).error().context("prepare /dev");
  COVE_TRY(rootfs::make_device_nodes(root.get(), plan.device_nodes));
  COVE_TRY(mount_entries(root.get(), plan, std::move(trees.entry_sources)));
  COVE_TRY(write_resolv_conf(root.get(), plan));
  COVE_TRY(finish_root(plan));
  return ptys;
}

Result<void> setup_stdio(const LaunchPlan& plan) {
  if (::setsid() < 0) return Error::from_errno(errno, "setsid");
  if (plan.inherit_stdio) return {};
  // The console is init's stdio *and* its controlling terminal. CRIU records a tty's session
  // and foreground group once, from the first process of the tree that holds it (init): if
  // another session (a console shell) owned the console and held /dev/tty, the dump would fail
  // with "ctty inheritance detected". So the console belongs to init's session, and a console
  // shell runs without job control (use a tty for that), as the busybox template says.
  int fd = ::open("/dev/console", O_RDWR | O_NOCTTY);
  if (fd < 0) return Error::from_errno(errno, "open `/dev/console`");
  for (int i = 0; i < 3; ++i)
    if (::dup2(fd, i) < 0) return Error::from_errno(errno, "dup console to stdio");
  if (fd > 2) ::close(fd);
  if (::ioctl(0, TIOCSCTTY, 0) < 0) return Error::from_errno(errno, "make the console init's controlling terminal");
  return {};
}

Result<void> reset_signals() {
  sigset_t all;
  sigemptyset(&all);
  if (::sigprocmask(SIG_SETMASK, &all, nullptr) < 0) return Error::from_errno(errno, "reset signal mask");
  for (int s = 1; s < NSIG; ++s) {
    if (s == SIGKILL || s == SIGSTOP) continue;
    ::signal(s, SIG_DFL);
  }
  return {};
}

Result<void> exec_init(const LaunchPlan& plan);

// What `start` writes through the start gate (see LaunchPlan::start_gate_fd), read to its end
// (at most 1 MiB). Nothing at all: the start was abandoned.
Result<std::string> wait_at_gate(int gate) {
  std::string got;
  for (;;) {
    struct pollfd p = {gate, POLLIN, 0};
    if (::poll(&p, 1, -1) < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno(errno, "wait at the start gate");
    }
    char buf[4096];
    ssize_t n = ::read(gate, buf, sizeof buf);
    if (n > 0) {
      got.append(buf, static_cast<size_t>(n));
      if (got.size() > (1 << 20)) return Error(EMSGSIZE, "too much through the start gate");
      continue;
    }
    if (n == 0 && !got.empty()) return got;
    if (n == 0) return Error(ECANCELED, "the start gate closed without a start");
    if (errno != EAGAIN && errno != EINTR) return Error::from_errno(errno, "read the start gate");
  }
}

Result<void> run_gate_hooks(const LaunchPlan& plan, const std::string& state) {
  for (size_t i = 0; i < plan.gate_hooks.size(); ++i) {
    ProgramRequest req = plan.gate_hooks[i];
    req.input = state;
    auto r = run_program(req);
    if (!r) return std::move(r).error().context("startContainer hook " + std::to_string(i));
    if (r->status != 0)
      return Error(EIO, "startContainer hook " + std::to_string(i) + " `" + req.path + "` " +
                            (r->timed_out ? "timed out" : "exited with status " + std::to_string(r->status)) +
                            (r->err.empty() ? "" : ": " + std::string(trim(r->err))));
  }
  return {};
}

// After the parent left nobody reads the setup channel: an error goes to init's stderr (the
// engine's log of the container), and init exits 127 as a failed exec would.
[[noreturn]] void exec_after_gate(const LaunchPlan& plan) {
  auto state = wait_at_gate(plan.start_gate_fd);
  ::close(plan.start_gate_fd);
  Result<void> r = state ? run_gate_hooks(plan, *state) : Result<void>(state.error());
  if (r) r = exec_init(plan);
  std::string msg = "cove-oci: " + r.error().message() + "\n";
  (void)!::write(2, msg.data(), msg.size());
  ::_exit(r.error().code() == ECANCELED ? 0 : 127);
}

// What the parent sends with kParentConfigured: the rootfs tree (when it made one), then one
// tree per idmapped `[mount]` bind, in entry order (start_sequence.cpp, configure_child).
struct ParentTrees {
  UniqueFd rootfs;
  std::vector<UniqueFd> idmapped_binds;
};

Result<ParentTrees> parent_trees(const LaunchPlan& plan, std::vector<UniqueFd> fds) {
  size_t binds = static_cast<size_t>(std::count_if(plan.mounts.begin(), plan.mounts.end(),
                                                   [](const config::MountEntry& m) { return m.idmapped(); }));
  if (fds.size() != binds && fds.size() != binds + 1)
    return Error(EPROTO, fmt::format("the parent sent {} mount trees for {} idmapped binds", fds.size(), binds));
  ParentTrees out;
  auto it = fds.begin();
  if (fds.size() == binds + 1) out.rootfs = std::move(*it++);
  out.idmapped_binds.assign(std::make_move_iterator(it), std::make_move_iterator(fds.end()));
  return out;
}

// The time namespace unshared at the start, its offsets written by the parent since: entered.
Result<void> enter_offset_time_ns(const LaunchPlan& plan) {
  if (plan.time_offsets.empty()) return {};
  UniqueFd ns(::open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC));
  if (!ns) return Error::from_errno(errno, "open `/proc/self/ns/time_for_children`");
  if (::setns(ns.get(), CLONE_NEWTIME) < 0) return Error::from_errno(errno, "enter the time namespace");
  return {};
}

Result<void> child_main(const LaunchPlan& plan, const std::vector<std::string>& cgroup_dirs, SetupChannel& ch) {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) return Error::from_errno(errno, "set parent-death signal");
  if (!plan.time_offsets.empty() && ::unshare(CLONE_NEWTIME) < 0)
    return Error::from_errno(errno, "unshare time namespace");
  COVE_TRY(ch.send(Phase::kChildStarted));
  auto fds = ch.expect(Phase::kParentConfigured);
  if (!fds) return std::move(fds).error();
  auto from_parent = parent_trees(plan, std::move(*fds));
  if (!from_parent) return std::move(from_parent).error();
  COVE_TRY(enter_offset_time_ns(plan));
  auto rootfd = enter_rootfs_mount(plan, std::move(from_parent->rootfs));
  if (!rootfd) return std::move(rootfd).error().context("prepare rootfs");
  auto cgroup_trees = clone_cgroup_trees(plan, cgroup_dirs);
  if (!cgroup_trees) return std::move(cgroup_trees).error().context("prepare the cgroup mounts");
  auto lxcfs_trees = clone_lxcfs_views(plan);
  if (!lxcfs_trees) return std::move(lxcfs_trees).error().context("prepare rootfs");
  COVE_TRY(become_root(plan));
  // Unshared only now that the parent placed us in our cgroups: the namespace's root is then
  // the container's own cgroup, not the monitor's.
  if (plan.new_cgroupns && ::unshare(CLONE_NEWCGROUP) < 0) return Error::from_errno(errno, "unshare cgroup namespace");
  auto trees = prepare_guarded_mounts(plan, *rootfd, std::move(*cgroup_trees), std::move(*lxcfs_trees),
                                      std::move(from_parent->idmapped_binds));
  if (!trees) return std::move(trees).error().context("prepare rootfs");
  rootfd->reset();
  COVE_TRY(ch.send(Phase::kRootfsReady));
  auto locked = ch.expect(Phase::kMountsLocked);
  if (!locked) return std::move(locked).error();
  // The parent's locked copy of our mount namespace (user-namespaced containers): from here
  // on, the mounts made so far cannot be unmounted or made writable by the container.
  if (!locked->empty() && ::setns((*locked)[0].get(), CLONE_NEWNS) < 0)
    return Error::from_errno(errno, "enter the locked mount namespace");
  locked->clear();
  auto ptys = prepare_container_mounts(plan, std::move(*trees));
  if (!ptys) return std::move(ptys).error().context("prepare rootfs");
  std::vector<int> masters;
  if (ptys->console_master) masters.push_back(ptys->console_master.get());
  for (const auto& m : ptys->tty_masters) masters.push_back(m.get());
  COVE_TRY(ch.send(Phase::kDevReady, masters));
  ptys->console_master.reset();
  ptys->tty_masters.clear();
  COVE_TRY(ch.expect(Phase::kGo));
  COVE_TRY(setup_stdio(plan));
  if (::chdir(plan.cwd.c_str()) < 0) return Error::from_errno(errno, "chdir to `" + plan.cwd + "`");
  COVE_TRY(reset_signals());
  // Only stdio crosses into the container: an fd the monitor inherited from whoever started it
  // would leak a host file into the container (and CRIU cannot dump a file of a host mount).
  // Close-on-exec rather than close: the setup channel must still see the exec.
  if (::close_range(3 + plan.preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
    return Error::from_errno(errno, "close inherited fds");
  if (plan.start_gate_fd >= 0) {
    // The parent may exit from here on: init must outlive it.
    if (::prctl(PR_SET_PDEATHSIG, 0) < 0) return Error::from_errno(errno, "clear parent-death signal");
    COVE_TRY(ch.send(Phase::kAtStartGate));
    ch.close();
    exec_after_gate(plan);  // never returns
  }
  return exec_init(plan);
}

std::string path_of(const std::vector<std::string>& env) {
  for (const auto& e : env)
    if (starts_with(e, "PATH=")) return e.substr(5);
  return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}

// The last steps: restrictions, then execve. Returns only on failure.
Result<void> exec_init(const LaunchPlan& plan) {
  std::vector<char*> argv, envp;
  for (const auto& a : plan.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : plan.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  // The last step before execve: after it the process holds only what the container may.
  if (auto r = security::apply_exec_restrictions(plan.exec); !r) return std::move(r).error().context("restrict init");
  if (plan.argv[0].find('/') != std::string::npos) {
    ::execve(argv[0], argv.data(), envp.data());
    return Error::from_errno(errno, "exec `" + plan.argv[0] + "`");
  }
  // A bare name (an OCI process's `sh`) is looked up in the PATH of the process's own
  // environment, inside the container, as execvp would with that environment.
  int first_error = ENOENT;
  for (const auto& dir : split(path_of(plan.env), ':')) {
    std::string file = (dir.empty() ? "." : dir) + "/" + plan.argv[0];
    ::execve(file.c_str(), argv.data(), envp.data());
    if (errno != ENOENT && errno != ENOTDIR && first_error == ENOENT) first_error = errno;
  }
  return Error::from_errno(first_error, "exec `" + plan.argv[0] + "` (looked up in PATH)");
}

}  // namespace

void run_child(const LaunchPlan& plan, const std::vector<std::string>& cgroup_dirs, SetupChannel channel) noexcept {
  try {
    auto r = child_main(plan, cgroup_dirs, channel);
    // Only reached on failure (success ends in execve).
    if (!r) (void)channel.send_error(r.error());
  } catch (...) {
    (void)channel.send_error(Error(EIO, "unexpected exception in container setup"));
  }
  ::_exit(127);
}

}  // namespace cove::lifecycle
