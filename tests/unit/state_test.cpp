#include <unistd.h>

#include "state/container_state.hpp"
#include "support.hpp"

namespace cove {
namespace {

TEST(ContainerState, NamesRoundTrip) {
  for (auto s : {ContainerState::kStopped, ContainerState::kStarting, ContainerState::kRunning,
                 ContainerState::kStopping, ContainerState::kAborting, ContainerState::kFrozen,
                 ContainerState::kCheckpointing, ContainerState::kRestoring}) {
    EXPECT_EQ(parse_state(state_name(s)), s);
    EXPECT_NE(state_names().find(state_name(s)), std::string::npos) << state_name(s);
  }
  EXPECT_EQ(parse_state("running"), ContainerState::kRunning);
  EXPECT_STREQ(state_name(ContainerState::kCheckpointing), "CHECKPOINTING");
  EXPECT_EQ(parse_state("restoring"), ContainerState::kRestoring);
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

// A dump starts from RUNNING or FROZEN and returns there, or goes on to a stop (--stop).
TEST(ContainerState, CheckpointTransitions) {
  using S = ContainerState;
  EXPECT_TRUE(can_transition(S::kRunning, S::kCheckpointing));
  EXPECT_TRUE(can_transition(S::kFrozen, S::kCheckpointing));
  EXPECT_TRUE(can_transition(S::kCheckpointing, S::kRunning));
  EXPECT_TRUE(can_transition(S::kCheckpointing, S::kFrozen));
  EXPECT_TRUE(can_transition(S::kCheckpointing, S::kStopping));
  EXPECT_FALSE(can_transition(S::kStopped, S::kCheckpointing));
  EXPECT_FALSE(can_transition(S::kStarting, S::kCheckpointing));
  EXPECT_FALSE(can_transition(S::kStopping, S::kCheckpointing));
  EXPECT_FALSE(can_transition(S::kCheckpointing, S::kCheckpointing));  // one dump at a time
  EXPECT_FALSE(can_transition(S::kCheckpointing, S::kStopped));       // always through STOPPING
  EXPECT_FALSE(can_transition(S::kCheckpointing, S::kRestoring));
  EXPECT_TRUE(can_checkpoint(S::kRunning));
  EXPECT_TRUE(can_checkpoint(S::kFrozen));
  EXPECT_FALSE(can_checkpoint(S::kCheckpointing));
  EXPECT_FALSE(can_checkpoint(S::kRestoring));
  EXPECT_FALSE(can_checkpoint(S::kStopped));
}

// A restore is a start from images: from STOPPED to RUNNING or FROZEN, or back to nothing.
TEST(ContainerState, RestoreTransitions) {
  using S = ContainerState;
  EXPECT_TRUE(can_transition(S::kStopped, S::kRestoring));
  EXPECT_TRUE(can_transition(S::kRestoring, S::kRunning));
  EXPECT_TRUE(can_transition(S::kRestoring, S::kFrozen));
  EXPECT_TRUE(can_transition(S::kRestoring, S::kStopped));
  EXPECT_FALSE(can_transition(S::kRunning, S::kRestoring));
  EXPECT_FALSE(can_transition(S::kRestoring, S::kCheckpointing));
  EXPECT_FALSE(can_transition(S::kRestoring, S::kStarting));
}

// While CRIU has the container the tools refuse to change it, with a message that says why.
TEST(ContainerState, BusyStates) {
  using S = ContainerState;
  EXPECT_TRUE(is_busy(S::kCheckpointing));
  EXPECT_TRUE(is_busy(S::kRestoring));
  for (auto s : {S::kStopped, S::kStarting, S::kRunning, S::kStopping, S::kAborting, S::kFrozen}) {
    EXPECT_FALSE(is_busy(s)) << state_name(s);
  }
  EXPECT_FALSE(can_stop(S::kCheckpointing));
  EXPECT_FALSE(can_stop(S::kRestoring));
  EXPECT_FALSE(can_attach(S::kCheckpointing));
  EXPECT_FALSE(can_start(S::kRestoring));
  auto e = busy_error("web", S::kCheckpointing);
  EXPECT_EQ(e.code(), EBUSY);
  EXPECT_EQ(e.message(), "`web` is being checkpointed (CHECKPOINTING); try again when that has finished");
  EXPECT_EQ(busy_error("web", S::kRestoring).message(),
            "`web` is being restored (RESTORING); try again when that has finished");
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
  // Found by tests/fuzz/fuzz_state: a wrong type threw out of the decoder, a float pid was
  // converted with undefined behaviour.
  EXPECT_ERROR_CONTAINS(decode_runtime_state(R"({"state":91176400000})"), "wrong type");
  EXPECT_ERROR_CONTAINS(decode_runtime_state(R"({"state":"RUNNING","init_pid":"x"})"), "wrong type");
  EXPECT_ERROR_CONTAINS(decode_runtime_state(R"({"state":"RUNNING","init_pid":4.2e131})"), "not a 64-bit integer");
  EXPECT_ERROR_CONTAINS(decode_runtime_state(R"({"state":"RUNNING","init_pid":1e400})"), "");
  s.state = ContainerState::kCheckpointing;
  d = decode_runtime_state(encode_runtime_state(s));
  ASSERT_OK(d);
  EXPECT_EQ(d->state, ContainerState::kCheckpointing);
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
