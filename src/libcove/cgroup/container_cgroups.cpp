// ContainerCgroups: the payload cgroups of one container on every hierarchy, and the monitors'
// shared cgroup beside them. Owns their whole life: planning the paths, mkdir (adopting an empty
// leftover of a crash), v1 cpuset initialisation, attaching pids, delegation, stats, and kill +
// rmdir on destroy. It only ever writes inside directories named `cove.payload.<key>` and
// `cove.monitors` (and `cove.monitor.<key>`, the per-container monitor cgroup of older versions,
// which it still removes).
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <optional>
#include <set>
#include <span>
#include <utility>

#include "base/clock.hpp"
#include "base/dir.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/proc_stat.hpp"
#include "base/scope_exit.hpp"
#include "base/strings.hpp"
#include "base/syscalls.hpp"
#include "base/unique_fd.hpp"
#include "cgroup/cgroup.hpp"
#include "cgroup/writers.hpp"
#include "process/child_process.hpp"

namespace cove::cgroup {
namespace {

constexpr std::string_view kPayloadPrefix = "cove.payload.";
constexpr std::string_view kMonitorPrefix = "cove.monitor.";  // before the shared one
constexpr std::string_view kMonitorsDir = "cove.monitors";
constexpr int kJoinTries = 5;
constexpr int64_t kPollCapUs = 10 * 1000;

using Clock = std::chrono::steady_clock;

bool is_valid_key(const std::string& key) {
  if (key.empty() || key == "." || key == ".." || key.size() > 200) return false;
  return std::none_of(key.begin(), key.end(), [](unsigned char c) { return c == '/' || c <= ' ' || c == 0x7f; });
}

// The safety net for `destroy` on recorded paths: only absolute paths whose last component is
// one of ours are ever killed in or removed.
bool is_cove_dir(const std::string& dir, std::string_view prefix) {
  if (dir.empty() || dir.front() != '/') return false;
  std::string base = basename_of(dir);
  return starts_with(base, prefix) && base.size() > prefix.size();
}

// The monitors' shared cgroup (an absolute path whose last component is `cove.monitors`).
bool is_monitors_dir(const std::string& dir) {
  return !dir.empty() && dir.front() == '/' && basename_of(dir) == kMonitorsDir;
}

bool is_monitor_dir(const std::string& dir) { return is_monitors_dir(dir) || is_cove_dir(dir, kMonitorPrefix); }

int make_dir(const ContainerCgroups::DirOps& ops, const std::string& path) {
  return ops.make_dir ? ops.make_dir(path) : ::mkdir(path.c_str(), 0755);
}

int remove_dir(const ContainerCgroups::DirOps& ops, const std::string& path) {
  return ops.remove_dir ? ops.remove_dir(path) : ::rmdir(path.c_str());
}

// Pids listed in `dir`/cgroup.procs; a missing cgroup has none.
Result<std::vector<pid_t>> read_procs(const std::string& dir) {
  auto text = read_file(dir + "/cgroup.procs");
  if (!text) {
    if (text.error().code() == ENOENT) return std::vector<pid_t>{};
    return std::move(text).error();
  }
  std::vector<pid_t> pids;
  for (const auto& word : split_ws(*text)) {
    auto v = parse_int(word);
    if (!v || *v <= 0) return Error::invalid("parse `" + dir + "/cgroup.procs`: bad pid `" + word + "`");
    pids.push_back(static_cast<pid_t>(*v));
  }
  return pids;
}

// Every directory below `dir`, children before their parent; `dir` itself is not included.
// A missing `dir` has none.
Result<std::vector<std::string>> subdirs_bottom_up(const std::string& dir) {
  std::vector<std::string> out;
  auto d = Dir::open(dir);
  if (!d) {
    if (d.error().code() == ENOENT) return out;
    return Error::from_errno(d.error().code(), "list `" + dir + "`");
  }
  std::vector<std::string> children;
  for (const DirEntry& e : *d) {
    std::string path = dir + "/" + std::string(e.name);
    bool is_dir = e.type == DT_DIR;
    if (e.type == DT_UNKNOWN) {
      struct stat st;
      is_dir = ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_dir) children.push_back(std::move(path));
  }
  if (d->error()) return Error::from_errno(d->error(), "list `" + dir + "`");
  for (const auto& child : children) {
    auto below = subdirs_bottom_up(child);
    if (!below) return below;
    out.insert(out.end(), below->begin(), below->end());
    out.push_back(child);
  }
  return out;
}

// `dir` and all cgroups below it (parents after children).
Result<std::vector<std::string>> subtree(const std::string& dir) {
  auto dirs = subdirs_bottom_up(dir);
  if (!dirs) return dirs;
  dirs->push_back(dir);
  return dirs;
}

Result<std::vector<pid_t>> subtree_pids(const std::string& dir) {
  auto dirs = subtree(dir);
  if (!dirs) return std::move(dirs).error();
  std::vector<pid_t> pids;
  for (const auto& d : *dirs) {
    auto p = read_procs(d);
    if (!p) return std::move(p).error();
    pids.insert(pids.end(), p->begin(), p->end());
  }
  return pids;
}

// A v1 cpuset starts with empty `cpuset.cpus`/`cpuset.mems` unless `cgroup.clone_children` is
// set, and attaching to it then fails with ENOSPC. Copy the nearest ancestor's values. (On v2 an
// empty value means "inherit", so this is v1 only.)
Result<void> init_v1_cpuset(const std::string& dir) {
  for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
    std::string own = dir + "/" + file;
    if (!path_exists(own)) return {};  // no cpuset controller on this hierarchy
    auto cur = read_file(own);
    if (!cur) return std::move(cur).error();
    if (!trim(*cur).empty()) continue;
    std::string value;
    for (std::string p = dirname_of(dir); path_exists(p + "/" + file); p = dirname_of(p)) {
      auto v = read_file(p + "/" + file);
      if (!v) return std::move(v).error();
      value = std::string(trim(*v));
      if (!value.empty() || p == "/") break;
    }
    if (value.empty()) return Error(ENOENT, std::string("no ancestor has a `") + file + "` to copy");
    COVE_TRY(write_existing(own, value));
  }
  return {};
}

// Removes `dir` and the cgroups a guest made below it, bottom-up. rmdir of a cgroup whose last
// task just died can briefly fail with EBUSY, so that is retried until `deadline`.
Result<void> remove_cgroup_tree(const ContainerCgroups::DirOps& ops, const std::string& dir,
                                Clock::time_point deadline) {
  auto dirs = subtree(dir);
  if (!dirs) return std::move(dirs).error().context("remove cgroup `" + dir + "`");
  for (const auto& d : *dirs) {
    Backoff backoff(kPollCapUs);
    for (;;) {
      if (remove_dir(ops, d) == 0 || errno == ENOENT) break;
      if (errno == EBUSY && Clock::now() < deadline) {
        backoff.sleep();
        continue;
      }
      return Error::from_errno(errno, "remove cgroup `" + d + "`");
    }
  }
  return {};
}

// SIGKILLs the processes listed in cgroup `dir` except the caller. Each pid is pinned with a
// pidfd first and signalled only if it is still listed afterwards, so a pid that was reused by an
// unrelated process between the read and the signal is never hit.
Result<void> kill_listed(const std::string& dir) {
  auto pids = read_procs(dir);
  if (!pids) return std::move(pids).error();
  if (pids->empty()) return {};
  std::vector<std::pair<pid_t, UniqueFd>> pinned;
  for (pid_t pid : *pids) {
    if (pid == ::getpid()) continue;
    UniqueFd fd(sys::pidfd_open(pid, 0));
    if (fd)
      pinned.emplace_back(pid, std::move(fd));
    else if (errno == ENOSYS && ::kill(pid, SIGKILL) < 0 && errno != ESRCH)  // kernel < 5.3
      return Error::from_errno(errno, "kill pid `" + std::to_string(pid) + "`");
  }
  auto again = read_procs(dir);
  if (!again) return std::move(again).error();
  std::set<pid_t> still(again->begin(), again->end());
  for (auto& [pid, fd] : pinned) {
    if (!still.count(pid)) continue;
    if (sys::pidfd_send_signal(fd.get(), SIGKILL, nullptr, 0) < 0 && errno != ESRCH)
      return Error::from_errno(errno, "kill pid `" + std::to_string(pid) + "`");
  }
  return {};
}

// Kills everything in the payload subtrees until they are empty: `cgroup.kill` (v2, kernel 5.14)
// where it exists, otherwise pid by pid. Repeated because a process may fork between our read
// of `cgroup.procs` and its death.
Result<void> kill_payload(const std::vector<std::string>& dirs, Clock::time_point deadline, int timeout_ms) {
  Backoff backoff(kPollCapUs);
  for (;;) {
    std::vector<pid_t> left;
    for (const auto& dir : dirs) {
      if (path_exists(dir + "/cgroup.kill"))
        if (auto r = write_existing(dir + "/cgroup.kill", "1"); !r && r.error().code() != ENOENT)
          return std::move(r).error().context("kill cgroup `" + dir + "`");
      auto cgroups = subtree(dir);
      if (!cgroups) return std::move(cgroups).error().context("kill cgroup `" + dir + "`");
      for (const auto& d : *cgroups) {
        if (auto r = kill_listed(d); !r) return std::move(r).error().context("kill cgroup `" + d + "`");
        auto pids = read_procs(d);
        if (!pids) return std::move(pids).error().context("kill cgroup `" + d + "`");
        for (pid_t p : *pids)
          if (p != ::getpid()) left.push_back(p);
      }
    }
    if (left.empty()) return {};
    if (Clock::now() >= deadline)
      return Error(EBUSY, "kill payload: pid `" + std::to_string(left.front()) + "` still alive after " +
                              std::to_string(timeout_ms) + " ms");
    backoff.sleep();
  }
}

// The directory of the cgroup that `proc_cgroup` (a /proc/PID/cgroup text) names in `h`.
std::optional<std::string> dir_in(const std::string& proc_cgroup, const Hierarchy& h) {
  auto rel = cgroup_path_of(proc_cgroup, h);
  if (!rel) return std::nullopt;
  auto dir = directory_of(h, *rel);
  if (!dir) return std::nullopt;
  return std::move(*dir);
}

// Which of `dirs` hold `pid`: read from /proc/PID/cgroup (through `known`, the planned
// hierarchies, else the host's layout), not from each dir's cgroup.procs: the monitors' shared
// cgroup lists every monitor, and v1 sorts that list on every read (a stop was O(N log N) in
// the containers running). Falls back to the listings without a layout.
std::vector<std::string> dirs_holding(const ContainerCgroups::DirOps& ops, const std::vector<Hierarchy>& known,
                                      const std::vector<std::string>& dirs, pid_t pid) {
  std::vector<std::string> out;
  std::optional<std::string> text;
  if (ops.proc_cgroup) text = ops.proc_cgroup(pid);
  else if (auto t = read_file("/proc/" + std::to_string(pid) + "/cgroup")) text = std::move(*t);
  std::vector<Hierarchy> hierarchies = known;
  if (hierarchies.empty())
    if (auto layout = detect_layout()) hierarchies = std::move(layout->hierarchies);
  if (text && !hierarchies.empty()) {
    for (const auto& h : hierarchies) {
      auto dir = dir_in(*text, h);
      if (dir && std::find(dirs.begin(), dirs.end(), *dir) != dirs.end()) out.push_back(*dir);
    }
    return out;
  }
  for (const auto& dir : dirs) {
    auto pids = read_procs(dir);
    if (pids && std::find(pids->begin(), pids->end(), pid) != pids->end()) out.push_back(dir);
  }
  return out;
}

// A monitor that cleans up after its container sits in the monitor cgroup, which then could not
// be removed (when it is the last one). Move the caller back to the parent, the cgroup it was
// started in.
Result<void> leave(const ContainerCgroups::DirOps& ops, const std::vector<Hierarchy>& known,
                   const std::vector<std::string>& dirs, pid_t pid) {
  std::string self = std::to_string(pid);
  for (const auto& dir : dirs_holding(ops, known, dirs, pid))
    if (auto r = write_existing(dirname_of(dir) + "/cgroup.procs", self); !r)
      return std::move(r).error().context("move pid `" + self + "` out of `" + dir + "`");
  return {};
}

// The monitors' shared cgroup: made when missing (a v1 cpuset gets the nearest ancestor's
// values), and used as it is when it exists: it is never a leftover, other monitors live in it.
// Another container's stop may remove it (empty) at any moment: found gone, it is made again.
// Returns whether this call made it.
Result<bool> make_monitors_dir(const ContainerCgroups::DirOps& ops, const std::string& dir, bool v1) {
  for (int i = 1;; ++i) {
    bool made = make_dir(ops, dir) == 0;
    if (!made && errno != EEXIST) return Error::from_errno(errno, "create cgroup `" + dir + "`");
    Result<void> r;
    if (!made && !is_directory(dir))
      r = Error(path_exists(dir) ? EEXIST : ENOENT, "create cgroup `" + dir + "`: exists and is not a directory");
    else if (v1)
      r = init_v1_cpuset(dir);
    if (r) return made;
    if (r.error().code() != ENOENT || i == kJoinTries)
      return std::move(r).error().context("set up cgroup `" + dir + "`");
  }
}

// How `pid` joins `dir` (see join_self; `one_thread`: `pid` is the caller, of one thread).
Result<void> join_pid(const std::string& dir, bool v1, pid_t pid, bool one_thread) {
  if (pid == ::getpid()) return join_self(dir, v1, one_thread);
  return write_existing(dir + "/cgroup.procs", std::to_string(pid));
}

// The last monitor to stop removes the shared cgroup (destroy), possibly between our mkdir and
// our write: then it is made again and the write retried.
Result<void> join_monitors_dir(const ContainerCgroups::DirOps& ops, const std::string& dir, bool v1, pid_t pid,
                               bool one_thread) {
  std::string p = std::to_string(pid);
  for (int i = 1;; ++i) {
    auto r = join_pid(dir, v1, pid, one_thread);
    bool gone = !r && (r.error().code() == ENOENT || r.error().code() == ENODEV);
    if (!gone || i == kJoinTries) {
      if (!r) return std::move(r).error().context("attach pid `" + p + "`");
      return {};
    }
    if (auto m = make_monitors_dir(ops, dir, v1); !m) return std::move(m).error().context("attach pid `" + p + "`");
  }
}

// Whether the directory at `i` (of a planned object: `v2`; else recorded) is on a v1 hierarchy.
bool dir_is_v1(const std::vector<bool>& v2, size_t i, const std::string& dir) {
  if (i < v2.size()) return !v2[i];
  return !path_exists(dirname_of(dir) + "/cgroup.controllers");  // v2 has this file
}

Result<void> attach_to(const std::vector<std::string>& dirs, pid_t pid) {
  std::string p = std::to_string(pid);
  for (const auto& dir : dirs)
    if (auto r = write_existing(dir + "/cgroup.procs", p); !r)
      return std::move(r).error().context("attach pid `" + p + "`");
  return {};
}

}  // namespace

Result<void> join_self(const std::string& dir, bool v1, bool one_thread) {
  if (v1 && one_thread) return write_existing(dir + "/tasks", "0");
  return write_existing(dir + "/cgroup.procs", std::to_string(::getpid()));
}

Result<void> leave_container_cgroups() {
  auto layout = detect_layout();
  if (!layout) return std::move(layout).error();
  auto text = read_file("/proc/self/cgroup");
  if (!text) return std::move(text).error();
  for (const auto& h : layout->hierarchies) {
    auto dir = dir_in(*text, h);
    if (!dir || !(is_monitor_dir(*dir) || is_cove_dir(*dir, kPayloadPrefix))) continue;
    if (auto r = write_existing(dirname_of(*dir) + "/cgroup.procs", std::to_string(::getpid())); !r)
      return std::move(r).error().context("leave `" + *dir + "`");
  }
  return {};
}

Result<ContainerCgroups> ContainerCgroups::plan(const Layout& layout, const std::string& key, pid_t self) {
  auto text = read_file("/proc/" + std::to_string(self) + "/cgroup");
  if (!text) return std::move(text).error().context("plan cgroups of `" + key + "`");
  return plan_from(layout, key, *text);
}

// Both cgroups are children of the starter's own cgroup in each hierarchy, so cove stays inside
// whatever part of the tree it was given (a systemd scope, a delegated subtree, a job's cgroup).
//
// v2 and the no-internal-process rule: a non-root v2 cgroup with controllers enabled in its
// `cgroup.subtree_control` may not hold processes. The starter lives in <base>, so <base>'s
// `cgroup.subtree_control` is necessarily empty (or <base> is the root): creating children and
// attaching to them works, but they get no controllers, and enabling one in <base> later fails
// with EBUSY while the starter is still there. A host that wants v2 limits must therefore start
// cove from a leaf of a delegated subtree whose parent enables the controllers, or move the
// starter out of <base> first; cove does not move processes it did not start.
Result<ContainerCgroups> ContainerCgroups::plan_from(const Layout& layout, const std::string& key,
                                                     const std::string& proc_cgroup) {
  const std::string what = "plan cgroups of `" + key + "`";
  if (!is_valid_key(key)) return Error::invalid(what + ": key must be a single path component without whitespace");
  if (layout.hierarchies.empty()) return Error(ENOENT, what + ": no cgroup hierarchy in the layout");
  ContainerCgroups cg;
  for (const auto& h : layout.hierarchies) {
    auto rel = cgroup_path_of(proc_cgroup, h);
    if (!rel) return std::move(rel).error().context(what);
    auto base = directory_of(h, *rel);
    if (!base) return std::move(base).error().context(what);
    // A monitor born in the shared cgroup (cove-start clones it there on cgroup2) plans beside it.
    if (is_monitors_dir(*base)) *base = dirname_of(*base);
    std::string sep = *base == "/" ? "" : "/";
    cg.payload_dirs_.push_back(*base + sep + std::string(kPayloadPrefix) + key);
    cg.monitor_dirs_.push_back(*base + sep + std::string(kMonitorsDir));
    cg.v2_.push_back(h.v2);
    cg.hierarchies_.push_back(h);
  }
  return cg;
}

Result<ContainerCgroups> ContainerCgroups::plan_at(const Layout& layout, const std::string& path, pid_t self) {
  const std::string what = "plan cgroups at `" + path + "`";
  std::vector<std::string> parts;
  for (auto& part : split(path, '/')) {
    if (part.empty()) continue;
    if (part == "." || part == "..") return Error::invalid(what + ": `.` and `..` are not allowed");
    parts.push_back(std::move(part));
  }
  if (parts.empty()) return Error::invalid(what + ": the path names the root cgroup");
  std::string proc_cgroup;
  if (path[0] != '/') {
    auto text = read_file("/proc/" + std::to_string(self) + "/cgroup");
    if (!text) return std::move(text).error().context(what);
    proc_cgroup = std::move(*text);
  }
  ContainerCgroups cg;
  cg.explicit_path_ = true;
  for (const auto& h : layout.hierarchies) {
    std::string rel = "/";
    if (path[0] != '/') {
      auto own = cgroup_path_of(proc_cgroup, h);
      if (!own) return std::move(own).error().context(what);
      rel = *own;
    }
    auto base = directory_of(h, rel);
    if (!base) return std::move(base).error().context(what);
    cg.payload_dirs_.push_back((*base == "/" ? "" : *base) + "/" + join(parts, "/"));
    cg.v2_.push_back(h.v2);
    cg.hierarchies_.push_back(h);
  }
  return cg;
}

ContainerCgroups ContainerCgroups::from_recorded_explicit(std::vector<std::string> payload_dirs) {
  ContainerCgroups cg;
  cg.payload_dirs_ = std::move(payload_dirs);
  cg.explicit_path_ = true;
  return cg;
}

ContainerCgroups ContainerCgroups::from_recorded(std::vector<std::string> payload_dirs,
                                                 std::vector<std::string> monitor_dirs) {
  ContainerCgroups cg;
  cg.payload_dirs_ = std::move(payload_dirs);
  cg.monitor_dirs_ = std::move(monitor_dirs);
  return cg;
}

// A planned directory that already exists is the leftover of a crashed run: reused when no
// process is in it (nor below it), refused otherwise.
Result<void> ContainerCgroups::create() {
  // Only what this call made is rolled back: an adopted leftover is left for `destroy`, since it
  // may belong to a live run with the same key that is about to use it.
  std::vector<std::string> made, made_shared;
  ScopeExit rollback([&] {
    for (auto it = made.rbegin(); it != made.rend(); ++it)
      if (auto r = remove_cgroup_tree(ops_, *it, Clock::now()); !r)
        log::warn("roll back cgroups: {}", r.error().what());
    for (const auto& d : made_shared) (void)remove_dir(ops_, d);  // EBUSY: another monitor joined it
  });
  auto make_one = [&](const std::string& dir, bool v1) -> Result<void> {
    if (make_dir(ops_, dir) == 0) {
      made.push_back(dir);
    } else {
      if (errno != EEXIST) return Error::from_errno(errno, "create cgroup `" + dir + "`");
      if (!is_directory(dir)) return Error(EEXIST, "create cgroup `" + dir + "`: exists and is not a directory");
      auto pids = subtree_pids(dir);
      if (!pids) return std::move(pids).error().context("create cgroup `" + dir + "`");
      if (!pids->empty())
        return Error(EBUSY, "create cgroup `" + dir + "`: a leftover cgroup still holds pid `" +
                                std::to_string(pids->front()) + "`");
      log::warn("reusing leftover cgroup `{}`", dir);
    }
    if (v1)
      if (auto r = init_v1_cpuset(dir); !r) return std::move(r).error().context("set up cpuset of `" + dir + "`");
    return {};
  };
  auto is_v1 = [&](size_t i, const std::string& dir) { return dir_is_v1(v2_, i, dir); };
  auto make_monitors = [&](const std::string& dir, bool v1) -> Result<void> {
    if (!is_monitors_dir(dir)) return make_one(dir, v1);  // recorded by an older version
    auto made = make_monitors_dir(ops_, dir, v1);
    if (!made) return std::move(made).error();
    if (*made) made_shared.push_back(dir);
    return {};
  };
  // plan_at: the missing ancestors, top down (never removed: other containers may share them).
  auto make_ancestors = [&](const std::string& dir, bool v1) -> Result<void> {
    std::vector<std::string> missing;
    for (std::string d = dirname_of(dir); !is_directory(d); d = dirname_of(d)) missing.push_back(d);
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
      if (make_dir(ops_, *it) < 0 && errno != EEXIST) return Error::from_errno(errno, "create cgroup `" + *it + "`");
      made_ancestors_.push_back(*it);
      if (v1)
        if (auto r = init_v1_cpuset(*it); !r) return std::move(r).error().context("set up cpuset of `" + *it + "`");
    }
    return {};
  };
  for (size_t i = 0; i < std::max(payload_dirs_.size(), monitor_dirs_.size()); ++i) {
    if (explicit_path_ && i < payload_dirs_.size()) COVE_TRY(make_ancestors(payload_dirs_[i], is_v1(i, payload_dirs_[i])));
    if (i < monitor_dirs_.size()) COVE_TRY(make_monitors(monitor_dirs_[i], is_v1(i, monitor_dirs_[i])));
    if (i < payload_dirs_.size()) COVE_TRY(make_one(payload_dirs_[i], is_v1(i, payload_dirs_[i])));
  }
  rollback.dismiss();
  created_ = made_shared;
  created_.insert(created_.end(), made.begin(), made.end());
  return {};
}

void ContainerCgroups::remove_created() {
  for (auto it = created_.rbegin(); it != created_.rend(); ++it)
    if (remove_dir(ops_, *it) < 0 && errno != ENOENT && errno != EBUSY && errno != ENOTEMPTY)
      log::warn("remove cgroup `{}`: {}", *it, std::strerror(errno));
  created_.clear();
}

// A monitor born in the shared cgroup (clone3 CLONE_INTO_CGROUP, cove-start on cgroup2) is not
// written there again: on a pure v2 host it then joins without a cgroup.procs write at all.
Result<void> ContainerCgroups::attach_monitor(pid_t pid) {
  auto already = dirs_holding(ops_, hierarchies_, monitor_dirs_, pid);
  bool one_thread = pid == ::getpid() && proc::thread_count(pid) == 1;
  for (size_t i = 0; i < monitor_dirs_.size(); ++i) {
    const std::string& dir = monitor_dirs_[i];
    if (std::find(already.begin(), already.end(), dir) != already.end()) continue;
    bool v1 = dir_is_v1(v2_, i, dir);
    if (is_monitors_dir(dir)) COVE_TRY(join_monitors_dir(ops_, dir, v1, pid, one_thread));
    else if (auto r = join_pid(dir, v1, pid, one_thread); !r) return std::move(r).error().context("attach pid `" + std::to_string(pid) + "`");
  }
  return {};
}

Result<void> ContainerCgroups::attach_payload(pid_t pid, const std::vector<std::string>& joined) {
  std::vector<std::string> dirs;
  for (const auto& d : payload_dirs_)
    if (std::find(joined.begin(), joined.end(), d) == joined.end()) dirs.push_back(d);
  return attach_to(dirs, pid);
}

ContainerCgroups::SelfJoin ContainerCgroups::self_join_files() const {
  SelfJoin out;
  for (size_t i = 0; i < payload_dirs_.size(); ++i) {
    if (!dir_is_v1(v2_, i, payload_dirs_[i])) continue;
    UniqueFd fd(::open((payload_dirs_[i] + "/tasks").c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) continue;  // attach_payload writes it, or says why it cannot
    out.files.push_back(std::move(fd));
    out.dirs.push_back(payload_dirs_[i]);
  }
  return out;
}

std::vector<std::string> ContainerCgroups::payload_dirs_holding(pid_t pid) const {
  return dirs_holding(ops_, hierarchies_, payload_dirs_, pid);
}

CloneTarget clone_target(const std::vector<std::string>& dirs) {
  for (const auto& d : dirs) {
    struct statfs fs;
    if (::statfs(d.c_str(), &fs) < 0 || fs.f_type != CGROUP2_SUPER_MAGIC) continue;
    UniqueFd fd(::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd) return CloneTarget{std::move(fd), d};
  }
  return {};
}

StarterView starter_view() {
  StarterView v;
  auto text = read_file("/proc/self/cgroup");
  if (!text) return v;
  v.proc_cgroup = std::move(*text);
  if (auto layout = detect_layout()) v.layout = std::move(*layout);
  return v;
}

CloneTarget monitors_clone_target() { return monitors_clone_target(starter_view()); }

namespace {
// `<base>/cove.monitors` in `h` for a process whose /proc/PID/cgroup is `proc_cgroup`: <base>
// its cgroup, or the parent when it is in the monitors' cgroup already (a monitor, or a
// cove-autostart that stepped in there).
std::optional<std::string> monitors_dir_beside(const std::string& proc_cgroup, const Hierarchy& h) {
  auto base = dir_in(proc_cgroup, h);
  if (!base) return std::nullopt;
  if (is_monitors_dir(*base)) *base = dirname_of(*base);
  return (*base == "/" ? "" : *base) + "/" + std::string(kMonitorsDir);
}
}  // namespace

CloneTarget monitors_clone_target(const StarterView& view) {
  if (!view.layout) return {};
  for (const auto& h : view.layout->hierarchies) {
    if (!h.v2) continue;
    auto found = monitors_dir_beside(view.proc_cgroup, h);
    if (!found) return {};
    const std::string& dir = *found;
    if (!make_monitors_dir({}, dir, false)) return {};
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd) return CloneTarget{std::move(fd), dir};
    return {};
  }
  return {};
}

Result<bool> step_into_monitors_cgroup() {
  StarterView view = starter_view();
  const Hierarchy* h = view.layout ? view.layout->v2() : nullptr;
  if (!h) return false;
  auto rel = cgroup_path_of(view.proc_cgroup, *h);
  if (!rel) return std::move(rel).error().context("step into the monitors' cgroup");
  if (*rel == "/") return false;  // the root may hold processes beside cgroups with controllers
  if (basename_of(*rel) == kMonitorsDir) return false;  // in it already
  auto found = monitors_dir_beside(view.proc_cgroup, *h);
  if (!found) return Error(ENOENT, "step into the monitors' cgroup: `" + *rel + "` is outside the cgroup2 mount");
  const std::string& dir = *found;
  if (auto m = make_monitors_dir({}, dir, false); !m) return std::move(m).error();
  if (auto r = join_self(dir, false, false); !r) return std::move(r).error().context("step into `" + dir + "`");
  return true;
}

Result<process::ChildProcess> ContainerCgroups::leave_monitor_in_background() {
  std::vector<std::string> monitor;
  for (const auto& d : monitor_dirs_)
    if (is_monitor_dir(d)) monitor.push_back(d);
  pid_t self = ::getpid();
  auto child = process::spawn([&] { return leave(ops_, hierarchies_, monitor, self) ? 0 : 1; });
  if (!child) return std::move(child).error().context("leave the monitor cgroup");
  return child;
}

// The delegatee may then create sub-cgroups, move its processes between them and (v2) enable
// controllers for them; limits set on the payload cgroup itself stay root-owned. Only the files
// the hierarchy's kind has (a hybrid host's ten hierarchies gave 20 ENOENTs of 50 chowns), each
// through the directory's fd rather than its path again.
Result<void> ContainerCgroups::delegate(uid_t uid, gid_t gid) {
  static constexpr std::array<const char*, 2> kV1Files{"cgroup.procs", "tasks"};
  static constexpr std::array<const char*, 3> kV2Files{"cgroup.procs", "cgroup.subtree_control", "cgroup.threads"};
  const std::string ids = std::to_string(uid) + ":" + std::to_string(gid);
  for (size_t i = 0; i < payload_dirs_.size(); ++i) {
    const std::string& dir = payload_dirs_[i];
    const std::string what = "delegate `" + dir + "` to `" + ids + "`";
    UniqueFd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd || ::fchownat(fd.get(), "", uid, gid, AT_EMPTY_PATH) < 0)
      return Error::from_errno(errno, what + ": chown `" + dir + "`");
    auto files = dir_is_v1(v2_, i, dir) ? std::span<const char* const>(kV1Files)
                                        : std::span<const char* const>(kV2Files);
    for (const char* file : files)
      if (::fchownat(fd.get(), file, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT)
        return Error::from_errno(errno, what + ": chown `" + dir + "/" + file + "`");
  }
  return {};
}

// Each figure comes from the first hierarchy that has it, in layout order.
Result<Stats> ContainerCgroups::stats() const {
  Stats s;
  for (const auto& dir : payload_dirs_) {
    auto r = path_exists(dir + "/cgroup.controllers") ? v2::read_stats(dir, s) : v1::read_stats(dir, s);
    if (!r) return std::move(r).error().context("read cgroup stats");
  }
  return s;
}

std::optional<uint64_t> ContainerCgroups::memory_current() const {
  // The v1 memory hierarchy's dir first (found by its mount's name): a listing of a thousand
  // containers would otherwise try the two files in every hierarchy before it.
  std::vector<const std::string*> order;
  for (const auto& dir : payload_dirs_)
    if (dir.find("/memory/") != std::string::npos) order.insert(order.begin(), &dir);
    else order.push_back(&dir);
  for (const auto* dir : order)
    for (const char* file : {"/memory.usage_in_bytes", "/memory.current"})
      if (auto v = read_counter(*dir + file); v && *v) return **v;
  return std::nullopt;
}

// Includes the sub-cgroups a guest made: their processes are the container's too.
std::vector<pid_t> ContainerCgroups::payload_pids() const {
  std::set<pid_t> all;
  for (const auto& dir : payload_dirs_)
    if (auto pids = subtree_pids(dir)) all.insert(pids->begin(), pids->end());
  return {all.begin(), all.end()};
}

// Goes as far as it can: every dir is tried even after a failure, and the first error is returned.
Result<void> ContainerCgroups::destroy(int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::optional<Error> first;
  auto note = [&](Result<void> r) {
    if (!r && !first) first = std::move(r).error();
  };
  auto ours = [&](const std::vector<std::string>& dirs, auto is_ours) {
    std::vector<std::string> out;
    for (const auto& d : dirs) {
      if (is_ours(d))
        out.push_back(d);
      else
        note(Error::invalid("refuse to remove `" + d + "`: not a cove cgroup"));
    }
    return out;
  };
  auto payload = ours(payload_dirs_, [&](const std::string& d) { return explicit_path_ || is_cove_dir(d, kPayloadPrefix); });
  auto monitor = ours(monitor_dirs_, is_monitor_dir);

  // A v1-frozen task does not die until thawed (v2 delivers SIGKILL anyway): thaw first, also
  // after a monitor that crashed while the container was frozen.
  // A failed thaw is logged, not fatal: the kill below still tries, and reports what stays.
  for (const auto& d : payload) {
    for (auto [file, value] : {std::pair{"/freezer.state", "THAWED"}, {"/cgroup.freeze", "0"}}) {
      if (!path_exists(d + file)) continue;
      if (auto r = write_existing(d + file, value); !r)
        log::warn("thaw `{}{}` before removal: {}", d, file, r.error().message());
    }
  }
  note(kill_payload(payload, deadline, timeout_ms));
  note(leave(ops_, hierarchies_, monitor, ::getpid()));
  for (const auto& d : payload) note(remove_cgroup_tree(ops_, d, deadline));
  // The shared monitor cgroup goes with its last monitor: rmdir fails (EBUSY) while another is in it.
  for (const auto& d : monitor) {
    if (!is_monitors_dir(d)) note(remove_cgroup_tree(ops_, d, deadline));
    else if (remove_dir(ops_, d) < 0 && errno != EBUSY && errno != ENOENT)
      note(Error::from_errno(errno, "remove cgroup `" + d + "`"));
  }
  if (first) return std::move(*first).context("destroy cgroups");
  return {};
}

// Between two boots (a reboot): the old boot's processes are killed, the cgroups its init made
// below the payload dirs are removed, and the controllers it enabled for them are disabled
// again. On cgroup v2 a payload dir whose cgroup.subtree_control lists controllers cannot take
// the new init ("no internal processes": EBUSY), and systemd delegates every controller.
Result<void> ContainerCgroups::reset_payload(int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  COVE_TRY(kill_payload(payload_dirs_, deadline, timeout_ms));
  for (const auto& dir : payload_dirs_) {
    auto below = subdirs_bottom_up(dir);
    if (!below) return std::move(below).error().context("reset cgroup `" + dir + "`");
    for (const auto& d : *below) COVE_TRY(remove_cgroup_tree(ops_, d, deadline));
    std::string control = dir + "/cgroup.subtree_control";
    if (!path_exists(control)) continue;
    auto enabled = read_file(control);
    if (!enabled) return std::move(enabled).error();
    for (const auto& c : split_ws(*enabled))
      if (auto r = write_existing(control, "-" + c); !r) return std::move(r).error().context("reset cgroup `" + dir + "`");
  }
  return {};
}

}  // namespace cove::cgroup
