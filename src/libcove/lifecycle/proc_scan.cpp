#include "lifecycle/proc_scan.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <map>
#include <set>
#include <sstream>

#include "base/fs.hpp"
#include "base/strings.hpp"

namespace cove::lifecycle {

namespace {
std::string readlink_str(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  return n < 0 ? std::string() : std::string(buf, size_t(n));
}

std::optional<uint64_t> pipe_inode(const std::string& target) {
  if (!starts_with(target, "pipe:[") || target.back() != ']') return std::nullopt;
  return parse_uint(target.substr(6, target.size() - 7));
}

std::vector<pid_t> all_pids() {
  std::vector<pid_t> out;
  if (auto names = list_dir("/proc"))
    for (const auto& n : *names)
      if (auto v = parse_int(n); v && *v > 0) out.push_back(pid_t(*v));
  return out;
}
}  // namespace

std::vector<std::string> parse_net_dev(const std::string& text) {
  // Two header lines, then "  NAME: counters..." per interface.
  std::vector<std::string> out;
  for (const auto& line : split(text, '\n')) {
    auto colon = line.find(':');
    if (colon == std::string::npos || line.find('|') != std::string::npos) continue;
    auto name = trim(std::string_view(line).substr(0, colon));
    if (!name.empty()) out.emplace_back(name);
  }
  return out;
}

Result<std::vector<std::string>> net_interfaces(pid_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/net/dev");
  if (!text) return std::move(text).error();
  return parse_net_dev(*text);
}

std::vector<OpenFile> open_files(pid_t pid) {
  std::vector<OpenFile> out;
  std::string base = "/proc/" + std::to_string(pid);
  auto fds = list_dir(base + "/fd");
  if (!fds) return out;
  for (const auto& n : *fds) {
    auto fd = parse_int(n);
    if (!fd) continue;
    OpenFile f;
    f.pid = pid;
    f.fd = int(*fd);
    f.target = readlink_str(base + "/fd/" + n);
    if (auto info = read_file(base + "/fdinfo/" + n)) {
      auto pos = info->find("flags:");
      if (pos != std::string::npos) f.flags = unsigned(std::strtoul(info->c_str() + pos + 6, nullptr, 8));
      if (auto m = info->find("mnt_id:"); m != std::string::npos) f.mnt_id = int(std::strtol(info->c_str() + m + 7, nullptr, 10));
    }
    out.push_back(std::move(f));
  }
  return out;
}

namespace {
// A unit name ends in one of systemd's unit type suffixes.
bool names_a_unit(std::string_view s) {
  for (std::string_view suffix : {".service", ".scope", ".slice", ".socket", ".mount", ".swap"})
    if (s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix) return true;
  return false;
}
}  // namespace

std::string systemd_unit_of(const std::string& cgroup_text) {
  std::string v2, named;
  for (const auto& line : split(cgroup_text, '\n')) {
    if (starts_with(line, "0::")) v2 = line.substr(3);
    auto pos = line.find(":name=systemd:");
    if (pos != std::string::npos) named = line.substr(pos + 14);
  }
  for (const std::string* path : {&v2, &named}) {
    auto slash = path->rfind('/');
    std::string last = slash == std::string::npos ? *path : path->substr(slash + 1);
    if (names_a_unit(last)) return last;
  }
  return "";
}

bool is_pressure_file(const std::string& target) {
  for (std::string_view name : {"/memory.pressure", "/cpu.pressure", "/io.pressure", "/irq.pressure"})
    if (target.size() > name.size() && std::string_view(target).substr(target.size() - name.size()) == name) return true;
  return false;
}

NamespacedIds parse_namespaced_ids(const std::string& status_text) {
  NamespacedIds out;
  std::istringstream in(status_text);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<int64_t>* dst = starts_with(line, "NSpid:")    ? &out.pid
                                : starts_with(line, "NSpgid:") ? &out.pgid
                                : starts_with(line, "NSsid:")  ? &out.sid
                                                               : nullptr;
    if (!dst) continue;
    for (const auto& f : split_ws(std::string_view(line).substr(line.find(':') + 1)))
      if (auto v = parse_int(f)) dst->push_back(*v);
  }
  return out;
}

std::vector<criu::ExternalPipe> find_external_pipes(const std::vector<pid_t>& pids) {
  std::map<uint64_t, bool> inside;  // inode -> held for writing
  std::set<pid_t> members(pids.begin(), pids.end());
  for (pid_t p : pids)
    for (const auto& f : open_files(p))
      if (auto ino = pipe_inode(f.target)) inside[*ino] = inside[*ino] || (f.flags & O_ACCMODE) == O_WRONLY;
  std::vector<criu::ExternalPipe> out;
  if (inside.empty()) return out;
  std::set<uint64_t> found;
  for (pid_t p : all_pids()) {
    if (members.count(p)) continue;
    auto fds = list_dir("/proc/" + std::to_string(p) + "/fd");
    if (!fds) continue;
    for (const auto& n : *fds) {
      auto ino = pipe_inode(readlink_str("/proc/" + std::to_string(p) + "/fd/" + n));
      if (ino && inside.count(*ino)) found.insert(*ino);
    }
  }
  for (uint64_t ino : found) out.push_back({ino, inside[ino]});
  return out;
}

Result<UniqueFd> reopen_external_pipe(const criu::ExternalPipe& pipe) {
  std::string key = "pipe:[" + std::to_string(pipe.inode) + "]";
  for (pid_t p : all_pids()) {
    std::string dir = "/proc/" + std::to_string(p) + "/fd";
    auto fds = list_dir(dir);
    if (!fds) continue;
    for (const auto& n : *fds) {
      if (readlink_str(dir + "/" + n) != key) continue;
      // Opening a pipe through /proc gives a new file on the same pipe, with the end we ask for.
      UniqueFd fd(::open((dir + "/" + n).c_str(), (pipe.write_end ? O_WRONLY : O_RDONLY) | O_CLOEXEC | O_NONBLOCK));
      if (!fd) continue;
      int fl = ::fcntl(fd.get(), F_GETFL);
      if (fl >= 0) ::fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK);
      return fd;
    }
  }
  return Error(ENOENT, "no process holds " + key);
}

}  // namespace cove::lifecycle
