// The attach attacks of issue 10, run for real: container root (tests/probe/cove-snoop.cpp,
// started in the background inside) watches for the process cove-attach forks into the
// container and takes what ptrace access gives it (pidfd_getfd). Before the fix it read a
// root-only host file through an fd of cove-attach's caller and pushed input into the
// caller's terminal; now the process is non-dumpable until its execve, holds only the fds it
// hands to the command, and a host terminal never crosses (a pty or a relayed pipe does).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <filesystem>
#include <cstring>
#include <random>

#include "support.hpp"

namespace cove::test {
namespace {

constexpr int kAttaches = 12;

class AttachAttackTest : public ContainerTest {
 protected:
  virtual bool privileged() const { return false; }
  void SetUp() override {
    ContainerTest::SetUp();
    if (IsSkipped()) return;
    create_busybox("snoop", privileged() ? "[container]\nprivileged = true\n" : "");
    std::filesystem::copy_file(builddir() + "/cove-snoop", path_ + "/snoop/rootfs/cove-snoop");
    auto r = cove("cove-start", "snoop");
    ASSERT_EQ(r.status, 0) << r.err;
  }

  // Starts the attacker inside for `seconds` and waits until it has taken its first census.
  void start_snoop(int seconds) {
    auto r = cove("cove-attach", "snoop",
                  {"--no-pty", "--", "sh", "-c",
                   "/cove-snoop " + std::to_string(seconds) + " /tmp/snoop.log </dev/null >/dev/null 2>&1 &"});
    ASSERT_EQ(r.status, 0) << r.err;
    int64_t deadline = now_ms() + 10000;
    while (snoop_log().find("ready") == std::string::npos && now_ms() < deadline) ::usleep(20000);
    ASSERT_NE(snoop_log().find("ready"), std::string::npos) << "cove-snoop did not start";
  }
  std::string snoop_log() { return read_text(path_ + "/snoop/rootfs/tmp/snoop.log"); }

  std::string attach_argv0() { return builddir() + "/cove-attach"; }
};

// Forks `args` with stdio on `tty_slave` (if >= 0, also its controlling terminal, like an
// admin's shell) or /dev/null, and `extra_fd` (if >= 0) open as fd 7.
pid_t spawn_on(const std::vector<std::string>& args, int tty_slave, int extra_fd = -1) {
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  if (tty_slave >= 0) {
    ::setsid();
    ::ioctl(tty_slave, TIOCSCTTY, 0);
  }
  int io = tty_slave >= 0 ? tty_slave : ::open("/dev/null", O_RDWR);
  for (int i = 0; i < 3; ++i) ::dup2(io, i);
  if (extra_fd >= 0) ::dup2(extra_fd, 7);  // dup2 clears close-on-exec: fd 7 is inherited
  std::vector<char*> a;
  for (const auto& s : args) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  ::execv(a[0], a.data());
  ::_exit(127);
}

// Runs cove-attach (see spawn_on); returns its exit status.
int run_attach(const std::vector<std::string>& args, int extra_fd, int tty_slave, int tty_master = -1) {
  pid_t pid = spawn_on(args, tty_slave, extra_fd);
  // Drain the terminal meanwhile (a full pty would block the command's output).
  int st = 0;
  for (;;) {
    pid_t w = ::waitpid(pid, &st, WNOHANG);
    if (w == pid) break;
    if (tty_master >= 0) {
      struct pollfd p = {tty_master, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) {
        char buf[4096];
        (void)!::read(tty_master, buf, sizeof buf);
      }
    } else {
      ::usleep(5000);
    }
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

struct HostPty {
  int master = -1, slave = -1;
  HostPty() {
    master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || ::grantpt(master) < 0 || ::unlockpt(master) < 0) return;
    slave = ::open(::ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  }
  ~HostPty() {
    if (slave >= 0) ::close(slave);
    if (master >= 0) ::close(master);
  }
};

// A root-only host file holding a fresh token; returns the token and a read fd on it.
std::pair<std::string, int> open_host_secret(const std::string& path) {
  std::string token = "host-secret-" + std::to_string(std::random_device{}());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 || ::write(fd, token.data(), token.size()) != ssize_t(token.size())) return {token, -1};
  ::close(fd);
  return {token, ::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
}

// kAttaches attaches of `sleep 0.1` from a fresh host terminal each, half with a pty and half
// with --no-pty, `extra_fd` (if >= 0) open as fd 7.
void attach_from_terminals(const std::vector<std::string>& attach, int extra_fd) {
  for (bool no_pty : {false, true}) {
    for (int i = 0; i < kAttaches / 2; ++i) {
      HostPty tty;
      ASSERT_GE(tty.slave, 0);
      std::vector<std::string> a = attach;
      if (no_pty) a.push_back("--no-pty");
      a.insert(a.end(), {"--", "sleep", "0.1"});
      EXPECT_EQ(run_attach(a, extra_fd, tty.slave, tty.master), 0);
    }
  }
}

// `cove-attach -n X -- true 7<host-secret`: the container must never read the secret.
TEST_F(AttachAttackTest, CallersFdsNeverReachTheContainer) {
  auto [token, fd] = open_host_secret(path_ + "/host-secret");
  ASSERT_GE(fd, 0);
  ASSERT_NO_FATAL_FAILURE(start_snoop(60));
  for (int i = 0; i < kAttaches; ++i)
    EXPECT_EQ(run_attach({attach_argv0(), "-P", path_, "-n", "snoop", "--no-pty", "--", "sleep", "0.1"}, fd, -1), 0);
  ::close(fd);
  auto log = snoop_log();
  EXPECT_EQ(log.find(token), std::string::npos) << "the container read the caller's fd 7:\n" << log;
}

// An admin attaching from a terminal, with a pty (the default) and with --no-pty: the terminal
// never enters the container, so nothing inside can push input into it.
TEST_F(AttachAttackTest, HostTerminalNeverReachesTheContainer) {
  ASSERT_NO_FATAL_FAILURE(start_snoop(60));
  ASSERT_NO_FATAL_FAILURE(attach_from_terminals({attach_argv0(), "-P", path_, "-n", "snoop"}, -1));
  auto log = snoop_log();
  EXPECT_EQ(log.find("hosttty"), std::string::npos) << log;
  EXPECT_EQ(log.find("tiocsti"), std::string::npos) << log;
}

// A privileged container's root has CAP_SYS_PTRACE and CAP_SYS_ADMIN in the host's user
// namespace: being non-dumpable does not stop it, and TIOCSTI works on any terminal it holds.
// So the defence that matters there is that nothing of the caller is in the process at all.
class PrivilegedAttachAttackTest : public AttachAttackTest {
 protected:
  bool privileged() const override { return true; }
};

TEST_F(PrivilegedAttachAttackTest, CallersTerminalAndFdsNeverReachTheContainer) {
  auto [token, fd] = open_host_secret(path_ + "/host-secret");
  ASSERT_GE(fd, 0);
  ASSERT_NO_FATAL_FAILURE(start_snoop(60));
  ASSERT_NO_FATAL_FAILURE(attach_from_terminals({attach_argv0(), "-P", path_, "-n", "snoop"}, fd));
  ::close(fd);
  auto log = snoop_log();
  EXPECT_EQ(log.find(token), std::string::npos) << log;
  EXPECT_EQ(log.find("hosttty"), std::string::npos) << log;
  EXPECT_EQ(log.find("tiocsti"), std::string::npos) << log;
}

// Runs `args` with a fresh host pty as its controlling terminal and stdio (an admin's shell),
// `typed` already typed on it; returns its exit status and what the terminal showed.
RunResult run_on_terminal(const std::vector<std::string>& args, const std::string& typed) {
  RunResult res;
  HostPty tty;
  if (tty.slave < 0 || ::write(tty.master, typed.data(), typed.size()) != ssize_t(typed.size())) return res;
  pid_t pid = spawn_on(args, tty.slave);
  int st = 0;
  bool ended = false;
  int64_t deadline = now_ms() + 30000;
  // Until it ended, and then whatever is still in the pty.
  for (;;) {
    struct pollfd p = {tty.master, POLLIN, 0};
    int ready = ::poll(&p, 1, 50);
    if (ready > 0) {
      char buf[4096];
      ssize_t n = ::read(tty.master, buf, sizeof buf);
      if (n > 0) res.out.append(buf, size_t(n));
      else if (ended) break;
    } else if (ended) {
      break;
    }
    if (!ended && ::waitpid(pid, &st, WNOHANG) == pid) ended = true;
    if (!ended && now_ms() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      ended = true;
    }
  }
  res.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return res;
}

constexpr const char* kTerminalScript =
    "test -t 0; echo in=$?; test -t 1; echo out=$?; test -t 2; echo err=$?; read l; echo got=$l; exit 3";

// --no-pty from a terminal: the command sees pipes, not the terminal, and its output still
// reaches the terminal (relayed by cove-attach); input typed there reaches the command.
TEST_F(AttachAttackTest, NoPtyRelaysTerminalThroughPipes) {
  auto r = run_on_terminal({attach_argv0(), "-P", path_, "-n", "snoop", "--no-pty", "--", "sh", "-c", kTerminalScript},
                           "typed-line\n");
  EXPECT_EQ(r.status, 3) << r.out;
  for (const char* want : {"in=1", "out=1", "err=1", "got=typed-line"}) EXPECT_NE(r.out.find(want), std::string::npos) << r.out;
}

// cove-execute hands its stdio to the container's init: from a terminal, relayed pipes.
TEST_F(AttachAttackTest, ExecuteRelaysTerminalThroughPipes) {
  ASSERT_EQ(cove("cove-stop", "snoop", {"-k"}).status, 0);
  auto r = run_on_terminal(
      {builddir() + "/cove-execute", "-P", path_, "-n", "snoop", "--", "/bin/sh", "-c", kTerminalScript},
      "typed-line\n");
  EXPECT_EQ(r.status, 3) << r.out;
  for (const char* want : {"in=1", "out=1", "err=1", "got=typed-line"}) EXPECT_NE(r.out.find(want), std::string::npos) << r.out;
}

// Inside, the attached command holds stdio and nothing else of cove-attach's caller.
TEST_F(AttachAttackTest, CommandHoldsOnlyStdio) {
  int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fd, 7);
    ::dup2(out[1], 1);
    std::string tool = attach_argv0();
    ::execl(tool.c_str(), tool.c_str(), "-P", path_.c_str(), "-n", "snoop", "--no-pty", "--", "ls", "/proc/self/fd",
            nullptr);
    ::_exit(127);
  }
  ::close(out[1]);
  std::string got;
  char buf[512];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) > 0) got.append(buf, size_t(n));
  ::close(out[0]);
  ::close(fd);
  int st = 0;
  ::waitpid(pid, &st, 0);
  // ls's own directory fd is 3.
  EXPECT_EQ(trim_str(got), "0\n1\n2\n3") << got;
}

}  // namespace
}  // namespace cove::test
