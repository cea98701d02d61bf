// process/child_process: ownership of a child through its pidfd (spawn, signal, wait, reap on
// destruction, release).
#include "process/child_process.hpp"

#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.hpp"

namespace cove::process {
namespace {

// Whether `pid` is still a child of ours (running or a zombie): waitpid says ECHILD otherwise.
bool is_our_child(pid_t pid) {
  siginfo_t si = {};
  return ::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOHANG | WNOWAIT) == 0;
}

int sleep_forever() {
  for (;;) ::pause();
}

TEST(ChildProcess, WaitReturnsTheExitStatus) {
  auto child = spawn([] { return 7; });
  ASSERT_OK(child);
  pid_t pid = child->pid();
  auto st = child->wait();
  ASSERT_OK(st);
  ASSERT_TRUE(WIFEXITED(*st));
  EXPECT_EQ(WEXITSTATUS(*st), 7);
  EXPECT_EQ(exit_code_of(*st), 7);
  EXPECT_FALSE(child->owns());
  EXPECT_FALSE(is_our_child(pid)) << "no zombie after wait()";
}

TEST(ChildProcess, DestructionKillsAndReaps) {
  pid_t pid = 0;
  {
    auto child = spawn(sleep_forever);
    ASSERT_OK(child);
    pid = child->pid();
    EXPECT_TRUE(is_our_child(pid));
    EXPECT_GE(child->pidfd(), 0);
  }
  EXPECT_FALSE(is_our_child(pid)) << "destruction left the child running or a zombie";
  EXPECT_NE(::kill(pid, 0), 0);
}

TEST(ChildProcess, DestructionReapsAnExitedChild) {
  pid_t pid = 0;
  {
    auto child = spawn([] { return 0; });
    ASSERT_OK(child);
    pid = child->pid();
    auto exited = child->wait_exited(5000);
    ASSERT_OK(exited);
    EXPECT_TRUE(*exited);
    EXPECT_TRUE(is_our_child(pid)) << "wait_exited does not reap";
  }
  EXPECT_FALSE(is_our_child(pid));
}

TEST(ChildProcess, SignalReportsTheSignal) {
  auto child = spawn(sleep_forever);
  ASSERT_OK(child);
  auto exited = child->wait_exited(50);
  ASSERT_OK(exited);
  EXPECT_FALSE(*exited);
  ASSERT_OK(child->signal(SIGTERM));
  auto st = child->wait();
  ASSERT_OK(st);
  ASSERT_TRUE(WIFSIGNALED(*st));
  EXPECT_EQ(WTERMSIG(*st), SIGTERM);
  EXPECT_EQ(exit_code_of(*st), 128 + SIGTERM);
}

// The signal goes to the process the pidfd names, not to the pid: an owner holding the pid of
// one child and the pidfd of another signals the second.
TEST(ChildProcess, SignalGoesThroughThePidfd) {
  auto a = spawn(sleep_forever);
  auto b = spawn(sleep_forever);
  ASSERT_OK(a);
  ASSERT_OK(b);
  auto ra = a->release();
  auto rb = b->release();
  ChildProcess mixed(ra.pid, std::move(rb.pidfd));
  ASSERT_OK(mixed.signal(SIGTERM));
  int st = 0;
  ASSERT_EQ(::waitpid(rb.pid, &st, 0), rb.pid);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
  EXPECT_TRUE(is_our_child(ra.pid));
  siginfo_t si = {};
  EXPECT_EQ(::waitid(P_PID, static_cast<id_t>(ra.pid), &si, WEXITED | WNOHANG), 0);
  EXPECT_EQ(si.si_pid, 0) << "the pid's process must not have been signalled";
  mixed.release();
  ::kill(ra.pid, SIGKILL);
  ::waitpid(ra.pid, nullptr, 0);
}

TEST(ChildProcess, ReleaseLeavesTheChildAlone) {
  pid_t pid = 0;
  {
    auto child = spawn(sleep_forever);
    ASSERT_OK(child);
    pid = child->release().pid;
    EXPECT_FALSE(child->owns());
  }
  EXPECT_TRUE(is_our_child(pid));
  EXPECT_EQ(::kill(pid, 0), 0) << "a released child is not killed";
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

TEST(ChildProcess, MoveTransfersOwnership) {
  auto child = spawn(sleep_forever);
  ASSERT_OK(child);
  pid_t pid = child->pid();
  ChildProcess owner = std::move(*child);
  EXPECT_FALSE(child->owns());
  EXPECT_EQ(owner.pid(), pid);
  EXPECT_EQ(owner.kill_and_reap() & 0x7f, SIGKILL);
  EXPECT_FALSE(is_our_child(pid));
}

TEST(ChildProcess, ExceptionInTheChildEndsIt) {
  auto child = spawn([]() -> int { throw 1; });
  ASSERT_OK(child);
  auto st = child->wait();
  ASSERT_OK(st);
  EXPECT_EQ(exit_code_of(*st), 127);
}

TEST(ChildProcess, SpawnIntoANewUserNamespace) {
  auto child = spawn([] { return ::unshare(0) == 0 ? 3 : 4; }, SpawnOptions{CLONE_NEWUSER});
  if (!child && (child.error().code() == EPERM || child.error().code() == ENOSPC))
    GTEST_SKIP() << "no user namespaces here: " << child.error().message();
  ASSERT_OK(child);
  EXPECT_GE(child->pidfd(), 0);
  auto st = child->wait();
  ASSERT_OK(st);
  EXPECT_EQ(exit_code_of(*st), 3);
}

TEST(ChildProcess, EmptyOwnerRefuses) {
  ChildProcess none;
  EXPECT_FALSE(none.owns());
  EXPECT_ERROR_CONTAINS(none.signal(SIGTERM), "none owned");
  EXPECT_ERROR_CONTAINS(none.wait(), "none owned");
}

}  // namespace
}  // namespace cove::process
