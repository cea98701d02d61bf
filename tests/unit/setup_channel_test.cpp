// The setup channel with both ends in one process: named phases, fd passing, errors, EOF.
#include <fcntl.h>
#include <unistd.h>

#include "process/setup_channel.hpp"
#include "support.hpp"

namespace cove {
namespace {

TEST(SetupChannel, PhasesInOrderCarryFds) {
  auto pair = SetupChannel::make_pair();
  ASSERT_OK(pair);
  auto& [parent, child] = *pair;
  ASSERT_OK(child.send(Phase::kChildStarted));
  ASSERT_OK(parent.expect(Phase::kChildStarted));
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  ASSERT_OK(parent.send(Phase::kParentConfigured, {p[0]}));
  auto fds = child.expect(Phase::kParentConfigured);
  ASSERT_OK(fds);
  ASSERT_EQ(fds->size(), 1u);
  // The received fd is the same pipe: data written to p[1] comes out of it.
  ASSERT_EQ(::write(p[1], "x", 1), 1);
  char c = 0;
  ASSERT_EQ(::read((*fds)[0].get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
  EXPECT_TRUE(::fcntl((*fds)[0].get(), F_GETFD) & FD_CLOEXEC);
  ::close(p[0]);
  ::close(p[1]);
}

TEST(SetupChannel, WrongPhaseIsAProtocolErrorNamingBoth) {
  auto pair = SetupChannel::make_pair();
  ASSERT_OK(pair);
  auto& [parent, child] = *pair;
  ASSERT_OK(child.send(Phase::kChildStarted));
  EXPECT_ERROR_CONTAINS(parent.expect(Phase::kRootfsReady), "expected `rootfs-ready`, got `child-started`");
}

TEST(SetupChannel, ChildErrorBecomesParentError) {
  auto pair = SetupChannel::make_pair();
  ASSERT_OK(pair);
  auto& [parent, child] = *pair;
  ASSERT_OK(child.send_error(Error::from_errno(EACCES, "mount `proc`").context("prepare rootfs")));
  auto r = parent.expect(Phase::kRootfsReady);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), EACCES);
  EXPECT_EQ(r.error().message(), "prepare rootfs: mount `proc`: Permission denied");
}

TEST(SetupChannel, EofBeforePhaseNamesThePhase) {
  auto pair = SetupChannel::make_pair();
  ASSERT_OK(pair);
  auto& [parent, child] = *pair;
  child.close();
  EXPECT_ERROR_CONTAINS(parent.expect(Phase::kChildStarted), "before `child-started`");
}

TEST(SetupChannel, ExecSuccessIsEof) {
  auto pair = SetupChannel::make_pair();
  ASSERT_OK(pair);
  auto& [parent, child] = *pair;
  child.close();
  EXPECT_OK(parent.wait_exec());
}

TEST(SetupChannel, ExecFailureIsTheChildsError) {
  auto pair = SetupChannel::make_pair();
  ASSERT_OK(pair);
  auto& [parent, child] = *pair;
  ASSERT_OK(child.send_error(Error::from_errno(ENOENT, "exec `/sbin/init`")));
  EXPECT_ERROR_CONTAINS(parent.wait_exec(), "exec `/sbin/init`: No such file or directory");
}

TEST(SetupChannel, PhaseNamesAreReadable) {
  EXPECT_STREQ(phase_name(Phase::kParentConfigured), "parent-configured");
  EXPECT_STREQ(phase_name(Phase::kGo), "go");
}

}  // namespace
}  // namespace cove
