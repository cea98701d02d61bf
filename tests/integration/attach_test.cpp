// cove-attach without a pty: the command is a session leader inside the container, its exit
// status is cove-attach's, and the signals cove-attach gets reach it.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include "support.hpp"

namespace cove::test {
namespace {

class AttachTest : public ContainerTest {
 protected:
  void SetUp() override {
    ContainerTest::SetUp();
    if (IsSkipped()) return;
    create_busybox("att");
    auto r = cove("cove-start", "att");
    ASSERT_EQ(r.status, 0) << r.err;
  }
};

// Without a command, cove-attach reads root's shell from the container's /etc/passwd, which the
// container's root controls: a FIFO (a blocking open or read would hang the attach), a device, a
// file too large to read or a line with a relative shell all give /bin/sh, and nothing hangs.
TEST_F(AttachTest, HostilePasswdGivesTheDefaultShell) {
  auto shell_of_attach = [&] {
    auto r = run_cmd({"sh", "-c", "echo 'echo shell=$0' | " + builddir() + "/cove-attach -P " + path_ + " -n att"}, 20);
    return trim_str(r.out);
  };
  const std::vector<std::string> attacks = {
      "rm -f /etc/passwd && mkfifo /etc/passwd",
      "rm -f /etc/passwd && ln -s /dev/zero /etc/passwd",
      "rm -f /etc/passwd && dd if=/dev/zero of=/etc/passwd bs=1M count=2 2>/dev/null",
      "echo 'root:x:0:0:root:/root:bin/relative' > /etc/passwd",
  };
  ASSERT_EQ(cove("cove-attach", "att", {"--", "cp", "/etc/passwd", "/etc/passwd.orig"}).status, 0);
  for (const auto& attack : attacks) {
    ASSERT_EQ(cove("cove-attach", "att", {"--", "sh", "-c", attack}).status, 0) << attack;
    EXPECT_EQ(shell_of_attach(), "shell=/bin/sh") << attack;
  }
  // The container's own choice of an absolute shell is honoured.
  ASSERT_EQ(cove("cove-attach", "att", {"--", "sh", "-c", "rm -f /etc/passwd && sed 's|:/bin/sh$|:/bin/ash|' "
                                                          "/etc/passwd.orig > /etc/passwd"})
                .status,
            0);
  EXPECT_EQ(shell_of_attach(), "shell=/bin/ash");
}

TEST_F(AttachTest, CommandLeadsItsOwnSessionInside) {
  // Fields 6 and 7 of /proc/self/stat (after "(comm) "): pgrp and session, as seen inside.
  auto out = attach_out("att", {"sh", "-c", "echo $$; cut -d' ' -f5,6 /proc/$$/stat"});
  auto nl = out.find('\n');
  ASSERT_NE(nl, std::string::npos) << out;
  std::string pid = out.substr(0, nl);
  EXPECT_EQ(out.substr(nl + 1), pid + " " + pid);
}

TEST_F(AttachTest, ExitStatusIsTheCommands) {
  EXPECT_EQ(cove("cove-attach", "att", {"--no-pty", "--", "sh", "-c", "exit 7"}).status, 7);
  EXPECT_EQ(cove("cove-attach", "att", {"--no-pty", "--", "sh", "-c", "kill -KILL $$"}).status, 128 + SIGKILL);
  EXPECT_EQ(cove("cove-attach", "att", {"--no-pty", "--", "/no/such/command"}).status, 127);
}

// SIGTERM to cove-attach reaches the command (which is in another session and process group),
// and cove-attach then exits with the command's status.
TEST_F(AttachTest, SignalsAreForwardedToTheCommand) {
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(out[1], 1);
    std::string tool = builddir() + "/cove-attach";
    ::execl(tool.c_str(), tool.c_str(), "-P", path_.c_str(), "-n", "att", "--no-pty", "--", "sh", "-c",
            "trap 'echo got-term; exit 42' TERM; echo ready; while :; do sleep 1 & wait $!; done", nullptr);
    ::_exit(127);
  }
  ::close(out[1]);
  // Wait until the trap is set (the command said so), then signal cove-attach only.
  std::string got;
  char buf[256];
  int64_t deadline = now_ms() + 30000;
  while (got.find("ready") == std::string::npos && now_ms() < deadline) {
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, size_t(n));
  }
  ASSERT_NE(got.find("ready"), std::string::npos) << got;
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) > 0) got.append(buf, size_t(n));
  ::close(out[0]);
  int st = 0;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  EXPECT_TRUE(WIFEXITED(st)) << "cove-attach was killed by signal " << (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  if (WIFEXITED(st)) {
    EXPECT_EQ(WEXITSTATUS(st), 42);
  }
  EXPECT_NE(got.find("got-term"), std::string::npos) << got;
}

}  // namespace
}  // namespace cove::test
