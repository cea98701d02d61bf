#include "lifecycle/attach.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "base/fd_passing.hpp"
#include "cgroup/cgroup.hpp"
#include "base/fs.hpp"
#include "base/proc_stat.hpp"
#include "base/stdio_relay.hpp"
#include "base/strings.hpp"
#include "base/syscalls.hpp"
#include "base/wire_error.hpp"
#include "process/child_process.hpp"
#include "rootfs/dev.hpp"
#include "security/exec_restrictions.hpp"


extern char** environ;

namespace cove::lifecycle {

namespace {

std::vector<std::string> attach_env(const AttachRequest& req) {
  if (req.exact_env) return req.set_env;
  std::vector<std::string> env;
  if (req.keep_env) {
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
  } else {
    env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "USER=root",
           "LOGNAME=root", "container=cove"};
    if (const char* term = std::getenv("TERM")) env.push_back(std::string("TERM=") + term);
  }
  auto set = [&](const std::string& kv) {
    std::string key = kv.substr(0, kv.find('='));
    std::erase_if(env, [&](const std::string& e) { return e.substr(0, e.find('=')) == key; });
    env.push_back(kv);
  };
  if (!req.keep_env)
    for (const auto& kv : req.container_env) set(kv);
  for (const auto& kv : req.set_env) set(kv);
  return env;
}

// Root's login shell from the container's /etc/passwd, read in the container's mount namespace
// (so its symlinks resolve inside it) without running any of its code (no NSS modules): a
// regular file only, opened without blocking, at most 1 MiB; /bin/sh when there is none.
std::string root_shell() {
  const std::string fallback = "/bin/sh";
  UniqueFd fd(::open("/etc/passwd", O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  struct stat st;
  if (!fd || ::fstat(fd.get(), &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 20)) return fallback;
  std::string text(static_cast<size_t>(st.st_size), '\0');
  ssize_t n = ::read(fd.get(), text.data(), text.size());
  if (n <= 0) return fallback;
  text.resize(static_cast<size_t>(n));
  for (const auto& line : split(text, '\n')) {
    auto f = split(line, ':');
    if (f.size() == 7 && f[2] == "0" && f[6].size() > 1 && f[6][0] == '/' && f[6].size() < 4096) return f[6];
  }
  return fallback;
}

// The cgroups the command joins: on each hierarchy, init's own cgroup where it lies below the
// container's, else the container's. An init such as systemd moves itself to init.scope and, on
// cgroup v2, enables controllers in the container's cgroup, whose cgroup.procs then refuses new
// processes (EBUSY: no processes in inner cgroups); LXC joins init's cgroup as well. Read after
// init's pidfd was verified; a path outside the container's cgroup is never used.
// `v1`: the hierarchy is cgroup v1, where the entering process (one thread) joins through
// `tasks` without a grace period (cgroup::join_self).
struct JoinTarget {
  std::string dir;
  bool v1 = false;
};
std::vector<JoinTarget> cgroups_to_join(const RuntimeState& rs) {
  std::vector<JoinTarget> out;
  for (const auto& dir : rs.payload_cgroups) out.push_back({dir, false});
  auto layout = cgroup::detect_layout();
  auto text = read_file("/proc/" + std::to_string(rs.init_pid) + "/cgroup");
  if (!layout || !text) return out;
  for (auto& target : out) {
    for (const auto& h : layout->hierarchies) {
      if (!starts_with(target.dir, h.mount_point + "/")) continue;
      target.v1 = !h.v2;
      auto path = cgroup::cgroup_path_of(*text, h);
      auto init_dir = path ? cgroup::directory_of(h, *path) : Result<std::string>(path.error());
      if (init_dir && starts_with(*init_dir, target.dir + "/")) target.dir = *init_dir;
      break;
    }
  }
  return out;
}

// The dirs a clone3 may be born into: all but the v1 ones (clone_target looks for cgroup2).
std::vector<std::string> clone_candidates(const std::vector<JoinTarget>& targets) {
  std::vector<std::string> out;
  for (const auto& t : targets)
    if (!t.v1) out.push_back(t.dir);
  return out;
}

// The fds of the process that enters the container, at fixed numbers once `arrange_fds` ran:
// right after the caller's fds the command keeps (3 .. 3+N-1, AttachRequest::preserve_fds).
struct EntryFds {
  explicit EntryFds(unsigned preserved) : sock(3 + int(preserved)), init_pidfd(sock + 1), first_closed(sock + 2) {}
  int sock;          // the set-up socket to cove-attach
  int init_pidfd;    // init's pidfd, to setns() through
  int first_closed;  // everything from here on is closed
};

// Closes every fd of cove-attach's caller except the ones the command gets: its stdio (the
// caller's own, a relay pipe for a terminal, or /dev/null until the container's pty replaces
// it), the set-up socket and init's pidfd. Closed, not marked close-on-exec: this process runs
// host code inside the container's namespaces until its execve.
Result<void> arrange_fds(const StdioRelay& relay, bool want_pty, int sock, int pidfd, const EntryFds& at) {
  int stdio[3];
  int null = want_pty ? ::open("/dev/null", O_RDWR | O_CLOEXEC) : -1;
  if (want_pty && null < 0) return Error::from_errno(errno, "open `/dev/null`");
  for (int i = 0; i < 3; ++i) stdio[i] = want_pty ? null : relay.child_fd(i);
  // Copies above every fd we keep first, so that no dup2 below overwrites a source.
  auto high = [&](int fd) { return fd < 0 ? -1 : ::fcntl(fd, F_DUPFD_CLOEXEC, std::max(10, at.first_closed)); };
  int s = high(sock), p = high(pidfd), io[3] = {high(stdio[0]), high(stdio[1]), high(stdio[2])};
  if (s < 0 || p < 0) return Error::from_errno(errno, "duplicate set-up fds");
  for (int i = 0; i < 3; ++i)
    if (io[i] >= 0 && ::dup2(io[i], i) < 0) return Error::from_errno(errno, "set up stdio");
  if (::dup3(s, at.sock, O_CLOEXEC) < 0 || ::dup3(p, at.init_pidfd, O_CLOEXEC) < 0)
    return Error::from_errno(errno, "move set-up fds");
  if (::close_range(unsigned(at.first_closed), ~0U, 0) < 0) return Error::from_errno(errno, "close the caller's fds");
  return {};
}

// The container's /dev/ptmx is the container's to change: refuse anything but a pty
// multiplexer (a FIFO would hang us; another device is not a terminal we want to serve).
Result<std::pair<UniqueFd, UniqueFd>> open_container_pty() {
  UniqueFd probe(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
  if (!probe) return Error::from_errno(errno, "open `/dev/ptmx`");
  struct stat st;
  if (::fstat(probe.get(), &st) < 0) return Error::from_errno(errno, "stat `/dev/ptmx`");
  if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 || minor(st.st_rdev) != 2)
    return Error(EPERM, "`/dev/ptmx` in the container is not the pty multiplexer");
  probe.reset();
  return rootfs::open_pty_pair("/dev/ptmx");
}

[[noreturn]] void fail_to(int sock, const Error& e) {
  (void)send_with_fds(sock, "E" + encode_error(e), {});
  ::_exit(126);
}

// The command, in the container's pid namespace: becomes the container's root, leads a session
// of its own there, takes the pty (if any) as its terminal, and execs under init's restrictions.
[[noreturn]] void exec_command(const RuntimeState& rs, const AttachRequest& req,
                               const security::ExecRestrictions& restr, UniqueFd slave) {
  EntryFds at(req.preserve_fds);
  auto fail = [&](const Error& e) { fail_to(at.sock, e); };
  ::close(at.init_pidfd);
  if (!rs.privileged) {
    if (::setgroups(0, nullptr) < 0 || ::setresgid(0, 0, 0) < 0 || ::setresuid(0, 0, 0) < 0)
      fail(Error::from_errno(errno, "become container root"));
  }
  // A session of its own inside the container, with or without a pty: CRIU refuses to dump a
  // process whose session (or group) leader is outside the container's pid namespace.
  // Signals from the caller's terminal reach the command through cove-attach.
  if (::setsid() < 0) fail(Error::from_errno(errno, "new session"));
  if (slave) {
    if (::ioctl(slave.get(), TIOCSCTTY, 0) < 0) fail(Error::from_errno(errno, "make the pty the controlling terminal"));
    for (int i = 0; i < 3; ++i)
      if (::dup2(slave.get(), i) < 0) fail(Error::from_errno(errno, "give the command the pty as stdio"));
    slave.reset();
  }
  if (::chdir(req.cwd.c_str()) < 0) ::chdir("/");
  std::vector<std::string> args = req.argv.empty() ? std::vector<std::string>{root_shell()} : req.argv;
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  auto env = attach_env(req);
  if (req.argv.empty() && !req.keep_env) env.push_back("SHELL=" + args[0]);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // execvpe searches the PATH of *our* environment: make it the command's.
  for (const auto& e : env)
    if (e.rfind("PATH=", 0) == 0) ::setenv("PATH", e.c_str() + 5, 1);
  // The same restrictions as init, last before execve (seccomp last of all).
  if (auto r = security::apply_exec_restrictions(restr); !r) fail(std::move(r).error().context("restrict command"));
  ::close(at.sock);
  ::execvpe(argv[0], argv.data(), envp.data());
  std::string msg = "cove-attach: exec `" + args[0] + "`: " + std::strerror(errno) + "\n";
  (void)!::write(2, msg.data(), msg.size());
  ::_exit(127);
}

// The process that enters the container; runs in a fork of cove-attach, reports failures on
// `sock`, and exits with the status of the command. The order is the defence (issue 10, and
// doc/design/security.md "Entering a container"): nothing inside may ptrace it, take an fd of
// the caller from it or reach the caller's terminal through it.
[[noreturn]] void enter_and_run(const RuntimeState& rs, const AttachRequest& req, const security::ExecRestrictions& restr,
                                const std::vector<JoinTarget>& cgroups, const std::string& born_in,
                                const StdioRelay& relay, int pidfd, int sock, bool want_pty, bool detach) {
  // 1. Non-dumpable before any namespace is entered: ptrace and pidfd_getfd need CAP_SYS_PTRACE
  //    in the user namespace of our mm (the host's), which container root does not have. Kept
  //    through fork; execve of the command ends it.
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) fail_to(sock, Error::from_errno(errno, "make non-dumpable"));
  // 2. Out of the caller's session: its terminal is not ours, so TIOCSTI on it is refused.
  if (::setsid() < 0) fail_to(sock, Error::from_errno(errno, "leave the caller's session"));
  // 3. Only the fds the command gets.
  EntryFds at(req.preserve_fds);
  if (auto r = arrange_fds(relay, want_pty, sock, pidfd, at); !r) fail_to(sock, r.error());
  auto fail = [&](const Error& e) { fail_to(at.sock, e); };
  bool one_thread = proc::thread_count(::getpid()) == 1;
  for (const auto& cg : cgroups) {
    if (cg.dir == born_in) continue;
    if (auto r = cgroup::join_self(cg.dir, cg.v1, one_thread); !r) fail(std::move(r).error().context("join cgroup"));
  }
  unsigned long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP;
  if (!rs.privileged) flags |= CLONE_NEWUSER;
  if (kernel_has_time_ns()) flags |= CLONE_NEWTIME;
  if (::setns(at.init_pidfd, static_cast<int>(flags)) < 0) fail(Error::from_errno(errno, "enter namespaces"));
  UniqueFd slave;
  if (want_pty) {
    auto pair = open_container_pty();
    if (!pair) fail(std::move(pair).error().context("allocate pty in container"));
    slave = std::move(pair->second);
    if (auto r = send_with_fds(at.sock, "P", {pair->first.get()}); !r) fail(r.error());
  }
  // A new pid namespace only applies to children: fork once more.
  auto command = process::spawn([&]() -> int { exec_command(rs, req, restr, std::move(slave)); });
  if (!command) fail(std::move(command).error().context("start the command inside the container"));
  slave.reset();
  // cove-attach forwards its signals to the command through this pidfd (pid numbers differ
  // inside; a pidfd also survives pid reuse).
  int pidfd_to_send = command->pidfd();
  (void)send_with_fds(at.sock, "C", pidfd_to_send >= 0 ? std::vector<int>{pidfd_to_send} : std::vector<int>{});
  ::close(at.sock);
  // Detached: the command is orphaned to the caller's subreaper, never killed with us.
  if (detach) {
    (void)command->release();
    ::_exit(0);
  }
  auto status = command->wait();
  ::_exit(status ? process::exit_code_of(*status) : 1);
}

// The signals cove-attach passes on to the command when it runs without a pty (with a pty the
// terminal's own keys go through it). Ignored ones stay ignored (nohup cove-attach ...).
sigset_t forwarded_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2}) {
    struct sigaction sa;
    if (::sigaction(sig, nullptr, &sa) == 0 && sa.sa_handler != SIG_IGN) sigaddset(&set, sig);
  }
  return set;
}

Result<std::string> read_failure(int sock) {
  auto m = recv_with_fds(sock, 65536);
  if (!m || m->eof || m->data.empty() || m->data[0] != 'E') return std::string();
  return m->data.substr(1);
}

// The text after 'E': the command's Error in its wire form (base/wire_error.hpp).
Error parse_failure(const std::string& text) {
  return decode_error(text);
}

// Puts a terminal on our stdin into raw mode for the time of a proxy; puts it back after.
class RawStdin {
 public:
  RawStdin() {
    if (!::isatty(0) || ::tcgetattr(0, &saved_) != 0) return;
    struct termios t = saved_;
    ::cfmakeraw(&t);
    raw_ = ::tcsetattr(0, TCSANOW, &t) == 0;
  }
  ~RawStdin() {
    if (raw_) ::tcsetattr(0, TCSANOW, &saved_);
  }
  RawStdin(const RawStdin&) = delete;
  RawStdin& operator=(const RawStdin&) = delete;

 private:
  struct termios saved_ = {};
  bool raw_ = false;
};

// SIGWINCH, blocked and read from a signalfd for the time of a proxy; the old mask after.
class WinchWatch {
 public:
  WinchWatch() {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGWINCH);
    ::sigprocmask(SIG_BLOCK, &mask, &old_);
    fd_.reset(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
  }
  ~WinchWatch() { ::sigprocmask(SIG_SETMASK, &old_, nullptr); }
  WinchWatch(const WinchWatch&) = delete;
  WinchWatch& operator=(const WinchWatch&) = delete;
  int fd() const { return fd_.get(); }
  void drain() const {
    struct signalfd_siginfo si;
    while (::read(fd_.get(), &si, sizeof si) == sizeof si) {
    }
  }

 private:
  sigset_t old_;
  UniqueFd fd_;
};

// Our terminal's size goes to the proxied one.
void sync_size(int master) {
  struct winsize ws;
  if (::ioctl(0, TIOCGWINSZ, &ws) == 0) ::ioctl(master, TIOCSWINSZ, &ws);
}

// The keys typed into a proxy: <escape> q ends it; <escape> <escape> or <escape> <its letter>
// sends the escape itself; <escape> and any other key sends both. escape < 0: none.
struct EscapeFilter {
  explicit EscapeFilter(int esc) : escape(esc) {}
  int escape;
  bool saw_escape = false;
  bool quit = false;  // <escape> q was typed: what came before it is still sent

  std::string filter(const char* buf, size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i) {
      char c = buf[i];
      if (escape >= 0 && saw_escape) {
        saw_escape = false;
        if (c == 'q') {
          quit = true;
          break;
        }
        out += static_cast<char>(escape);
        if (c != static_cast<char>(escape) && c != static_cast<char>('a' + escape - 1)) out += c;
      } else if (escape >= 0 && c == static_cast<char>(escape)) {
        saw_escape = true;
      } else {
        out += c;
      }
    }
    return out;
  }
};

// proxy_terminal's copy loop (see attach.hpp).
struct TerminalProxy {
  TerminalProxy(int m, int hup, int escape, bool wait) : master(m), hup_fd(hup), wait_for_peer(wait), keys(escape) {}
  int master;
  int hup_fd;
  bool wait_for_peer;
  EscapeFilter keys;
  bool stdin_open = true;
  bool peerless = false;  // wait_for_peer: the slave is not open; the master is left alone a while
  char buf[8192] = {};

  // master -> stdout. False: the proxy ends (the master hung up, and no peer is awaited).
  bool copy_output() {
    ssize_t n = ::read(master, buf, sizeof buf);
    if (n > 0) {
      (void)!::write(1, buf, static_cast<size_t>(n));
      return true;
    }
    if (!wait_for_peer || (n < 0 && errno != EIO)) return false;
    peerless = true;
    return true;
  }

  // stdin -> master, through the escape filter.
  void copy_input() {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n <= 0) {
      stdin_open = false;
      return;
    }
    std::string out = keys.filter(buf, static_cast<size_t>(n));
    if (!out.empty()) (void)!::write(master, out.data(), out.size());
  }

  void run(const WinchWatch& winch) {
    while (!keys.quit) {
      struct pollfd p[4] = {{peerless ? -1 : master, POLLIN, 0}, {stdin_open ? 0 : -1, POLLIN, 0},
                            {winch.fd(), POLLIN, 0}, {hup_fd, POLLIN, 0}};
      int ready = ::poll(p, 4, peerless ? 100 : -1);
      if (ready < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (ready == 0) peerless = false;  // look at the master again
      if (p[0].revents && !copy_output()) break;
      if (p[1].revents) copy_input();
      if (p[2].revents) {
        winch.drain();
        sync_size(master);
      }
      if (hup_fd >= 0 && p[3].revents) break;
    }
  }
};

// The container's init, through a pidfd opened before its start time is checked: the pidfd
// then names the process we verified, or nothing.
Result<UniqueFd> open_verified_init(const RuntimeState& rs) {
  UniqueFd pidfd(sys::pidfd_open(rs.init_pid, 0));
  if (!pidfd) return Error::from_errno(errno, "open init pid " + std::to_string(rs.init_pid));
  if (!process_matches(rs.init_pid, rs.init_starttime)) return Error(ESRCH, "container init has exited");
  return pidfd;
}

// A host terminal never enters the container: with a pty the command gets one of the
// container's own; without, each of stdin/stdout/stderr that is a terminal becomes a pipe
// that we copy (doc/design/security.md, "Entering a container"). Empty with a pty.
Result<StdioRelay> stdio_relay_for(bool want_pty) {
  if (want_pty) return StdioRelay();
  return StdioRelay::for_terminals();
}

// Without a pty the command is in a session of its own, out of reach of the caller's terminal
// and process group: cove-attach forwards what it gets. Blocked before the fork so that none is
// lost; the command unblocks everything before its execve. At the end a signal that came after
// the command ended is dropped, not acted on by cove-attach, and the old mask is back.
class SignalForwarding {
 public:
  explicit SignalForwarding(bool active) : active_(active) {
    if (!active_) return;
    sigset_t forward = forwarded_signals();
    ::sigprocmask(SIG_BLOCK, &forward, &old_mask_);
    fd_.reset(::signalfd(-1, &forward, SFD_CLOEXEC | SFD_NONBLOCK));
  }
  ~SignalForwarding() {
    if (!active_) return;
    struct signalfd_siginfo si;
    while (fd_ && ::read(fd_.get(), &si, sizeof si) == sizeof si) {
    }
    ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
  }
  SignalForwarding(const SignalForwarding&) = delete;
  SignalForwarding& operator=(const SignalForwarding&) = delete;
  int fd() const { return fd_.get(); }

 private:
  bool active_;
  sigset_t old_mask_;
  UniqueFd fd_;
};

struct SetupFds {
  UniqueFd master;   // the container pty's master (with a pty)
  UniqueFd command;  // the command's pidfd
};

// Set-up messages: the pty master ('P', with a pty), then the command's pidfd ('C'); or a
// failure ('E'). A failure of the command's own set-up may come after 'C': read_failure
// finds it once the command has ended with 126.
Result<SetupFds> read_setup(int sock) {
  SetupFds fds;
  for (;;) {
    auto m = recv_with_fds(sock, 65536);
    if (!m || m->eof || m->data.empty()) break;
    if (m->data[0] == 'E') return parse_failure(m->data.substr(1));
    if (m->data[0] == 'P' && !m->fds.empty()) fds.master = std::move(m->fds[0]);
    if (m->data[0] == 'C') {
      if (!m->fds.empty()) fds.command = std::move(m->fds[0]);
      break;
    }
  }
  return fds;
}

// Until the process that entered ends: the relay copied, our signals passed on to the command
// (pid numbers differ inside; its pidfd survives pid reuse). Then its exit code, or the
// failure of the command's own set-up (an exit with 126 after an 'E').
Result<int> follow_command(process::ChildProcess& entering, int sock, StdioRelay& relay, int sigfd,
                           const UniqueFd& command) {
  relay.copy_until_exit(entering.pidfd(), sigfd, [&](const struct signalfd_siginfo& si) {
    // ESRCH: the command has just ended; the signal has no one left to reach.
    if (command) (void)sys::pidfd_send_signal(command.get(), int(si.ssi_signo), nullptr, 0);
  });
  auto waited = entering.wait();
  if (!waited) return std::move(waited).error();
  int status = *waited;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 126) {
    auto f = read_failure(sock);
    if (f && !f->empty()) return parse_failure(*f);
  }
  return process::exit_code_of(status);
}

}  // namespace

Result<void> proxy_terminal(int master, int hup_fd, int escape, bool wait_for_peer) {
  RawStdin raw;
  WinchWatch winch;
  sync_size(master);
  TerminalProxy proxy(master, hup_fd, escape, wait_for_peer);
  proxy.run(winch);
  return {};
}

Result<int> attach_to(const RuntimeState& rs, const AttachRequest& req, const security::ExecRestrictions& restrictions) {
  auto pidfd = open_verified_init(rs);
  if (!pidfd) return std::move(pidfd).error();
  auto cgroups = cgroups_to_join(rs);
  // The entering process is born in the cgroup2 one (clone3 CLONE_INTO_CGROUP): on a pure v2
  // host no cgroup.procs write is left, nor its RCU grace period. Membership from birth gives
  // the container nothing the join a moment later does not: its root can freeze or kill its own
  // cgroup either way, and sees no pid of ours (we are not in its pid namespace).
  auto into = cgroup::clone_target(clone_candidates(cgroups));
  bool want_pty = req.pty.value_or(::isatty(0) != 0);
  auto relay = stdio_relay_for(want_pty);
  if (!relay) return std::move(relay).error();
  SignalForwarding signals(!want_pty);
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return Error::from_errno(errno, "socketpair");
  UniqueFd ours(sv[0]), theirs(sv[1]);
  bool born_in = false;
  auto entering = process::spawn(
      [&]() -> int {
        ours.reset();
        enter_and_run(rs, req, restrictions, cgroups, born_in ? into.dir : std::string(), *relay, pidfd->get(),
                      theirs.get(), want_pty, false);
      },
      process::SpawnOptions{0, into.fd.get(), &born_in});
  into.fd.reset();
  if (!entering) return std::move(entering).error();
  relay->close_child_ends();
  theirs.reset();
  // On an 'E', `entering` exits (126) at once; it is reaped when it goes out of scope.
  auto setup = read_setup(ours.get());
  if (!setup) return std::move(setup).error();
  if (setup->master) (void)proxy_terminal(setup->master.get(), -1, -1);
  return follow_command(*entering, ours.get(), *relay, signals.fd(), setup->command);
}

namespace {

// The host pid behind a pidfd (its fdinfo's `Pid:` line).
pid_t pid_of_pidfd(int pidfd) {
  auto text = read_file("/proc/self/fdinfo/" + std::to_string(pidfd));
  if (!text) return 0;
  for (const auto& line : split(*text, '\n'))
    if (starts_with(line, "Pid:")) return static_cast<pid_t>(std::atoi(line.c_str() + 4));
  return 0;
}

}  // namespace

Result<DetachedCommand> attach_detached(const RuntimeState& rs, const AttachRequest& req,
                                        const security::ExecRestrictions& restrictions) {
  auto pidfd = open_verified_init(rs);
  if (!pidfd) return std::move(pidfd).error();
  auto cgroups = cgroups_to_join(rs);
  auto into = cgroup::clone_target(clone_candidates(cgroups));  // as in attach_to
  bool want_pty = req.pty.value_or(false);
  // Nothing is relayed once we return: a host terminal would go into the container as it is.
  for (int i = 0; !want_pty && i < 3; ++i)
    if (::isatty(i))
      return Error(EPERM, "a detached command without a pty would be handed this terminal (fd " + std::to_string(i) +
                              "): redirect it, or ask for a pty");
  StdioRelay relay;  // nothing relayed: the caller's stdio is the command's
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return Error::from_errno(errno, "socketpair");
  UniqueFd ours(sv[0]), theirs(sv[1]);
  bool born_in = false;
  auto entering = process::spawn(
      [&]() -> int {
        ours.reset();
        enter_and_run(rs, req, restrictions, cgroups, born_in ? into.dir : std::string(), relay, pidfd->get(),
                      theirs.get(), want_pty, true);
      },
      process::SpawnOptions{0, into.fd.get(), &born_in});
  into.fd.reset();
  if (!entering) return std::move(entering).error();
  theirs.reset();
  auto setup = read_setup(ours.get());
  if (!setup) return std::move(setup).error();
  auto waited = entering->wait();
  if (!waited) return std::move(waited).error();
  if (!setup->command) {
    auto f = read_failure(ours.get());
    if (f && !f->empty()) return parse_failure(*f);
    return Error(EIO, "the command did not start in the container");
  }
  DetachedCommand out;
  out.pid = pid_of_pidfd(setup->command.get());
  out.pty_master = std::move(setup->master);
  // A failure of the command's own set-up after 'C' (its restrictions, its exec) ends it with 126/127.
  return out;
}

}  // namespace cove::lifecycle
