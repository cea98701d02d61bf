// The monitor's state recorder: legal transitions are written, one outside the table is
// refused loudly (an assert in debug builds, EINVAL with nothing written otherwise), and a
// failed write is reported instead of dropped.
#include "base/fs.hpp"
#include "monitor/state_recorder.hpp"
#include "support.hpp"

namespace cove::monitor {
namespace {

RuntimeState base(const std::string& dir) {
  RuntimeState rs;
  rs.container = dir;
  rs.monitor_pid = 1;
  return rs;
}

ContainerState recorded(const std::string& path) {
  auto text = read_file(path);
  EXPECT_TRUE(text.has_value());
  auto rs = decode_runtime_state(text ? *text : "");
  EXPECT_TRUE(rs.has_value());
  return rs ? rs->state : ContainerState::kStopped;
}

TEST(StateRecorder, WritesLegalTransitions) {
  test::TempDir dir;
  std::string path = dir.path() + "/state";
  StateRecorder rec(path, base(dir.path()));
  ASSERT_OK(rec.record(ContainerState::kStarting));
  EXPECT_EQ(recorded(path), ContainerState::kStarting);
  rec.set_init(::getpid());
  ASSERT_OK(rec.record(ContainerState::kStarting));  // the same state again: new fields
  ASSERT_OK(rec.record(ContainerState::kRunning));
  ASSERT_OK(rec.record(ContainerState::kFrozen));
  EXPECT_EQ(recorded(path), ContainerState::kFrozen);
  EXPECT_EQ(rec.state(), ContainerState::kFrozen);
}

TEST(StateRecorder, RefusesATransitionOutsideTheTable) {
  test::TempDir dir;
  std::string path = dir.path() + "/state";
  StateRecorder rec(path, base(dir.path()));
  ASSERT_OK(rec.record(ContainerState::kStarting));
  // STARTING -> FROZEN is not in the table: a monitor bug.
  EXPECT_DEBUG_DEATH(
      {
        auto r = rec.record(ContainerState::kFrozen);
        EXPECT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code(), EINVAL);
        EXPECT_NE(r.error().message().find("STARTING -> FROZEN"), std::string::npos);
      },
      "transition outside the table");
  EXPECT_EQ(rec.state(), ContainerState::kStarting);
  EXPECT_EQ(recorded(path), ContainerState::kStarting);
}

TEST(StateRecorder, ReportsAFailedWrite) {
  test::TempDir dir;
  StateRecorder rec(dir.path() + "/no-such-dir/state", base(dir.path()));
  auto r = rec.record(ContainerState::kStarting);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("record STARTING"), std::string::npos) << r.error().message();
  EXPECT_EQ(rec.state(), ContainerState::kStarting);  // what the monitor does; the file lags
}

}  // namespace
}  // namespace cove::monitor
