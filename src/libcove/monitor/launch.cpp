#include "monitor/launch.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <fmt/format.h>

#include "base/scope_exit.hpp"
#include "base/stdio_relay.hpp"
#include "cgroup/cgroup.hpp"
#include "host_config.hpp"
#include "paths.hpp"
#include "process/child_process.hpp"

extern char** environ;

namespace cove::monitor {

namespace {

// The monitor gets our host config as values, not as a file to read again: it keeps the one
// this start was checked under, whatever happens to the file (or $COVE_CONFIG) later.
void add_host_config(std::vector<std::string>& args) {
  const HostConfig& host = host_config();
  for (const auto& [key, value] : host_keys(host)) args.insert(args.end(), {"--host", key + "=" + value});
  if (!host.source.empty()) args.insert(args.end(), {"--host-config", host.source});
}

std::vector<std::string> monitor_args(const LaunchOptions& o) {
  std::vector<std::string> args = {find_helper("cove-monitor"), "--path", o.lxcpath, "--name", o.name};
  add_host_config(args);
  if (!o.log_file.empty()) args.insert(args.end(), {"--log-file", o.log_file});
  if (!o.log_level.empty()) args.insert(args.end(), {"--log-level", o.log_level});
  if (!o.restore_from.empty()) args.insert(args.end(), {"--restore", o.restore_from});
  if (o.restore_thaw) args.push_back("--restore-thaw");
  if (o.restore_lazy_pages) args.push_back("--restore-lazy-pages");
  if (o.restore_timeout_s > 0) args.insert(args.end(), {"--restore-timeout", std::to_string(o.restore_timeout_s)});
  return args;
}

void add_init_override(std::vector<std::string>& args, const LaunchOptions& o) {
  if (o.init_override.empty()) return;
  args.push_back("--");
  args.insert(args.end(), o.init_override.begin(), o.init_override.end());
}

constexpr std::string_view kTunables = "GLIBC_TUNABLES";
constexpr std::string_view kCallerTunables = "COVE_CALLER_GLIBC_TUNABLES";
constexpr std::string_view kNoTcache = "glibc.malloc.tcache_count=0";

// `entry` is NAME=... for `name`.
bool names(std::string_view entry, std::string_view name) {
  return entry.size() > name.size() && entry.substr(0, name.size()) == name && entry[name.size()] == '=';
}

std::vector<char*> argv_of(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return argv;
}

struct MonitorExec {
  std::vector<std::string> args, env;
  std::vector<char*> argv, envp;

  explicit MonitorExec(std::vector<std::string> a) : args(std::move(a)), env(monitor_environment(environ)) {
    argv = argv_of(args);
    envp = argv_of(env);
  }
  MonitorExec(const MonitorExec&) = delete;  // argv and envp point into args and env
  MonitorExec& operator=(const MonitorExec&) = delete;
  int exec() { return ::execve(argv[0], argv.data(), envp.data()); }  // returns only on failure
};

// Runs the foreground monitor `m` as our child with the relay's pipes for stdio, copies
// them to and from our terminal, and returns its exit status. Signals someone sends us go on
// to the monitor; the ones the terminal sends reach it anyway (same process group).
Result<int> run_relayed(MonitorExec& m, StdioRelay& relay) {
  sigset_t forward, old_mask;
  sigemptyset(&forward);
  for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2}) sigaddset(&forward, sig);
  ::sigprocmask(SIG_BLOCK, &forward, &old_mask);
  ScopeExit restore_mask([&] { ::sigprocmask(SIG_SETMASK, &old_mask, nullptr); });
  UniqueFd sigfd(::signalfd(-1, &forward, SFD_CLOEXEC | SFD_NONBLOCK));
  auto into = cgroup::monitors_clone_target();
  auto monitor = process::spawn(
      [&] {
        for (int i = 0; i < 3; ++i)
          if (relay.relays(i)) ::dup2(relay.child_fd(i), i);
        ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
        m.exec();
        return 127;
      },
      {.cgroup_fd = into.fd.get()});
  if (!monitor) return std::move(monitor).error().context("start monitor");
  relay.close_child_ends();
  // Signals the terminal sent reached the monitor already (one process group).
  relay.copy_until_exit(monitor->pidfd(), sigfd.get(), [&](const struct signalfd_siginfo& si) {
    if (si.ssi_code != SI_KERNEL) (void)monitor->signal(int(si.ssi_signo));  // ESRCH: it has just exited
  });
  auto status = monitor->wait();
  if (!status) return std::move(status).error();
  return process::exit_code_of(*status);
}

// Runs in the middle child of the double fork: execs the monitor `m` with `status_wr` as
// fd 3 and /dev/null for stdio. Returns only if the exec failed.
int exec_detached_monitor(MonitorExec& m, int status_wr) {
  int null = ::open("/dev/null", O_RDWR);
  if (status_wr == 3) ::fcntl(3, F_SETFD, 0);  // dup2(3, 3) would keep close-on-exec
  else ::dup2(status_wr, 3);
  for (int i = 0; i < 3; ++i) ::dup2(null, i);
  if (null > 3) ::close(null);
  m.exec();
  return 127;
}

// Double fork: the monitor is reparented at once and never becomes our zombie. The middle
// child spawns it and releases it (the monitor outlives us: init, or a subreaper, reaps it).
// The monitor is born in the monitors' cgroup2 cgroup where there is one (monitors_clone_target).
Result<void> spawn_detached(MonitorExec& m, UniqueFd status_wr) {
  auto into = cgroup::monitors_clone_target();
  auto mid = process::spawn([&] {
    auto monitor = process::spawn([&] { return exec_detached_monitor(m, status_wr.get()); },
                                  {.cgroup_fd = into.fd.get()});
    if (!monitor) return 1;
    (void)monitor->release();
    return 0;
  });
  if (!mid) return std::move(mid).error().context("start monitor");
  status_wr.reset();
  // Its exit status does not matter: a monitor that did not start reports nothing on fd 3.
  if (auto r = mid->wait(); !r) return std::move(r).error();
  return {};
}

std::string read_all(int fd) {
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) text.append(buf, static_cast<size_t>(n));
  return text;
}

}  // namespace

std::vector<std::string> monitor_environment(char* const* env) {
  std::vector<std::string> out;
  std::string caller;
  bool had = false;
  for (; env && *env; ++env) {
    std::string_view e(*env);
    if (names(e, kCallerTunables)) continue;
    if (names(e, kTunables)) {
      had = true;
      caller = std::string(e.substr(kTunables.size() + 1));
      continue;
    }
    out.emplace_back(e);
  }
  out.push_back(fmt::format("{}={}{}{}", kTunables, kNoTcache, caller.empty() ? "" : ":", caller));
  if (had) out.push_back(fmt::format("{}={}", kCallerTunables, caller));
  return out;
}

void restore_caller_tunables() {
  const char* caller = ::getenv(std::string(kCallerTunables).c_str());
  if (caller) ::setenv(std::string(kTunables).c_str(), caller, 1);
  else ::unsetenv(std::string(kTunables).c_str());
  ::unsetenv(std::string(kCallerTunables).c_str());
}

Result<std::optional<RestoreReply>> start_detached(const LaunchOptions& opts) {
  auto args = monitor_args(opts);
  args.insert(args.end(), {"--status-fd", "3"});
  add_init_override(args, opts);
  MonitorExec m(std::move(args));
  int pfd[2];
  if (::pipe2(pfd, O_CLOEXEC) < 0) return Error::from_errno(errno, "pipe");
  UniqueFd rd(pfd[0]), wr(pfd[1]);
  COVE_TRY(spawn_detached(m, std::move(wr)));
  // The monitor writes its status once; EOF with nothing means it died before reporting.
  std::string status = read_all(rd.get());
  if (status.empty()) return Error(EIO, fmt::format("monitor `{}` exited during start; see its log", m.args[0]));
  return decode_start_status(status);
}

Result<int> run_foreground(const LaunchOptions& opts, UniqueFd lock_fd, bool inherit_stdio) {
  auto args = monitor_args(opts);
  // The monitor replaces us; it keeps the lock until init runs.
  ::fcntl(lock_fd.get(), F_SETFD, 0);
  args.insert(args.end(), {"--foreground", "--lock-fd", std::to_string(lock_fd.get())});
  if (inherit_stdio) args.push_back("--inherit-stdio");
  add_init_override(args, opts);
  MonitorExec m(std::move(args));
  if (inherit_stdio) {
    // Init gets our stdio; a terminal among it must not cross (issue 10): pipes instead.
    auto relay = StdioRelay::for_terminals();
    if (!relay) return std::move(relay).error();
    if (!relay->empty()) return run_relayed(m, *relay);
  }
  m.exec();
  return Error::from_errno(errno, "exec monitor `" + m.args[0] + "`");
}

}  // namespace cove::monitor
