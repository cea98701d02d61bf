// find_vfork_in_progress against real processes: a vfork whose child has not exec'd, and a
// plain fork (separate memory) that must not be taken for one.
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "lifecycle/dump_freeze.hpp"

namespace cove::lifecycle {
namespace {

// Forks a process that vfork()s (use_vfork) or fork()s a child which sleeps; returns the parent.
// Each side writes its pid into the pipe before it sleeps, so the test knows both pids.
pid_t spawn_pair(bool use_vfork, int pipe_w) {
  pid_t parent = ::fork();
  if (parent != 0) return parent;
  pid_t self = ::getpid();
  (void)!::write(pipe_w, &self, sizeof self);
  pid_t child = use_vfork ? ::vfork() : ::fork();
  if (child == 0) {
    pid_t me = ::getpid();
    (void)!::write(pipe_w, &me, sizeof me);
    struct timespec t = {30, 0};
    ::nanosleep(&t, nullptr);
    ::_exit(0);
  }
  ::waitpid(child, nullptr, 0);
  ::_exit(0);
}

struct Pair {
  pid_t parent = 0, child = 0;
};

Pair start_pair(bool use_vfork) {
  int p[2];
  EXPECT_EQ(::pipe(p), 0);
  Pair pair;
  pair.parent = spawn_pair(use_vfork, p[1]);
  ::close(p[1]);
  pid_t a = 0, b = 0;
  EXPECT_EQ(::read(p[0], &a, sizeof a), static_cast<ssize_t>(sizeof a));
  EXPECT_EQ(::read(p[0], &b, sizeof b), static_cast<ssize_t>(sizeof b));
  ::close(p[0]);
  pair.child = b;
  // The child's write comes before the parent is asleep in vfork() (or its fork returned):
  // a moment for the kernel to finish the clone either way.
  struct timespec t = {0, 50 * 1000 * 1000};
  ::nanosleep(&t, nullptr);
  return pair;
}

void end_pair(const Pair& pair) {
  ::kill(pair.child, SIGKILL);
  ::kill(pair.parent, SIGKILL);
  ::waitpid(pair.parent, nullptr, 0);
}

TEST(DumpFreeze, FindsAVforkWhoseChildHasNotExeced) {
  Pair pair = start_pair(true);
  auto found = find_vfork_in_progress({pair.parent, pair.child});
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->parent, pair.parent);
  EXPECT_EQ(found->child, pair.child);
  // Only pairs inside the set count: the child alone is not one.
  EXPECT_FALSE(find_vfork_in_progress({pair.child}).has_value());
  end_pair(pair);
}

TEST(DumpFreeze, APlainForkIsNotAVfork) {
  Pair pair = start_pair(false);
  EXPECT_FALSE(find_vfork_in_progress({pair.parent, pair.child}).has_value());
  end_pair(pair);
}

}  // namespace
}  // namespace cove::lifecycle
