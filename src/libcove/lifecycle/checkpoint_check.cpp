// `cove-checkpoint --check`: what a dump of the running container would meet, read from /proc
// without stopping anything. Each finding names the area (criu, mounts, devices, console,
// sessions, sockets, files) and whether it blocks a checkpoint or is handled by cove.
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstdlib>
#include <optional>
#include <map>
#include <set>
#include <sstream>

#include "base/fs.hpp"
#include "base/pty.hpp"
#include "base/strings.hpp"
#include "base/syscalls.hpp"
#include "base/unique_fd.hpp"
#include "criu/features.hpp"
#include "lifecycle/checkpoint.hpp"
#include "lifecycle/checkpoint_common.hpp"
#include "lifecycle/proc_scan.hpp"
#include "rootfs/dev.hpp"
#include "rootfs/lxcfs.hpp"

namespace cove::lifecycle {

namespace {

// Filesystems the container gets from cove (or makes inside) that CRIU restores by itself.
const std::set<std::string> kVirtualFs = {"proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2"};
// Filesystems CRIU cannot dump at all.
const std::set<std::string> kUnsupportedFs = {"nfs",      "nfs4",      "cifs",    "smb3",    "9p",     "autofs",
                                              "hugetlbfs", "debugfs",  "tracefs", "configfs", "bpf",   "pstore",
                                              "fusectl",  "securityfs", "binfmt_misc", "ramfs", "efivarfs"};

std::vector<pid_t> descendants(pid_t root) {
  std::vector<pid_t> out = {root};
  for (size_t i = 0; i < out.size(); ++i) {
    std::string base = "/proc/" + std::to_string(out[i]) + "/task";
    auto tasks = list_dir(base);
    if (!tasks) continue;
    for (const auto& t : *tasks)
      if (auto text = read_file(base + "/" + t + "/children"))
        for (const auto& w : split_ws(*text))
          if (auto v = parse_int(w)) out.push_back(pid_t(*v));
  }
  return out;
}

// Socket inodes of the container's network namespace, by kind, from /proc/PID/net/*.
std::map<uint64_t, std::string> netns_sockets(pid_t pid) {
  std::map<uint64_t, std::string> out;
  std::string base = "/proc/" + std::to_string(pid) + "/net/";
  for (const char* kind : {"tcp", "tcp6", "udp", "udp6", "raw", "raw6"}) {
    auto text = read_file(base + kind);
    if (!text) continue;
    std::istringstream in(*text);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      auto f = split_ws(line);
      if (f.size() < 10) continue;
      std::string state = f[3];
      auto ino = parse_uint(f[9]);
      if (!ino) continue;
      std::string k = kind;
      if (starts_with(k, "tcp")) k += state == "01" ? " established" : state == "0A" ? " listening" : " state " + state;
      out[*ino] = k;
    }
  }
  for (const char* kind : {"unix", "packet", "netlink"}) {
    auto text = read_file(base + kind);
    if (!text) continue;
    std::istringstream in(*text);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      auto f = split_ws(line);
      // unix: inode is field 7; packet: field 9 (last); netlink: last field.
      size_t idx = std::string(kind) == "unix" ? 6 : f.size() - 1;
      if (f.size() <= idx) continue;
      if (auto ino = parse_uint(f[idx])) out[*ino] = kind;
    }
  }
  return out;
}

// A process's name as the container chose it, safe for the admin's terminal.
std::string comm_of(int64_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/comm");
  return text ? printable(trim(*text)) : "?";
}

// "process PID (`comm`)", with the systemd unit it runs in when it runs in one.
std::string process_name(pid_t pid) {
  std::string out = "process " + std::to_string(pid) + " (`" + comm_of(pid) + "`";
  if (auto text = read_file("/proc/" + std::to_string(pid) + "/cgroup"))
    if (auto unit = systemd_unit_of(*text); !unit.empty()) out += " of `" + printable(unit) + "`";
  return out + ")";
}

// The inode of a namespace link of /proc/PID/ns, 0 when it cannot be read.
ino_t ns_inode(pid_t pid, const char* ns) {
  struct stat st;
  return ::stat(("/proc/" + std::to_string(pid) + "/ns/" + ns).c_str(), &st) == 0 ? st.st_ino : 0;
}

// Every process of the container's pid namespace that is not below init (a command still
// running under cove-attach, a process entered with nsenter): CRIU dumps init's tree only.
std::vector<pid_t> outside_init_tree(pid_t init_pid, const std::set<pid_t>& tree) {
  std::vector<pid_t> out;
  struct stat ns;
  if (::stat(("/proc/" + std::to_string(init_pid) + "/ns/pid").c_str(), &ns) < 0) return out;
  auto entries = list_dir("/proc");
  if (!entries) return out;
  for (const auto& e : *entries) {
    auto v = parse_int(e);
    if (!v || tree.count(pid_t(*v))) continue;
    struct stat st;
    if (::stat(("/proc/" + e + "/ns/pid").c_str(), &st) == 0 && st.st_ino == ns.st_ino && st.st_dev == ns.st_dev)
      out.push_back(pid_t(*v));
  }
  return out;
}


// What the checks read, gathered once (the mounts by the check that reads them, init's tree and
// the devpts on first use), and what they find.
class Scan {
 public:
  Scan(const config::ContainerConfig& cfg, pid_t init_pid, const std::vector<std::string>& payload_cgroups)
      : cfg(cfg), init_pid(init_pid), payload_cgroups(payload_cgroups) {}
  const config::ContainerConfig& cfg;
  const pid_t init_pid;
  const std::vector<std::string>& payload_cgroups;  // as cove recorded them (host paths)
  std::vector<MountInfo> mounts;
  std::vector<CheckFinding> findings;
  bool cove_criu = false;  // CRIU is cove's build (scripts/criu-patches), not a stock one

  void add(const char* area, std::string what, bool blocking) { findings.push_back({area, std::move(what), blocking}); }
  // Init and its descendants.
  const std::vector<pid_t>& tree() {
    if (!tree_) tree_ = descendants(init_pid);
    return *tree_;
  }
  // The container's devpts, if its /dev/pts/ptmx can be read.
  std::optional<dev_t> devpts() {
    if (!devpts_) {
      struct stat st;
      std::string ptmx = "/proc/" + std::to_string(init_pid) + "/root/dev/pts/ptmx";
      devpts_ = ::stat(ptmx.c_str(), &st) == 0 ? std::optional<dev_t>(st.st_dev) : std::nullopt;
    }
    return *devpts_;
  }

 private:
  std::optional<std::vector<pid_t>> tree_;
  std::optional<std::optional<dev_t>> devpts_;
};

// CRIU refuses a dumped process whose session leader has no pid in the container's pid
// namespace ("A session leader of N(M) is outside of its pid namespace"), and restores groups
// only from leaders it dumped. Such processes come from outside: an nsenter, or a cove-attach
// of a version that did not make the command a session leader.
Result<void> check_session_leaders(Scan& s) {
  auto init_text = read_file("/proc/" + std::to_string(s.init_pid) + "/status");
  if (!init_text) return {};
  auto init_ids = parse_namespaced_ids(*init_text);
  if (init_ids.pid.empty()) return {};
  size_t level = init_ids.pid.size() - 1;  // the container's pid namespace, as a column
  for (pid_t p : s.tree()) {
    auto text = read_file("/proc/" + std::to_string(p) + "/status");
    if (!text) continue;
    auto ids = parse_namespaced_ids(*text);
    if (ids.pid.size() <= level || ids.sid.size() <= level || ids.pgid.size() <= level) continue;
    std::vector<std::string> why;
    if (ids.sid[level] == 0)
      why.push_back("its session leader (host pid " + std::to_string(ids.sid[0]) + ", `" + comm_of(ids.sid[0]) + "`)");
    if (ids.pgid[level] == 0)
      why.push_back("its process group leader (host pid " + std::to_string(ids.pgid[0]) + ", `" +
                    comm_of(ids.pgid[0]) + "`)");
    if (why.empty()) continue;
    s.add("sessions",
          "process " + std::to_string(p) + " (`" + comm_of(p) + "`, pid " + std::to_string(ids.pid[level]) +
            " inside): " + join(why, " and ") + (why.size() > 1 ? " are" : " is") +
            " outside the container's pid namespace; CRIU cannot dump it (end it, or start such processes "
            "with `setsid` or through cove-attach, which makes each command a session leader inside)",
          true);
  }
  return {};
}

// CRIU dumps init's tree only.
Result<void> check_outside_init_tree(Scan& s) {
  std::set<pid_t> in_tree(s.tree().begin(), s.tree().end());
  for (pid_t p : outside_init_tree(s.init_pid, in_tree))
    s.add("sessions",
          "process " + std::to_string(p) + " (`" + comm_of(p) +
              "`) is in the container's pid namespace but not below its init (a running cove-attach command or an "
              "nsenter): it is not part of the checkpoint and will be missing after a restore",
          false);
  return {};
}

// The dump freezes the container's payload cgroups (as cove recorded them at the start) and
// CRIU seizes init's tree: a process of the tree outside them (entered with nsenter, which
// moves no cgroup) is not frozen, and CRIU fails on it ("Unseizable non-zombie"). Processes in
// cgroups below the payload cgroup (a systemd guest's init.scope and system.slice/*) are inside.
Result<void> check_cgroups(Scan& s) {
  for (const auto& dir : s.payload_cgroups) {
    auto members = cgroup::ContainerCgroups::from_recorded({dir}, {}).payload_pids();
    std::set<pid_t> inside(members.begin(), members.end());
    if (inside.empty()) continue;  // a hierarchy the container has no processes in (or gone)
    for (pid_t p : s.tree()) {
      if (inside.count(p) || !path_exists("/proc/" + std::to_string(p))) continue;
      s.add("cgroups",
            process_name(p) + " is not in the container's cgroup `" + dir +
                "` or below it: the dump freezes the container's cgroups only, so CRIU cannot seize it (move it "
                "into the container's cgroup or end it)",
            true);
    }
  }
  return {};
}

// Namespaces CRIU cannot dump when a process of the tree has one of its own, and the systemd
// setting that makes one for a service.
struct NestedNs {
  const char* ns;
  const char* made_by;
};
constexpr NestedNs kNestedNs[] = {
    {"uts", "systemd's ProtectHostname=yes"},
    {"ipc", "systemd's PrivateIPC=yes"},
    {"user", "systemd's PrivateUsers=yes"},
    {"pid", "systemd's PrivatePIDs=yes, or a container inside"},
    {"cgroup", "systemd's ProtectControlGroups=private"},
    {"time", "unshare --time"},
};

// A process of the tree in a namespace of its own (a service's sandboxing): CRIU dumps nested
// mount and network namespaces, but not these ("Can't dump nested uts namespace").
Result<void> check_nested_namespaces(Scan& s) {
  for (const auto& n : kNestedNs) {
    ino_t init_ns = ns_inode(s.init_pid, n.ns);
    if (init_ns == 0) continue;  // not on this kernel
    for (pid_t p : s.tree()) {
      ino_t mine = ns_inode(p, n.ns);
      if (mine == 0 || mine == init_ns) continue;
      s.add("namespaces",
            process_name(p) + " has its own " + n.ns + " namespace (" + n.made_by + "): CRIU cannot dump a nested " +
                n.ns + " namespace (a systemd guest needs a drop-in turning that setting off, as cove's Debian template "
                "ships)",
            true);
    }
  }
  return {};
}

Result<void> check_criu(Scan& s) {
  if (!criu::available()) {
    s.add("criu", criu::unavailable_error().message(), true);
  } else if (auto info = criu::probe(); !info) {
    s.add("criu", info.error().message(), true);
  } else {
    s.cove_criu = info->cove_build();
    s.add("criu", "CRIU " + info->version + " at `" + info->path + "`" +
                      (info->mem_track ? "" : "; no memory change tracking here (no iterative pre-dump)"),
          false);
  }
  return {};
}

// The real uid of a process (as the host sees it), -1 when unreadable.
int64_t uid_of(pid_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/status");
  if (!text) return -1;
  auto pos = text->find("\nUid:");
  if (pos == std::string::npos) return -1;
  auto fields = split_ws(std::string_view(*text).substr(pos + 5, 40));
  return fields.empty() ? -1 : parse_int(fields[0]).value_or(-1);
}

// A stock CRIU reads each task's rlimits with prlimit64(), which for a task of another uid
// needs CAP_SYS_RESOURCE in the task's user namespace. A privileged container shares the
// host's, where this host may not give it (a user-namespaced container's root owns its
// namespace, so there it never fails): the dump fails "Can't get rlimit 0". cove's CRIU build
// reads /proc/PID/limits instead (scripts/criu-patches/0009).
Result<void> check_rlimits(Scan& s) {
  if (!s.cfg.privileged || s.cove_criu || has_cap_sys_resource()) return {};
  for (pid_t p : s.tree()) {
    int64_t uid = uid_of(p);
    if (uid <= 0) continue;
    s.add("criu",
          process_name(p) + " runs as uid " + std::to_string(uid) +
              " in a privileged container, and this host does not give CAP_SYS_RESOURCE: a stock CRIU cannot "
              "read its rlimits (\"Can't get rlimit\"); install cove's CRIU build (scripts/install-criu) or make the "
              "container unprivileged",
          true);
    break;  // one is enough to say it
  }
  return {};
}

Result<void> read_mounts(Scan& s) {
  auto mounts = read_mountinfo(s.init_pid);
  if (!mounts) return std::move(mounts).error().context("cannot read the container's mounts");
  s.mounts = std::move(*mounts);
  return {};
}

// One mount of the container's table; `binds` are the config's bind targets.
void check_mount(Scan& s, const MountInfo& m, const std::set<std::string>& binds) {
  if (m.mountpoint == "/") {
    bool idmapped = m.options.find("idmapped") != std::string::npos;
    s.add("mounts",
          "root: `" + m.fstype + "`" +
              (idmapped ? " through an idmapped mount (restored through the same mapping)" : ""),
          false);
    return;
  }
  if (kUnsupportedFs.count(m.fstype) || starts_with(m.fstype, "fuse")) {
    s.add("mounts",
          "`" + printable(m.fstype) + "` at `" + printable(m.mountpoint) + "`: CRIU cannot checkpoint this filesystem" +
              (m.fstype == "hugetlbfs" ? " (for systemd: mask dev-hugepages.mount)" : ""),
          true);
    return;
  }
  if (kVirtualFs.count(m.fstype)) return;
  if (m.fstype == "devtmpfs") return;  // host device nodes (cove's /dev, masked /proc files): external, handled
  bool from_config = false;
  for (const auto& b : binds) {
    std::string bb = b;
    while (bb.size() > 1 && bb.back() == '/') bb.pop_back();
    from_config |= bb == m.mountpoint;
  }
  if (from_config)
    s.add("mounts",
          "bind mount `" + printable(m.mountpoint) + "` from the host (`" + printable(m.root) +
              "`): dumped as an external mount",
          false);
  else
    s.add("mounts", "`" + printable(m.fstype) + "` mount at `" + printable(m.mountpoint) +
                        "` made inside the container or not from the config: CRIU cannot restore its source",
          true);
}

Result<void> check_mounts(Scan& s) {
  std::set<std::string> binds;
  for (const auto& e : s.cfg.mounts)
    if (e.flags & MS_BIND) binds.insert("/" + std::string(trim(e.target)));
  std::vector<std::string> lxcfs_views;
  for (const auto& m : s.mounts) {
    // FUSE, but only views cove bound from the host's LXCFS: external mounts, like the binds.
    if (m.fstype == rootfs::kLxcfsFsType) lxcfs_views.push_back(m.mountpoint);
    else check_mount(s, m, binds);
  }
  if (!lxcfs_views.empty())
    s.add("mounts",
          "LXCFS views (" + join(lxcfs_views, " ") +
              "): dumped as external mounts; a restore binds them from the LXCFS running then (from the host's "
              "own files when none runs and `[mount] lxcfs` is auto or off)",
          false);
  return {};
}

// Mount namespaces of the tree's processes other than init's (a service's PrivateTmp=,
// ProtectSystem=, ...): CRIU dumps them too, so a filesystem it cannot dump blocks there as well.
// Each namespace is read once, through the first process found in it.
Result<void> check_nested_mounts(Scan& s) {
  std::set<ino_t> seen = {ns_inode(s.init_pid, "mnt")};
  for (pid_t p : s.tree()) {
    ino_t ns = ns_inode(p, "mnt");
    if (ns == 0 || !seen.insert(ns).second) continue;
    auto mounts = read_mountinfo(p);
    if (!mounts) continue;  // gone meanwhile
    for (const auto& m : *mounts)
      // The LXCFS views there are copies of init's (external mounts, as above).
      if (m.fstype != rootfs::kLxcfsFsType && (kUnsupportedFs.count(m.fstype) || starts_with(m.fstype, "fuse")))
        s.add("mounts",
              "`" + printable(m.fstype) + "` at `" + printable(m.mountpoint) + "` in the mount namespace of " +
                  process_name(p) + ": CRIU cannot checkpoint this filesystem",
              true);
  }
  return {};
}

Result<void> check_console(Scan& s) {
  bool console_ok = false;
  for (const auto& m : s.mounts)
    if (m.mountpoint == "/dev/console" && m.fstype == "devpts") console_ok = true;
  s.add("console",
        console_ok ? "/dev/console and the ttys are ptys of the container's own devpts; the monitor holds their "
                     "masters (dumped as orphan pts, handed back on restore)"
                   : "/dev/console is not a pty of the container's devpts: CRIU cannot dump it",
        !console_ok);
  return {};
}

// The inode of the network namespace a socket belongs to, through a copy of the fd taken with
// pidfd_getfd (SIOCGSKNS). A socket that is neither bound nor connected (dbus-daemon's
// NETLINK_AUDIT socket) is in no /proc/PID/net table, so the tables cannot tell. 0 when it
// cannot be read (or the fd is no longer the socket `ino`).
ino_t socket_netns(int pidfd, int fd, uint64_t ino) {
  UniqueFd copy(sys::pidfd_getfd(pidfd, fd, 0));
  struct stat st;
  if (!copy || ::fstat(copy.get(), &st) < 0 || !S_ISSOCK(st.st_mode) || st.st_ino != ino) return 0;
  UniqueFd ns(::ioctl(copy.get(), SIOCGSKNS));
  if (!ns || ::fstat(ns.get(), &st) < 0) return 0;
  return st.st_ino;
}

// A stock CRIU gives a process's exe link the file entry of an O_PATH fd on the same program,
// and the restore fails on it ("PR_SET_MM_MAP failed with -9"); cove's CRIU build does not
// (scripts/criu-patches/0014). systemd >= 255 holds systemd-executor with O_PATH, and a service
// runs it between its spawn and its exec: a passing state, which a dump waits out for up to
// 3 s (dump_freeze.hpp). Found now, it is named, not blocking: it is usually gone by the dump.
Result<void> check_exe_held_by_path(Scan& s) {
  if (s.cove_criu) return {};
  auto found = find_exe_held_by_path(s.tree());
  if (!found) return {};
  s.add("criu",
        process_name(found->runner) + " runs `" + printable(found->exe) + "`, which " + process_name(found->holder) +
            " holds open with O_PATH: a stock CRIU writes an image of it that cannot be restored, so a dump waits "
            "up to 3 s for it to pass (systemd's executor does once the service starts) and fails if it does not; "
            "install cove's CRIU build (scripts/install-criu)",
        false);
  return {};
}

// An fd in a state no CRIU dumps but that passes by itself (proc_scan.hpp): a mount being set
// up, credentials queued on a unix socket. A dump waits up to 3 s for it (dump_freeze.hpp):
// named, not blocking.
Result<void> check_passing_fd_states(Scan& s) {
  auto found = find_passing_fd_state(s.tree());
  if (!found) return {};
  s.add("files",
        process_name(found->pid) + " fd " + std::to_string(found->fd) + ": " + found->what +
            ": CRIU cannot dump it, so a dump waits up to 3 s for it to pass and fails if it does not",
        false);
  return {};
}

// With a stock CRIU (one pty whose master is outside per dump: the console) cove ends the
// sessions on /dev/ttyN before a dump (lifecycle/checkpoint.cpp). busybox init respawns its
// shells after a pause; systemd respawns container-getty@N on pts/N at once, so a process holds
// a tty again when CRIU looks, and the dump fails ("Only one slave external peer is allowed").
Result<void> check_ttys_for_stock_criu(Scan& s) {
  if (s.cove_criu || comm_of(s.init_pid) != "systemd" || !s.devpts()) return {};
  for (pid_t p : s.tree()) {
    if (p == s.init_pid) continue;
    for (const auto& f : open_files(p)) {
      struct stat st;
      std::string fdpath = "/proc/" + std::to_string(p) + "/fd/" + std::to_string(f.fd);
      if (::stat(fdpath.c_str(), &st) < 0 || !S_ISCHR(st.st_mode) || st.st_dev != *s.devpts()) continue;
      auto idx = pty::slave_index(st.st_rdev);
      if (!idx || *idx == 0) continue;  // the console (pts 0) is carried by a stock CRIU too
      s.add("console",
            process_name(p) + " holds tty pts/" + std::to_string(*idx) +
                ": a stock CRIU carries only the console, and systemd respawns its getty on the tty as soon as "
                "cove ends the session for the dump; install cove's CRIU build (scripts/install-criu) or set "
                "`ttys = 0`",
            true);
      return {};
    }
  }
  return {};
}

// A socket fd: one of the container's network namespace (`sockets`), of a nested one that a
// process of the tree lives in (`tree_netns`, dumped by CRIU too), or from outside.
void check_socket(Scan& s, const OpenFile& f, int pidfd, const std::string& where,
                  const std::map<uint64_t, std::string>& sockets, const std::set<ino_t>& tree_netns,
                  bool& reported_tcp) {
  const std::string& target = f.target;
  auto ino = parse_uint(target.substr(8, target.size() - 9));
  auto it = ino ? sockets.find(*ino) : sockets.end();
  if (it == sockets.end()) {
    ino_t ns = ino && pidfd >= 0 ? socket_netns(pidfd, f.fd, *ino) : 0;
    if (ns == 0 || !tree_netns.count(ns))
      s.add("sockets", where + ": a socket from outside the container's network namespace; CRIU cannot dump it", true);
  } else if ((it->second == "tcp established" || it->second == "tcp6 established") && !reported_tcp) {
    reported_tcp = true;
    s.add("sockets", "established TCP connections: dumped with tcp_established (they survive inside the "
                     "container's network namespace)",
          false);
  }
}

void check_anon_inode(Scan& s, const std::string& where, const std::string& target) {
  for (const char* bad : {"bpf-prog", "bpf-map", "perf_event", "io_uring", "[io_uring]"})
    if (target.find(bad) != std::string::npos) s.add("files", where + ": `" + printable(target) + "` cannot be checkpointed", true);
}

// A device fd: a terminal of the container's devpts, the console and ttys, and the standard
// nodes are restored; anything else is not.
void check_device(Scan& s, const OpenFile& f, const std::string& where) {
  static const std::set<std::string> kStdNodes = [] {
    std::set<std::string> out;
    for (const char* n : rootfs::kStandardNodes) out.insert(std::string("/dev/") + n);
    return out;
  }();
  const std::string& t = f.target;
  std::string fdpath = "/proc/" + std::to_string(f.pid) + "/fd/" + std::to_string(f.fd);
  struct stat st;
  if (::stat(fdpath.c_str(), &st) < 0 || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))) return;
  if (pty::is_slave_major(major(st.st_rdev)) || t == "/dev/ptmx" || t == "/dev/pts/ptmx") {
    if (s.devpts() && st.st_dev != *s.devpts())
      s.add("console", where + ": a terminal from outside the container; CRIU cannot dump it", true);
    return;
  }
  if (t == "/dev/console" || starts_with(t, "/dev/tty") || kStdNodes.count(t)) return;
  s.add("devices", where + ": device `" + printable(t) + "` is not one cove restores", true);
}

// The processes' files: sockets, special files, pressure files, devices and terminals.
Result<void> check_open_files(Scan& s) {
  auto sockets = netns_sockets(s.init_pid);
  std::set<ino_t> tree_netns;
  for (pid_t p : s.tree())
    if (ino_t ns = ns_inode(p, "net")) tree_netns.insert(ns);
  bool reported_tcp = false;
  for (pid_t p : s.tree()) {
    UniqueFd pidfd(sys::pidfd_open(p, 0));
    if (!pidfd) continue;  // gone
    for (const auto& f : open_files(p)) {
      std::string where = process_name(p) + " fd " + std::to_string(f.fd);
      if (starts_with(f.target, "socket:["))
        check_socket(s, f, pidfd.get(), where, sockets, tree_netns, reported_tcp);
      else if (starts_with(f.target, "anon_inode:"))
        check_anon_inode(s, where, f.target);
      else if (is_pressure_file(f.target))
        s.add("files",
              where + ": `" + printable(f.target) +
                  "` is open: a pressure trigger on it is not restored by CRIU and the reader misbehaves after a "
                  "restore (for systemd: DefaultMemoryPressureWatch=off, and MEMORY_PRESSURE_WATCH=/dev/null in "
                  "init's environment)",
              true);
      else if (starts_with(f.target, "/dev/"))
        check_device(s, f, where);
    }
  }
  return {};
}

Result<void> check_nics(Scan& s) {
  auto why = nics_not_checkpointable(s.cfg);
  if (!why.empty()) s.add("network", why, true);
  return {};
}

struct Check {
  const char* area;  // of the finding an error of the check becomes
  // Adds findings; an error ends the list (what follows needs what could not be read) and
  // becomes a blocking finding.
  Result<void> (*run)(Scan&);
};

// The checks of `cove-checkpoint --check`, in the order of their findings.
constexpr Check kChecks[] = {
    {"criu", check_criu},
    {"criu", check_rlimits},
    {"criu", check_exe_held_by_path},
    {"mounts", read_mounts},
    {"mounts", check_mounts},
    {"mounts", check_nested_mounts},
    {"console", check_console},
    {"console", check_ttys_for_stock_criu},
    {"sessions", check_session_leaders},
    {"sessions", check_outside_init_tree},
    {"cgroups", check_cgroups},
    {"namespaces", check_nested_namespaces},
    {"network", check_nics},
    {"files", check_open_files},
    {"files", check_passing_fd_states},
};

}  // namespace

// Whether process `pid` (0: this one) has CAP_SYS_RESOURCE (CapEff of its status); the CRIU
// it runs has the same capabilities.
bool has_cap_sys_resource(pid_t pid) {
  auto text = read_file(pid ? "/proc/" + std::to_string(pid) + "/status" : std::string("/proc/self/status"));
  if (!text) return false;
  auto pos = text->find("\nCapEff:");
  if (pos == std::string::npos) return false;
  uint64_t caps = std::strtoull(text->c_str() + pos + 8, nullptr, 16);
  return caps & (uint64_t(1) << 24);  // CAP_SYS_RESOURCE
}

std::vector<CheckFinding> check_checkpointable(const config::ContainerConfig& cfg, pid_t init_pid,
                                               const std::vector<std::string>& payload_cgroups) {
  Scan scan(cfg, init_pid, payload_cgroups);
  for (const auto& c : kChecks)
    if (auto r = c.run(scan); !r) {
      scan.add(c.area, r.error().message(), true);
      break;
    }
  return std::move(scan.findings);
}

}  // namespace cove::lifecycle
