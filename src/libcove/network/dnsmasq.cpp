#include "network/dnsmasq.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

#include <fmt/format.h>

#include "base/clock.hpp"
#include "base/fs.hpp"
#include "base/strings.hpp"
#include "base/syscalls.hpp"
#include "cgroup/cgroup.hpp"
#include "process/child_process.hpp"

namespace cove::network {
namespace {

uint32_t v4_value(const IpAddress& a) {
  return (uint32_t{a.bytes[0]} << 24) | (uint32_t{a.bytes[1]} << 16) | (uint32_t{a.bytes[2]} << 8) | a.bytes[3];
}

bool is_label_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

}  // namespace

DnsmasqFiles dnsmasq_files(const std::string& dir) {
  return {dir + "/dnsmasq.pid", dir + "/dnsmasq.leases", dir + "/dnsmasq.hosts", dir + "/dnsmasq.log"};
}

std::optional<Ipv4Range> dhcp_range_v4(const IpPrefix& bridge) {
  if (!bridge.address.is_v4() || bridge.prefix > 30) return std::nullopt;
  IpPrefix net = bridge.network();
  uint64_t size = uint64_t{1} << (32 - bridge.prefix);
  uint64_t at = v4_value(bridge.address) - v4_value(net.address);  // 1 .. size-2 for a valid address
  uint64_t below = at > 1 ? at - 1 : 0;                              // hosts 1 .. at-1
  uint64_t above = at + 2 <= size ? size - 2 - at : 0;               // hosts at+1 .. size-2
  if (below == 0 && above == 0) return std::nullopt;
  if (above >= below) return Ipv4Range{*net.nth(at + 1), *net.nth(size - 2)};
  return Ipv4Range{*net.nth(1), *net.nth(at - 1)};
}

std::string dhcp_range_v6(const IpPrefix& bridge) {
  return fmt::format("{},ra-stateless,ra-names,{}", bridge.network().address.str(), bridge.prefix);
}

std::vector<std::string> dnsmasq_args(const ManagedNetwork& net, const DnsmasqFiles& files, const std::string& user) {
  std::vector<std::string> a = {kDnsmasqPath,
                                "--conf-file=/dev/null",  // neither /etc/dnsmasq.conf nor /etc/dnsmasq.d
                                "--user=" + user,
                                "--strict-order",
                                "--bind-interfaces",
                                "--except-interface=lo",
                                "--interface=" + net.bridge};
  if (net.ipv4) a.push_back("--listen-address=" + net.ipv4->address.str());
  if (net.ipv6) a.push_back("--listen-address=" + net.ipv6->address.str());
  if (net.ipv4) {
    if (auto r = dhcp_range_v4(*net.ipv4)) a.push_back("--dhcp-range=" + r->first.str() + "," + r->last.str());
  }
  if (net.ipv6) a.insert(a.end(), {"--dhcp-range=" + dhcp_range_v6(*net.ipv6), "--enable-ra"});
  a.insert(a.end(), {"--dhcp-no-override", "--dhcp-authoritative", "--dhcp-leasefile=" + files.lease_file,
                     "--pid-file=" + files.pid_file, std::string("--domain=") + kNetworkDomain,
                     std::string("--local=/") + kNetworkDomain + "/", "--expand-hosts", "--no-hosts",
                     "--addn-hosts=" + files.hosts_file, "--log-facility=" + files.log_file});
  return a;
}

// Read from /etc/passwd, not through NSS: the tools are static, and glibc's NSS would load
// shared modules at run time. A system user such as dnsmasq lives in /etc/passwd.
std::string dnsmasq_user() {
  auto text = read_regular_file("/etc/passwd", 16 * 1024 * 1024);
  if (text)
    for (const auto& line : split(*text, '\n'))
      if (starts_with(line, "dnsmasq:")) return "dnsmasq";
  return "nobody";
}

std::vector<HostEntry> parse_hosts(const std::string& text) {
  std::vector<HostEntry> out;
  for (const auto& line : split(text, '\n')) {
    auto f = split_ws(line);
    if (f.size() < 2 || f[0][0] == '#') continue;
    auto a = IpAddress::parse(f[0]);
    if (a && validate_hostname(f[1])) out.push_back({*a, f[1]});
  }
  return out;
}

std::string format_hosts(const std::vector<HostEntry>& hosts) {
  std::string out = "# Written by cove: names registered on this network (register_host).\n";
  for (const auto& h : hosts) out += h.address.str() + " " + h.hostname + "\n";
  return out;
}

Result<void> validate_hostname(const std::string& h) {
  if (h.empty() || h.size() > 63)
    return Error::invalid(fmt::format("host name `{}` must have 1 to 63 characters", printable(h)));
  if (h.front() == '-' || h.back() == '-')
    return Error::invalid(fmt::format("host name `{}` must not start or end with '-'", printable(h)));
  for (char c : h)
    if (!is_label_char(c))
      return Error::invalid(fmt::format("host name `{}` has character `{}` (allowed: letters, digits, -)",
                                        printable(h), printable(std::string(1, c))));
  return {};
}

std::vector<DhcpLease> parse_leases(const std::string& text) {
  std::vector<DhcpLease> out;
  for (const auto& line : split(text, '\n')) {
    auto f = split_ws(line);
    if (f.size() < 4 || f[0] == "duid") continue;
    DhcpLease l;
    l.expiry = parse_int(f[0]).value_or(0);
    l.mac = f[1];
    l.address = f[2];
    l.hostname = f[3] == "*" ? "" : f[3];
    l.client_id = f.size() > 4 && f[4] != "*" ? f[4] : "";
    out.push_back(std::move(l));
  }
  return out;
}

// --- the process ---------------------------------------------------------------------------

std::vector<std::string> process_args(pid_t pid) {
  auto text = read_file(fmt::format("/proc/{}/cmdline", pid));
  if (!text || text->empty()) return {};
  if (text->back() == '\0') text->pop_back();
  return split(*text, '\0');
}

namespace {

bool is_our_dnsmasq(pid_t pid, const std::string& pid_file) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(fmt::format("/proc/{}/exe", pid).c_str(), buf, sizeof buf - 1);
  if (n <= 0) return false;  // gone, a zombie, or a kernel thread
  std::string exe(buf, static_cast<size_t>(n));
  if (basename_of(exe) != "dnsmasq" && !starts_with(basename_of(exe), "dnsmasq ")) return false;  // " (deleted)"
  auto args = process_args(pid);
  return std::find(args.begin(), args.end(), "--pid-file=" + pid_file) != args.end();
}

std::optional<pid_t> pid_in_file(const std::string& pid_file) {
  auto text = read_file(pid_file);
  if (!text) return std::nullopt;
  auto n = parse_int(trim(*text));
  if (!n || *n <= 0 || *n > INT_MAX) return std::nullopt;
  return static_cast<pid_t>(*n);
}

std::optional<pid_t> scan_proc(const std::string& pid_file) {
  DIR* d = ::opendir("/proc");
  if (!d) return std::nullopt;
  std::optional<pid_t> found;
  while (dirent* e = ::readdir(d)) {
    auto n = parse_int(e->d_name);
    if (n && *n > 0 && is_our_dnsmasq(static_cast<pid_t>(*n), pid_file)) {
      found = static_cast<pid_t>(*n);
      break;
    }
  }
  ::closedir(d);
  return found;
}

// The last lines dnsmasq wrote to its log from `offset` on, joined: why it did not start.
std::string log_tail(const std::string& log_file, size_t offset) {
  auto text = read_file(log_file);
  if (!text || text->size() <= offset) return "no message in its log";
  std::vector<std::string> lines;
  for (auto& l : split(text->substr(offset), '\n'))
    if (!trim(l).empty()) lines.push_back(std::string(trim(l)));
  if (lines.size() > 3) lines.erase(lines.begin(), lines.end() - 3);
  return printable(join(lines, "; "));
}

[[noreturn]] void exec_dnsmasq(std::vector<char*>& argv, int log_fd) {
  // Started by a container's monitor, it outlives that container: not in its cgroups, which
  // could not be removed while it is there.
  if (auto r = cgroup::leave_container_cgroups(); !r) {
    std::string msg = "dnsmasq: " + r.error().message() + "\n";
    (void)!::write(log_fd, msg.data(), msg.size());
    ::_exit(126);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
  int null = ::open("/dev/null", O_RDWR);
  ::dup2(null, 0);
  ::dup2(log_fd, 1);
  ::dup2(log_fd, 2);
  ::close_range(3, ~0U, 0);
  ::execv(argv[0], argv.data());
  ::_exit(127);
}

UniqueFd open_pidfd_of_ours(pid_t pid, const std::string& pid_file) {
  UniqueFd fd(sys::pidfd_open(pid, 0));
  // Checked after the pidfd exists: from now on it names this process even if the pid is reused.
  if (!fd || !is_our_dnsmasq(pid, pid_file)) return UniqueFd();
  return fd;
}

bool exits_within(int pidfd, int timeout_ms) {
  struct pollfd p = {pidfd, POLLIN, 0};
  int n;
  while ((n = ::poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
  }
  return n > 0;
}

}  // namespace

std::optional<pid_t> find_dnsmasq(const std::string& pid_file) {
  if (auto pid = pid_in_file(pid_file); pid && is_our_dnsmasq(*pid, pid_file)) return pid;
  return scan_proc(pid_file);
}

Result<pid_t> start_dnsmasq(const std::vector<std::string>& args, const DnsmasqFiles& files) {
  ::unlink(files.pid_file.c_str());
  UniqueFd log(::open(files.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640));
  if (!log) return Error::from_errno(errno, "open `" + files.log_file + "`");
  off_t offset = ::lseek(log.get(), 0, SEEK_END);
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  auto first = process::spawn([&]() -> int { exec_dnsmasq(argv, log.get()); });
  if (!first) return std::move(first).error().context("start dnsmasq");
  auto status = first->wait();
  if (!status) return std::move(status).error().context("start dnsmasq");
  // dnsmasq's first process exits once the daemon is ready (0) or gave up (1 config, 2 network,
  // 3 filesystem, 4 memory, 5 other: dnsmasq(8) EXIT CODES).
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0)
    return Error(EIO, fmt::format("dnsmasq exited with status {}: {} (log `{}`)", process::exit_code_of(*status),
                                  log_tail(files.log_file, offset > 0 ? static_cast<size_t>(offset) : 0),
                                  files.log_file));
  int64_t deadline = monotonic_ms() + 3000;
  do {
    if (auto pid = pid_in_file(files.pid_file); pid && is_our_dnsmasq(*pid, files.pid_file)) return *pid;
    ::usleep(5000);
  } while (monotonic_ms() < deadline);
  return Error(EIO, fmt::format("dnsmasq started but `{}` names no running dnsmasq of ours", files.pid_file));
}

Result<void> signal_dnsmasq(pid_t pid, const std::string& pid_file, int sig) {
  UniqueFd fd = open_pidfd_of_ours(pid, pid_file);
  if (!fd) return Error(ESRCH, fmt::format("process {} is not the dnsmasq of `{}`", pid, pid_file));
  if (sys::pidfd_send_signal(fd.get(), sig, nullptr, 0) < 0)
    return Error::from_errno(errno, fmt::format("signal dnsmasq {}", pid));
  return {};
}

Result<void> stop_dnsmasq(pid_t pid, const std::string& pid_file) {
  UniqueFd fd = open_pidfd_of_ours(pid, pid_file);
  if (!fd) return {};
  for (int sig : {SIGTERM, SIGKILL}) {
    if (sys::pidfd_send_signal(fd.get(), sig, nullptr, 0) < 0) {
      if (errno == ESRCH) return {};
      return Error::from_errno(errno, fmt::format("signal dnsmasq {}", pid));
    }
    if (exits_within(fd.get(), 5000)) return {};
  }
  return Error(ETIMEDOUT, fmt::format("dnsmasq {} did not exit after SIGKILL", pid));
}

}  // namespace cove::network
