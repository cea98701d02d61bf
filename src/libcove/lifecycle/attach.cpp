#include "lifecycle/attach.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "base/fd_passing.hpp"
#include "base/fs.hpp"
#include "base/scope_exit.hpp"
#include "base/syscalls.hpp"
#include "rootfs/dev.hpp"
#include "security/exec_restrictions.hpp"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

extern char** environ;

namespace cove::lifecycle {

namespace {

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

std::vector<std::string> attach_env(const AttachRequest& req) {
  std::vector<std::string> env;
  if (req.keep_env) {
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
  } else {
    env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "USER=root",
           "LOGNAME=root", "container=cove"};
    if (const char* term = std::getenv("TERM")) env.push_back(std::string("TERM=") + term);
  }
  for (const auto& kv : req.set_env) {
    std::string key = kv.substr(0, kv.find('='));
    std::erase_if(env, [&](const std::string& e) { return e.substr(0, e.find('=')) == key; });
    env.push_back(kv);
  }
  return env;
}

// The process that enters the container; runs in a fork of cove-attach, reports failures on
// `sock`, and exits with the status of the command.
[[noreturn]] void enter_and_run(const RuntimeState& rs, const AttachRequest& req, const security::ExecRestrictions& restr,
                                int pidfd, int sock, bool want_pty) {
  auto fail = [&](const Error& e) {
    (void)send_with_fds(sock, "E" + std::to_string(e.code()) + " " + e.message(), {});
    ::_exit(126);
  };
  for (const auto& dir : rs.payload_cgroups) {
    if (auto r = write_existing(dir + "/cgroup.procs", "0"); !r) fail(std::move(r).error().context("join cgroup"));
  }
  unsigned long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP;
  if (!rs.privileged) flags |= CLONE_NEWUSER;
  if (path_exists("/proc/self/ns/time")) flags |= CLONE_NEWTIME;
  if (::setns(pidfd, static_cast<int>(flags)) < 0) fail(Error::from_errno(errno, "enter namespaces"));
  UniqueFd master, slave;
  if (want_pty) {
    auto pair = rootfs::open_pty_pair("/dev/ptmx");
    if (!pair) fail(std::move(pair).error().context("allocate pty in container"));
    master = std::move(pair->first);
    slave = std::move(pair->second);
    if (auto r = send_with_fds(sock, "P", {master.get()}); !r) fail(r.error());
    master.reset();
  }
  // A new pid namespace only applies to children: fork once more.
  pid_t pid = ::fork();
  if (pid < 0) fail(Error::from_errno(errno, "fork inside container"));
  if (pid == 0) {
    if (!rs.privileged) {
      if (::setgroups(0, nullptr) < 0 || ::setresgid(0, 0, 0) < 0 || ::setresuid(0, 0, 0) < 0)
        fail(Error::from_errno(errno, "become container root"));
    }
    // A session of its own inside the container, with or without a pty: CRIU refuses to dump a
    // process whose session (or group) leader is outside the container's pid namespace, which
    // is what a background process left by the command would otherwise have (the caller's
    // session). Signals from the caller's terminal reach the command through cove-attach.
    if (::setsid() < 0) fail(Error::from_errno(errno, "new session"));
    if (want_pty) {
      ::ioctl(slave.get(), TIOCSCTTY, 0);
      for (int i = 0; i < 3; ++i) ::dup2(slave.get(), i);
      slave.reset();
    }
    if (::chdir(req.cwd.c_str()) < 0) ::chdir("/");
    // The same restrictions as init, last before execve (seccomp last of all).
    if (auto r = security::apply_exec_restrictions(restr); !r) fail(std::move(r).error().context("restrict command"));
    ::close(sock);
    // Only stdio enters the container: other fds of cove-attach's caller would leak host files
    // into it (and CRIU cannot checkpoint a file of a host mount).
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    std::vector<std::string> args = req.argv.empty() ? std::vector<std::string>{"/bin/sh"} : req.argv;
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    auto env = attach_env(req);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // execvpe searches the PATH of *our* environment: make it the command's.
    for (const auto& e : env)
      if (e.rfind("PATH=", 0) == 0) ::setenv("PATH", e.c_str() + 5, 1);
    ::execvpe(argv[0], argv.data(), envp.data());
    std::string msg = "cove-attach: exec `" + args[0] + "`: " + std::strerror(errno) + "\n";
    (void)!::write(2, msg.data(), msg.size());
    ::_exit(127);
  }
  slave.reset();
  // cove-attach forwards its signals to the command through this pidfd (pid numbers differ
  // inside; a pidfd also survives pid reuse).
  UniqueFd child(sys::pidfd_open(pid, 0));
  (void)send_with_fds(sock, "C", child ? std::vector<int>{child.get()} : std::vector<int>{});
  child.reset();
  ::close(sock);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::_exit(exit_code(status));
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

// Waits for the process that entered the container and forwards `sigfd`'s signals to the
// command meanwhile.
int wait_forwarding(pid_t pid, int sigfd, int command_pidfd) {
  UniqueFd pidfd(sys::pidfd_open(pid, 0));
  while (pidfd) {
    struct pollfd p[2] = {{pidfd.get(), POLLIN, 0}, {sigfd, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[1].revents) {
      struct signalfd_siginfo si;
      while (::read(sigfd, &si, sizeof si) == sizeof si)
        if (command_pidfd >= 0) sys::pidfd_send_signal(command_pidfd, int(si.ssi_signo), nullptr, 0);
    }
    if (p[0].revents) break;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

Result<std::string> read_failure(int sock) {
  auto m = recv_with_fds(sock, 4096);
  if (!m || m->eof || m->data.empty() || m->data[0] != 'E') return std::string();
  return m->data.substr(1);
}

Error parse_failure(const std::string& text) {
  auto sp = text.find(' ');
  int code = std::atoi(text.substr(0, sp).c_str());
  return Error(code ? code : EIO, sp == std::string::npos ? text : text.substr(sp + 1));
}

}  // namespace

Result<void> proxy_terminal(int master, int hup_fd, int escape, bool wait_for_peer) {
  struct termios saved;
  bool raw = false;
  if (::isatty(0) && ::tcgetattr(0, &saved) == 0) {
    struct termios t = saved;
    ::cfmakeraw(&t);
    raw = ::tcsetattr(0, TCSANOW, &t) == 0;
  }
  sigset_t mask, old;
  sigemptyset(&mask);
  sigaddset(&mask, SIGWINCH);
  ::sigprocmask(SIG_BLOCK, &mask, &old);
  UniqueFd winch(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
  auto sync_size = [&] {
    struct winsize ws;
    if (::ioctl(0, TIOCGWINSZ, &ws) == 0) ::ioctl(master, TIOCSWINSZ, &ws);
  };
  sync_size();
  bool stdin_open = true, saw_escape = false, done = false;
  bool peerless = false;  // wait_for_peer: the slave is not open; the master is left alone a while
  char buf[8192];
  while (!done) {
    struct pollfd p[4] = {{peerless ? -1 : master, POLLIN, 0}, {stdin_open ? 0 : -1, POLLIN, 0},
                          {winch.get(), POLLIN, 0}, {hup_fd, POLLIN, 0}};
    int ready = ::poll(p, 4, peerless ? 100 : -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (ready == 0) peerless = false;  // look at the master again
    if (p[0].revents) {
      ssize_t n = ::read(master, buf, sizeof buf);
      if (n <= 0) {
        if (!wait_for_peer || (n < 0 && errno != EIO)) break;
        peerless = true;
      } else {
        (void)!::write(1, buf, static_cast<size_t>(n));
      }
    }
    if (p[1].revents) {
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n <= 0) {
        stdin_open = false;
      } else {
        std::string out;
        for (ssize_t i = 0; i < n; ++i) {
          char c = buf[i];
          if (escape >= 0 && saw_escape) {
            saw_escape = false;
            if (c == 'q') {
              done = true;
              break;
            }
            // <escape> <escape> or <escape> <its letter> sends the escape itself; anything else
            // is sent after it.
            out += static_cast<char>(escape);
            if (c != static_cast<char>(escape) && c != static_cast<char>('a' + escape - 1)) out += c;
          } else if (escape >= 0 && c == static_cast<char>(escape)) {
            saw_escape = true;
          } else {
            out += c;
          }
        }
        if (!out.empty()) (void)!::write(master, out.data(), out.size());
      }
    }
    if (p[2].revents) {
      struct signalfd_siginfo si;
      while (::read(winch.get(), &si, sizeof si) == sizeof si) {
      }
      sync_size();
    }
    if (hup_fd >= 0 && p[3].revents) break;
  }
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
  if (raw) ::tcsetattr(0, TCSANOW, &saved);
  return {};
}

Result<int> attach_to(const RuntimeState& rs, const AttachRequest& req, const security::ExecRestrictions& restrictions) {
  UniqueFd pidfd(sys::pidfd_open(rs.init_pid, 0));
  if (!pidfd) return Error::from_errno(errno, "open init pid " + std::to_string(rs.init_pid));
  // Checked after opening the pidfd: it now names the process we verified, or nothing.
  if (!process_matches(rs.init_pid, rs.init_starttime)) return Error(ESRCH, "container init has exited");
  bool want_pty = req.pty.value_or(::isatty(0) != 0);
  // Without a pty the command is in a session of its own, out of reach of the caller's
  // terminal and process group: cove-attach forwards what it gets. Blocked before the fork so
  // that none is lost; the command unblocks everything before its execve.
  sigset_t forward = forwarded_signals(), old_mask;
  UniqueFd sigfd;
  if (!want_pty) {
    ::sigprocmask(SIG_BLOCK, &forward, &old_mask);
    sigfd.reset(::signalfd(-1, &forward, SFD_CLOEXEC | SFD_NONBLOCK));
  }
  ScopeExit restore_mask([&] {
    if (want_pty) return;
    // A signal that came after the command ended is dropped, not acted on by cove-attach.
    struct signalfd_siginfo si;
    while (sigfd && ::read(sigfd.get(), &si, sizeof si) == sizeof si) {
    }
    ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  });
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return Error::from_errno(errno, "socketpair");
  UniqueFd ours(sv[0]), theirs(sv[1]);
  pid_t pid = ::fork();
  if (pid < 0) return Error::from_errno(errno, "fork");
  if (pid == 0) {
    ours.reset();
    enter_and_run(rs, req, restrictions, pidfd.get(), theirs.get(), want_pty);
  }
  theirs.reset();
  // Set-up messages: the pty master ('P', with a pty), then the command's pidfd ('C'); or a
  // failure ('E'). A failure of the command's own set-up may come after 'C': read_failure
  // finds it once the command has ended with 126.
  UniqueFd master, command;
  for (;;) {
    auto m = recv_with_fds(ours.get(), 4096);
    if (!m || m->eof || m->data.empty()) break;
    if (m->data[0] == 'E') {
      int st;
      ::waitpid(pid, &st, 0);
      return parse_failure(m->data.substr(1));
    }
    if (m->data[0] == 'P' && !m->fds.empty()) master = std::move(m->fds[0]);
    if (m->data[0] == 'C') {
      if (!m->fds.empty()) command = std::move(m->fds[0]);
      break;
    }
  }
  Result<void> proxied;
  if (master) proxied = proxy_terminal(master.get(), -1, -1);
  int status = 0;
  if (sigfd) {
    status = wait_forwarding(pid, sigfd.get(), command.get());
  } else {
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 126) {
    auto f = read_failure(ours.get());
    if (f && !f->empty()) return parse_failure(*f);
  }
  return exit_code(status);
}

}  // namespace cove::lifecycle
