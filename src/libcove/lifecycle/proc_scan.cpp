#include "lifecycle/proc_scan.hpp"

#include <fcntl.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <set>
#include <sstream>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "base/syscalls.hpp"

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

// The fields of an fd's fdinfo that cove reads.
struct FdInfo {
  unsigned flags = 0;
  int mnt_id = -1;  // the mount the file was opened on
};
std::optional<FdInfo> read_fdinfo(const std::string& path) {
  auto info = read_file(path);
  if (!info) return std::nullopt;
  FdInfo out;
  if (auto pos = info->find("flags:"); pos != std::string::npos)
    out.flags = unsigned(std::strtoul(info->c_str() + pos + 6, nullptr, 8));
  if (auto m = info->find("mnt_id:"); m != std::string::npos) out.mnt_id = int(std::strtol(info->c_str() + m + 7, nullptr, 10));
  return out;
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

std::vector<OpenFile> open_files(pid_t pid, bool with_fdinfo) {
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
    if (auto info = with_fdinfo ? read_fdinfo(base + "/fdinfo/" + n) : std::nullopt) {
      f.flags = info->flags;
      f.mnt_id = info->mnt_id;
    }
    out.push_back(std::move(f));
  }
  return out;
}

namespace {
// A file as CRIU tells files apart for an exe link: device, inode, and the mount it was
// opened on.
struct FileKey {
  dev_t dev = 0;
  ino_t ino = 0;
  int mnt_id = -1;
  auto operator<=>(const FileKey&) const = default;
};

// The program a process runs, through an O_PATH fd of its exe link (nothing is opened for
// reading, nothing in the container runs).
std::optional<FileKey> exe_key(pid_t pid) {
  UniqueFd fd(::open(("/proc/" + std::to_string(pid) + "/exe").c_str(), O_PATH | O_CLOEXEC));
  struct stat st;
  if (!fd || ::fstat(fd.get(), &st) < 0) return std::nullopt;
  auto info = read_fdinfo("/proc/self/fdinfo/" + std::to_string(fd.get()));
  if (!info) return std::nullopt;
  return FileKey{st.st_dev, st.st_ino, info->mnt_id};
}
}  // namespace

std::optional<ExeHeldByPath> find_exe_held_by_path(const std::vector<pid_t>& pids) {
  std::map<FileKey, pid_t> programs;
  for (pid_t p : pids)
    if (auto key = exe_key(p)) programs.emplace(*key, p);
  for (pid_t p : pids)
    for (const auto& f : open_files(p)) {
      struct stat st;
      if (!(f.flags & O_PATH)) continue;
      if (::stat(("/proc/" + std::to_string(p) + "/fd/" + std::to_string(f.fd)).c_str(), &st) < 0) continue;
      auto it = programs.find(FileKey{st.st_dev, st.st_ino, f.mnt_id});
      if (it != programs.end())
        return ExeHeldByPath{it->second, p, f.fd, readlink_str("/proc/" + std::to_string(it->second) + "/exe")};
    }
  return std::nullopt;
}

namespace {
// Whether the socket (a copy of the container's fd) has a message queued that comes with
// credentials on receipt: its receiver set SO_PASSCRED, SO_PASSPIDFD or SO_PASSSEC.
bool queues_credentials(int sock) {
  int domain = 0, queued = 0;
  socklen_t len = sizeof domain;
  if (::getsockopt(sock, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 || domain != AF_UNIX) return false;
  if (::ioctl(sock, SIOCINQ, &queued) < 0 || queued <= 0) return false;  // a listening socket: EINVAL
  for (int opt : {SO_PASSCRED, 76 /* SO_PASSPIDFD */, SO_PASSSEC}) {
    int on = 0;
    len = sizeof on;
    if (::getsockopt(sock, SOL_SOCKET, opt, &on, &len) == 0 && on) return true;
  }
  return false;
}
}  // namespace

std::optional<PassingFdState> find_passing_fd_state(const std::vector<pid_t>& pids) {
  for (pid_t p : pids) {
    UniqueFd pidfd(sys::pidfd_open(p, 0));
    if (!pidfd) continue;  // gone
    // Only the links: this runs while the tree is frozen for a dump.
    for (const auto& f : open_files(p, false)) {
      if (f.target == "anon_inode:[fscontext]") return PassingFdState{p, f.fd, "a mount being set up (fscontext)"};
      if (!starts_with(f.target, "socket:[")) continue;
      UniqueFd copy(sys::pidfd_getfd(pidfd.get(), f.fd, 0));
      if (copy && queues_credentials(copy.get()))
        return PassingFdState{p, f.fd, "a unix socket with a message queued that carries the sender's credentials"};
    }
  }
  return std::nullopt;
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
