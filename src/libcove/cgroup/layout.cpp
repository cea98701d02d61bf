// Host cgroup layout: which hierarchies are mounted where (parsed from mountinfo), and where a
// process sits in each of them (parsed from /proc/PID/cgroup). The parsers are pure; only
// `detect_layout` touches the system, and it only reads.
#include <linux/magic.h>
#include <sys/vfs.h>

#include <algorithm>
#include <set>

#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/mountinfo.hpp"
#include "base/strings.hpp"
#include "cgroup/cgroup.hpp"

namespace cove::cgroup {
namespace {

// Super options of a cgroup v1 mount that are not controllers. `name=...` is kept: it names a
// controller-less hierarchy and appears as such in /proc/PID/cgroup.
bool is_v1_flag(const std::string& opt) {
  static const std::set<std::string> kFlags = {
      "rw", "ro", "none", "all", "noprefix", "clone_children", "xattr", "cpuset_v2_mode", "favordynmods"};
  return kFlags.count(opt) > 0 || starts_with(opt, "release_agent=");
}

// Options minus rw/ro: passed back as mount(2) data, "rw" would override MS_RDONLY.
std::string strip_rw(const std::vector<std::string>& opts) {
  std::vector<std::string> kept;
  for (const auto& o : opts)
    if (o != "rw" && o != "ro") kept.push_back(o);
  return join(kept, ",");
}

std::set<std::string> as_set(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

// "a/b/" and "/a//b" both become "/a/b"; "" and "/" become "/".
std::string normalize_cgroup_path(const std::string& p) {
  std::string out;
  for (const auto& part : split(p, '/'))
    if (!part.empty() && part != ".") out += "/" + part;
  return out.empty() ? "/" : out;
}

bool has_magic(const std::string& path, bool v2) {
  struct statfs sfs;
  if (::statfs(path.c_str(), &sfs) < 0) return false;
  auto magic = static_cast<unsigned long>(sfs.f_type);
  return v2 ? magic == CGROUP2_SUPER_MAGIC : magic == CGROUP_SUPER_MAGIC;
}

}  // namespace

bool Layout::pure_v2() const { return hierarchies.size() == 1 && hierarchies.front().v2; }

const Hierarchy* Layout::find_v1(const std::string& controller) const {
  for (const auto& h : hierarchies)
    if (!h.v2 && std::find(h.controllers.begin(), h.controllers.end(), controller) != h.controllers.end()) return &h;
  return nullptr;
}

const Hierarchy* Layout::v2() const {
  for (const auto& h : hierarchies)
    if (h.v2) return &h;
  return nullptr;
}

// A mountinfo line: "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue"
// (proc(5)). The optional fields end at " - "; after it come fstype, source, super options.
// A hierarchy mounted twice (same device number) is listed once, at its first mount.
Result<Layout> parse_layout(const std::string& mountinfo) {
  auto mounts = parse_mountinfo(mountinfo);
  if (!mounts) return std::move(mounts).error();
  Layout layout;
  std::set<std::string> seen_devices;
  for (const auto& m : *mounts) {
    if (m.fstype != "cgroup" && m.fstype != "cgroup2") continue;
    if (!seen_devices.insert(m.device).second) continue;
    Hierarchy h;
    h.v2 = m.fstype == "cgroup2";
    h.mount_root = m.root;
    h.mount_point = m.mountpoint;
    auto super_opts = split(m.super_options, ',');
    h.mount_options = strip_rw(super_opts);
    if (!h.v2)
      for (const auto& o : super_opts)
        if (!o.empty() && !is_v1_flag(o)) h.controllers.push_back(o);
    layout.hierarchies.push_back(std::move(h));
  }
  return layout;
}

// Lines are "hierarchy-id:controller-list:path"; the path may itself contain ':'. v1 lines are
// matched by controller set (a named hierarchy lists `name=systemd`); the v2 line is "0::path".
// When no line has exactly `h`'s controllers, one sharing a controller with it is taken, so that
// an unexpected extra mount flag does not hide the hierarchy.
Result<std::string> cgroup_path_of(const std::string& proc_cgroup, const Hierarchy& h) {
  auto wanted = as_set(h.controllers);
  std::optional<std::string> overlap;
  for (const auto& line : split(proc_cgroup, '\n')) {
    if (trim(line).empty()) continue;
    size_t c1 = line.find(':');
    size_t c2 = c1 == std::string::npos ? std::string::npos : line.find(':', c1 + 1);
    if (c2 == std::string::npos)
      return Error::invalid("parse cgroup line `" + line + "`: expected `id:controllers:path`");
    std::string id = line.substr(0, c1);
    std::string ctrls = line.substr(c1 + 1, c2 - c1 - 1);
    std::string path = line.substr(c2 + 1);
    if (h.v2) {
      if (id == "0" && ctrls.empty()) return path;
      continue;
    }
    if (ctrls.empty()) continue;
    auto have = as_set(split(ctrls, ','));
    if (have == wanted) return path;
    if (!overlap && std::any_of(have.begin(), have.end(), [&](const std::string& c) { return wanted.count(c) > 0; }))
      overlap = path;
  }
  if (overlap) return *overlap;
  if (h.v2) return Error(ENOENT, "no cgroup2 entry (`0::`) for `" + h.mount_point + "`");
  return Error(ENOENT, "no entry for controllers `" + join(h.controllers, ",") + "` of `" + h.mount_point + "`");
}

Result<std::string> directory_of(const Hierarchy& h, const std::string& cgroup_path) {
  std::string path = normalize_cgroup_path(cgroup_path);
  std::string root = normalize_cgroup_path(h.mount_root);
  std::string rel;
  if (root == "/") {
    rel = path == "/" ? "" : path;
  } else if (path == root) {
    rel = "";
  } else if (starts_with(path, root + "/")) {
    rel = path.substr(root.size());
  } else {
    return Error(ENOENT, "cgroup `" + path + "` is outside `" + root + "`, the part of the hierarchy mounted at `" +
                             h.mount_point + "`");
  }
  // A cgroup outside the reader's cgroup namespace shows as "/../..".
  for (const auto& part : split(rel, '/'))
    if (part == "..") return Error::invalid("cgroup `" + path + "` is outside this cgroup namespace");
  std::string mp = h.mount_point;
  while (mp.size() > 1 && mp.back() == '/') mp.pop_back();
  return mp + rel;
}

Result<Layout> detect_layout() {
  auto text = read_file("/proc/self/mountinfo");
  if (!text) return std::move(text).error().context("detect cgroup layout");
  auto parsed = parse_layout(*text);
  if (!parsed) return std::move(parsed).error().context("detect cgroup layout");

  Layout layout;
  for (auto& h : parsed->hierarchies) {
    // A later mount over the mount point (e.g. a tmpfs over /sys/fs/cgroup) hides the hierarchy;
    // mountinfo still lists it, statfs shows what a path lookup reaches.
    if (!has_magic(h.mount_point, h.v2)) {
      log::warn("cgroup hierarchy at `{}` is hidden by another mount; ignoring it", h.mount_point);
      continue;
    }
    if (h.v2) {
      auto ctrls = read_file(h.mount_point + "/cgroup.controllers");
      if (!ctrls) return std::move(ctrls).error().context("detect cgroup layout");
      h.controllers = split_ws(*ctrls);
    }
    layout.hierarchies.push_back(std::move(h));
  }
  if (layout.hierarchies.empty())
    return Error(ENOENT, "detect cgroup layout: no cgroup filesystem mounted (see `/proc/self/mountinfo`)");
  log::debug("cgroup layout: {} hierarchies{}", layout.hierarchies.size(), layout.pure_v2() ? " (pure v2)" : "");
  return layout;
}

namespace {
std::string yard_name(std::vector<std::string> controllers) {
  for (auto& c : controllers)
    if (starts_with(c, "name=")) c = c.substr(5);
  return controllers.empty() ? "unified" : join(controllers, ",");
}
}  // namespace

std::vector<std::pair<std::string, std::string>> criu_yard_entries(const Layout& layout) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& h : layout.hierarchies) {
    if (h.mount_root != "/") return {};
    out.emplace_back(h.v2 ? std::string("unified") : yard_name(h.controllers), h.mount_point);
  }
  return out;
}

std::vector<std::string> criu_yard_names(const std::string& proc_cgroup) {
  std::vector<std::string> out;
  for (const auto& line : split(proc_cgroup, '\n')) {
    auto first = line.find(':');
    auto second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    std::string list = line.substr(first + 1, second - first - 1);
    out.push_back(yard_name(list.empty() ? std::vector<std::string>{} : split(list, ',')));
  }
  return out;
}

}  // namespace cove::cgroup
