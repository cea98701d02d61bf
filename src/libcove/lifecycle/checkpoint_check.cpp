// `cove-checkpoint --check`: what a dump of the running container would meet, read from /proc
// without stopping anything. Each finding names the area (criu, mounts, devices, console,
// sessions, sockets, files) and whether it blocks a checkpoint or is handled by cove.
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "base/fs.hpp"
#include "base/pty.hpp"
#include "base/strings.hpp"
#include "criu/features.hpp"
#include "lifecycle/checkpoint.hpp"
#include "lifecycle/proc_scan.hpp"
#include "rootfs/dev.hpp"

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

std::string comm_of(int64_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/comm");
  return text ? std::string(trim(*text)) : "?";
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

// CRIU refuses a dumped process whose session leader has no pid in the container's pid
// namespace ("A session leader of N(M) is outside of its pid namespace"), and restores groups
// only from leaders it dumped. Such processes come from outside: an nsenter, or a cove-attach
// of a version that did not make the command a session leader.
void check_sessions(pid_t init_pid, const std::vector<pid_t>& tree,
                    const std::function<void(const char*, std::string, bool)>& add) {
  auto init_text = read_file("/proc/" + std::to_string(init_pid) + "/status");
  if (!init_text) return;
  auto init_ids = parse_namespaced_ids(*init_text);
  if (init_ids.pid.empty()) return;
  size_t level = init_ids.pid.size() - 1;  // the container's pid namespace, as a column
  for (pid_t p : tree) {
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
    add("sessions",
        "process " + std::to_string(p) + " (`" + comm_of(p) + "`, pid " + std::to_string(ids.pid[level]) +
            " inside): " + join(why, " and ") + (why.size() > 1 ? " are" : " is") +
            " outside the container's pid namespace; CRIU cannot dump it (end it, or start such processes "
            "with `setsid` or through cove-attach, which makes each command a session leader inside)",
        true);
  }
  std::set<pid_t> in_tree(tree.begin(), tree.end());
  for (pid_t p : outside_init_tree(init_pid, in_tree))
    add("sessions",
        "process " + std::to_string(p) + " (`" + comm_of(p) +
            "`) is in the container's pid namespace but not below its init (a running cove-attach command or an "
            "nsenter): it is not part of the checkpoint and will be missing after a restore",
        false);
}

// "HIERARCHY-ID:CONTROLLERS" -> path, from /proc/PID/cgroup (as the host sees it).
std::map<std::string, std::string> cgroups_of(pid_t pid) {
  std::map<std::string, std::string> out;
  auto text = read_file("/proc/" + std::to_string(pid) + "/cgroup");
  if (!text) return out;
  for (const auto& line : split(*text, '\n')) {
    auto colon = line.rfind(':');
    if (colon == std::string::npos) continue;
    out[line.substr(0, colon)] = line.substr(colon + 1);
  }
  return out;
}

// The dump freezes the container's cgroup and seizes init's tree: a process of the tree that
// sits in another cgroup (entered with nsenter, which moves no cgroup) is not frozen, and CRIU
// fails on it ("Unseizable non-zombie").
void check_cgroups(pid_t init_pid, const std::vector<pid_t>& tree,
                   const std::function<void(const char*, std::string, bool)>& add) {
  auto base = cgroups_of(init_pid);
  for (pid_t p : tree) {
    if (p == init_pid) continue;
    auto mine = cgroups_of(p);
    for (const auto& [hierarchy, path] : base) {
      auto it = mine.find(hierarchy);
      if (it == mine.end()) continue;  // gone meanwhile
      const std::string& cg = it->second;
      bool inside = cg == path || (path == "/" ? true : starts_with(cg, path + "/"));
      if (inside) continue;
      std::string controllers = hierarchy.substr(hierarchy.find(':') + 1);
      add("cgroups",
          "process " + std::to_string(p) + " (`" + comm_of(p) + "`) is in cgroup `" + cg + "` (" +
              (controllers.empty() ? std::string("cgroup2") : controllers) + "), outside the container's `" + path +
              "`: the dump freezes the container's cgroup only, so CRIU cannot seize it (move it into the "
              "container's cgroup or end it)",
          true);
      break;
    }
  }
}

}  // namespace

std::vector<CheckFinding> check_checkpointable(const config::ContainerConfig& cfg, pid_t init_pid) {
  std::vector<CheckFinding> out;
  auto add = [&](const char* area, std::string what, bool blocking) { out.push_back({area, std::move(what), blocking}); };

  if (!criu::available()) {
    add("criu", criu::unavailable_error().message(), true);
  } else if (auto info = criu::probe(); !info) {
    add("criu", info.error().message(), true);
  } else {
    add("criu", "CRIU " + info->version + " at `" + info->path + "`" +
                    (info->mem_track ? "" : "; no memory change tracking here (no iterative pre-dump)"),
        false);
  }

  // Mounts.
  auto mounts = read_mountinfo(init_pid);
  if (!mounts) {
    add("mounts", "cannot read the container's mounts: " + mounts.error().message(), true);
    return out;
  }
  std::set<std::string> binds;
  for (const auto& e : cfg.mounts)
    if (e.flags & MS_BIND) binds.insert("/" + std::string(trim(e.target)));
  std::set<std::string> std_nodes;
  for (const char* n : rootfs::kStandardNodes) std_nodes.insert(std::string("/dev/") + n);
  for (const auto& m : *mounts) {
    if (m.mountpoint == "/") {
      add("mounts", "root: `" + m.fstype + "`" + (m.options.find("idmapped") != std::string::npos
                                                      ? " through an idmapped mount (restored through the same mapping)"
                                                      : ""),
          false);
      continue;
    }
    if (kUnsupportedFs.count(m.fstype) || starts_with(m.fstype, "fuse")) {
      add("mounts", "`" + m.fstype + "` at `" + m.mountpoint + "`: CRIU cannot checkpoint this filesystem", true);
      continue;
    }
    if (kVirtualFs.count(m.fstype)) continue;
    std::string mp = m.mountpoint;
    std::string norm = mp;
    if (m.fstype == "devtmpfs") continue;  // host device nodes (cove's /dev, masked /proc files): external, handled
    bool from_config = false;
    for (const auto& b : binds) {
      std::string bb = b;
      while (bb.size() > 1 && bb.back() == '/') bb.pop_back();
      from_config |= bb == norm;
    }
    if (from_config)
      add("mounts", "bind mount `" + m.mountpoint + "` from the host (`" + m.root + "`): dumped as an external mount",
          false);
    else
      add("mounts", "`" + m.fstype + "` mount at `" + m.mountpoint +
                        "` made inside the container or not from the config: CRIU cannot restore its source",
          true);
  }

  // Processes' files: devices, terminals, sockets, special files.
  struct stat devpts_st;
  std::string ptmx = "/proc/" + std::to_string(init_pid) + "/root/dev/pts/ptmx";
  bool have_devpts = ::stat(ptmx.c_str(), &devpts_st) == 0;
  bool console_ok = false;
  for (const auto& m : *mounts)
    if (m.mountpoint == "/dev/console" && m.fstype == "devpts") console_ok = true;
  add("console",
      console_ok ? "/dev/console and the ttys are ptys of the container's own devpts; the monitor holds their masters "
                   "(dumped as orphan pts, handed back on restore)"
                 : "/dev/console is not a pty of the container's devpts: CRIU cannot dump it",
      !console_ok);
  auto tree = descendants(init_pid);
  check_sessions(init_pid, tree, add);
  check_cgroups(init_pid, tree, add);
  auto sockets = netns_sockets(init_pid);
  std::set<std::string> reported;
  for (pid_t p : tree) {
    for (const auto& f : open_files(p)) {
      std::string where = "process " + std::to_string(p) + " fd " + std::to_string(f.fd);
      const std::string& t = f.target;
      if (starts_with(t, "socket:[")) {
        auto ino = parse_uint(t.substr(8, t.size() - 9));
        auto it = ino ? sockets.find(*ino) : sockets.end();
        if (it == sockets.end()) {
          add("sockets", where + ": a socket from outside the container's network namespace; CRIU cannot dump it",
              true);
        } else if (it->second == "tcp established" || it->second == "tcp6 established") {
          if (reported.insert("tcp").second)
            add("sockets", "established TCP connections: dumped with tcp_established (they survive inside the "
                           "container's network namespace)",
                false);
        }
        continue;
      }
      if (starts_with(t, "anon_inode:")) {
        for (const char* bad : {"bpf-prog", "bpf-map", "perf_event", "io_uring", "[io_uring]"})
          if (t.find(bad) != std::string::npos) add("files", where + ": `" + t + "` cannot be checkpointed", true);
        continue;
      }
      if (!starts_with(t, "/dev/")) continue;
      std::string fdpath = "/proc/" + std::to_string(p) + "/fd/" + std::to_string(f.fd);
      struct stat st;
      if (::stat(fdpath.c_str(), &st) < 0 || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))) continue;
      if (pty::is_slave_major(major(st.st_rdev)) || t == "/dev/ptmx" || t == "/dev/pts/ptmx") {
        if (have_devpts && st.st_dev != devpts_st.st_dev)
          add("console", where + ": a terminal from outside the container; CRIU cannot dump it", true);
        continue;
      }
      if (t == "/dev/console" || starts_with(t, "/dev/tty")) continue;
      if (std_nodes.count(t)) continue;
      add("devices", where + ": device `" + t + "` is not one cove restores", true);
    }
  }
  return out;
}

}  // namespace cove::lifecycle
