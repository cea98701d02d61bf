#include <unistd.h>

#include "state/container_state.hpp"
#include "support.hpp"

namespace cove {
namespace {

TEST(ContainerState, NamesRoundTrip) {
  for (auto s : {ContainerState::kStopped, ContainerState::kStarting, ContainerState::kRunning,
                 ContainerState::kStopping, ContainerState::kAborting, ContainerState::kFrozen}) {
    EXPECT_EQ(parse_state(state_name(s)), s);
  }
  EXPECT_EQ(parse_state("running"), ContainerState::kRunning);
  EXPECT_EQ(parse_state("asleep"), std::nullopt);
}

TEST(ContainerState, Transitions) {
  EXPECT_TRUE(can_transition(ContainerState::kStopped, ContainerState::kStarting));
  EXPECT_TRUE(can_transition(ContainerState::kStarting, ContainerState::kRunning));
  EXPECT_TRUE(can_transition(ContainerState::kStarting, ContainerState::kAborting));
  EXPECT_TRUE(can_transition(ContainerState::kRunning, ContainerState::kStopping));
  EXPECT_TRUE(can_transition(ContainerState::kStopping, ContainerState::kStopped));
  EXPECT_FALSE(can_transition(ContainerState::kStopped, ContainerState::kRunning));
  EXPECT_FALSE(can_transition(ContainerState::kStopped, ContainerState::kStopping));
  EXPECT_FALSE(can_transition(ContainerState::kAborting, ContainerState::kRunning));
  EXPECT_TRUE(can_start(ContainerState::kStopped));
  EXPECT_FALSE(can_start(ContainerState::kRunning));
  EXPECT_TRUE(can_stop(ContainerState::kFrozen));
  EXPECT_FALSE(can_stop(ContainerState::kStopped));
  EXPECT_TRUE(can_attach(ContainerState::kRunning));
  EXPECT_FALSE(can_attach(ContainerState::kStarting));
}

TEST(RuntimeState, EncodeDecode) {
  RuntimeState s;
  s.state = ContainerState::kRunning;
  s.monitor_pid = 42;
  s.monitor_starttime = 123456;
  s.init_pid = 43;
  s.privileged = true;
  s.payload_cgroups = {"/sys/fs/cgroup/memory/cove.payload.x"};
  auto d = decode_runtime_state(encode_runtime_state(s));
  ASSERT_OK(d);
  EXPECT_EQ(d->state, ContainerState::kRunning);
  EXPECT_EQ(d->monitor_pid, 42);
  EXPECT_EQ(d->monitor_starttime, 123456u);
  EXPECT_EQ(d->init_pid, 43);
  EXPECT_TRUE(d->privileged);
  EXPECT_EQ(d->payload_cgroups, s.payload_cgroups);
  EXPECT_ERROR_CONTAINS(decode_runtime_state("{not json"), "not a JSON object");
  EXPECT_ERROR_CONTAINS(decode_runtime_state(R"({"state":"DANCING"})"), "no valid `state`");
}

TEST(RuntimeState, ProcessIdentity) {
  auto st = process_starttime(::getpid());
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(process_matches(::getpid(), *st));
  EXPECT_FALSE(process_matches(::getpid(), *st + 1));
  EXPECT_FALSE(process_matches(0, 0));
}

}  // namespace
}  // namespace cove
