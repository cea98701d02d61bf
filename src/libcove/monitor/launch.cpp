#include "monitor/launch.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
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

// Runs in the middle child of the double fork: execs the monitor `m` with `status_wr` as fd 3,
// `starter_fd` as fd 4 and /dev/null for stdio. Returns only if the exec failed.
int exec_detached_monitor(MonitorExec& m, int status_wr, int starter_fd) {
  // Both above 4 first, so that neither dup2 overwrites the other; the dup2s' copies alone cross
  // the exec.
  int status = ::fcntl(status_wr, F_DUPFD_CLOEXEC, 5), starter = ::fcntl(starter_fd, F_DUPFD_CLOEXEC, 5);
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  ::dup2(status, 3);
  ::dup2(starter, 4);
  for (int i = 0; i < 3; ++i) ::dup2(null, i);
  m.exec();
  return 127;
}

// Double fork: the monitor is reparented at once and never becomes our zombie. The middle
// child spawns it and releases it (the monitor outlives us: init, or a subreaper, reaps it).
// The monitor is born in the monitors' cgroup2 cgroup `into` where there is one. Returns the
// middle child, to be waited for (its exit status does not matter: a monitor that did not
// start reports nothing on fd 3).
Result<process::ChildProcess> spawn_detached(MonitorExec& m, UniqueFd status_wr, UniqueFd starter_fd,
                                             const cgroup::CloneTarget& into) {
  auto mid = process::spawn([&] {
    auto monitor = process::spawn([&] { return exec_detached_monitor(m, status_wr.get(), starter_fd.get()); },
                                  {.cgroup_fd = into.fd.get()});
    if (!monitor) return 1;
    (void)monitor->release();
    return 0;
  });
  if (!mid) return std::move(mid).error().context("start monitor");
  return mid;
}

bool send_word(int sock, const std::string& msg) {
  return ::send(sock, msg.data(), msg.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(msg.size());
}

// Init's restrictions for the monitor (ExecMade), computed here while it starts up. A failure
// is the monitor's to find again and report (it computes them itself when told none); a
// message over the socket's limit (a program of thousands of instructions) is left to it too.
void send_restrictions(int sock, const DetachedStart::RestrictionsFn& restrictions) {
  auto r = restrictions();
  ExecMade made;
  if (r) made.restrictions = std::move(*r);
  std::string msg = encode_exec_made(made);
  if (msg.size() > kMaxMessageBytes) msg = encode_exec_made({});
  (void)send_word(sock, msg);  // a monitor gone already reports that on the status pipe
}

// The monitor's cgroups, made here while it execs: the ones it plans itself (ContainerCgroups::
// plan from the same cgroup; it records them, then waits for this message before it uses them,
// Supervisor::make_cgroups). Nothing is said when they could not be made: the monitor then makes
// them itself and reports what fails, as in the foreground. The returned cgroups are removed
// again if the start fails (what the monitor took over it has removed by then).
std::optional<cgroup::ContainerCgroups> make_monitor_cgroups(const std::string& key, const cgroup::StarterView& view,
                                                             int sock) {
  if (!view.layout) return std::nullopt;
  auto cgs = cgroup::ContainerCgroups::plan_from(*view.layout, key, view.proc_cgroup);
  if (!cgs || !cgs->create()) return std::nullopt;
  std::string msg = encode_cgroups_made({cgs->payload_dirs(), cgs->monitor_dirs()});
  if (!send_word(sock, msg)) {
    cgs->remove_created();  // the monitor has gone already: nobody takes them
    return std::nullopt;
  }
  return std::move(*cgs);
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

Result<DetachedStart> DetachedStart::spawn(const LaunchOptions& opts) {
  auto args = monitor_args(opts);
  args.insert(args.end(), {"--status-fd", "3", "--starter-fd", "4"});
  add_init_override(args, opts);
  MonitorExec m(std::move(args));
  int pfd[2], sv[2];
  if (::pipe2(pfd, O_CLOEXEC) < 0) return Error::from_errno(errno, "pipe");
  UniqueFd rd(pfd[0]), wr(pfd[1]);
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return Error::from_errno(errno, "socketpair");
  UniqueFd ours(sv[0]), monitors(sv[1]);
  DetachedStart s;
  s.view_ = cgroup::starter_view();
  auto mid = spawn_detached(m, std::move(wr), std::move(monitors), cgroup::monitors_clone_target(s.view_));
  if (!mid) return std::move(mid).error();
  if (auto r = mid->wait(); !r) return std::move(r).error();
  s.key_ = ContainerPaths(opts.lxcpath, opts.name).key();
  s.monitor_path_ = m.args[0];
  s.status_ = std::move(rd);
  s.starter_ = std::move(ours);
  return s;
}

Result<std::optional<RestoreReply>> DetachedStart::go(const RestrictionsFn& restrictions) {
  if (!send_word(starter_.get(), encode_go()))
    return Error::from_errno(errno, fmt::format("monitor `{}` exited before its start", monitor_path_));
  // Made after the monitor's clone (spawn): a clone into a cgroup waits for the cgroup lock that
  // each mkdir takes (measured: the monitor's clone came after all of them).
  auto made = make_monitor_cgroups(key_, view_, starter_.get());
  // Without cgroups made the socket closes at once: the monitor makes both itself.
  if (made && restrictions) send_restrictions(starter_.get(), restrictions);
  starter_.reset();
  // The monitor writes its status once; EOF with nothing means it died before reporting.
  std::string text = read_all(status_.get());
  auto status = text.empty() ? StartStatus(Error(EIO, fmt::format("monitor `{}` exited during start; see its log", monitor_path_)))
                             : decode_start_status(text);
  if (!status && made) made->remove_created();
  return status;
}

namespace {

// One message from the starter socket; nullopt when cove-start closed it without one.
Result<std::optional<std::string>> receive_word(int fd) {
  ssize_t n;
  while ((n = ::recv(fd, nullptr, 0, MSG_PEEK | MSG_TRUNC)) < 0 && errno == EINTR) {
  }
  if (n < 0) return Error::from_errno(errno, "read cove-start's message");
  if (n == 0) return std::optional<std::string>();
  if (static_cast<size_t>(n) > kMaxMessageBytes)
    return Error(E2BIG, fmt::format("cove-start's message of {} bytes is larger than the limit of {}", n, kMaxMessageBytes));
  std::string text(static_cast<size_t>(n), '\0');
  if (::recv(fd, text.data(), text.size(), 0) != n) return Error::from_errno(errno, "read cove-start's message");
  return std::optional<std::string>(std::move(text));
}

}  // namespace

Result<bool> receive_go(int fd) {
  auto word = receive_word(fd);
  if (!word) return std::move(word).error();
  if (!*word) return false;
  COVE_TRY(decode_go(**word));
  return true;
}

Result<std::optional<CgroupsMade>> receive_cgroups_made(int fd) {
  auto word = receive_word(fd);
  if (!word) return std::move(word).error();
  if (!*word) return std::optional<CgroupsMade>();  // closed without a word: none made
  auto made = decode_cgroups_made(**word);
  if (!made) return std::move(made).error();
  return std::optional<CgroupsMade>(std::move(*made));
}

Result<std::optional<security::ExecRestrictions>> receive_exec_made(int fd) {
  auto word = receive_word(fd);
  if (!word) return std::move(word).error();
  if (!*word) return std::optional<security::ExecRestrictions>();  // closed: none computed
  auto made = decode_exec_made(**word);
  if (!made) return std::move(made).error();
  return std::move(made->restrictions);
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
