// The monitor protocol's encoder and decoder: every request and reply round-trips, and a
// malformed message (not JSON, truncated, oversized, wrong version, unknown command or field,
// wrong type) is a clear error, never an exception.
#include "lifecycle/exec_record.hpp"
#include "monitor/protocol.hpp"
#include "support.hpp"

namespace cove::monitor {
namespace {

template <typename T>
T round_trip(const T& req) {
  auto back = decode_request(encode_request(Request(req)));
  EXPECT_TRUE(back.has_value()) << (back ? "" : back.error().message());
  EXPECT_TRUE(std::holds_alternative<T>(*back));
  return std::get<T>(*back);
}

TEST(MonitorProtocol, RequestsRoundTrip) {
  round_trip(StateRequest{});
  auto stop = round_trip(StopRequest{7, true});
  EXPECT_EQ(stop.timeout_s, 7u);
  EXPECT_TRUE(stop.kill);
  EXPECT_FALSE(round_trip(StopRequest{}).timeout_s.has_value());
  EXPECT_EQ(round_trip(RebootRequest{3}).timeout_s, 3u);
  EXPECT_EQ(round_trip(ConsoleRequest{2}).tty, 2u);
  auto cp = round_trip(CheckpointRequest{"/tmp/img", true, "", ""});
  EXPECT_EQ(cp.dir, "/tmp/img");
  EXPECT_TRUE(cp.stop);
  EXPECT_EQ(cp.lazy_pages_socket, "");
  auto lazy = round_trip(CheckpointRequest{"/run/cove/x/.migrate-images", false, "/tmp/cove-migrate.x/pages",
                                           std::string(64, 'f')});
  EXPECT_EQ(lazy.lazy_pages_socket, "/tmp/cove-migrate.x/pages");
  EXPECT_EQ(lazy.lazy_pages_token, std::string(64, 'f'));
  round_trip(FreezeRequest{});
  round_trip(ThawRequest{});
  auto set = round_trip(CgroupSetRequest{"memory.max", "1G"});
  EXPECT_EQ(set.key, "memory.max");
  EXPECT_EQ(set.value, "1G");
  EXPECT_EQ(round_trip(HoldRequest{"cove-migrate (pid 7) to ssh://h"}).holder, "cove-migrate (pid 7) to ssh://h");
}

TEST(MonitorProtocol, OnlyReadsPassAHold) {
  EXPECT_TRUE(is_read_only(StateRequest{}));
  EXPECT_TRUE(is_read_only(ConsoleRequest{}));
  EXPECT_TRUE(is_read_only(NetStatusRequest{}));
  for (const Request& r : {Request(StopRequest{}), Request(RebootRequest{}), Request(CheckpointRequest{}),
                           Request(FreezeRequest{}), Request(ThawRequest{}), Request(CgroupSetRequest{}),
                           Request(NetSetRequest{}), Request(NetAttachRequest{}), Request(NetDetachRequest{}),
                           Request(HoldRequest{})})
    EXPECT_FALSE(is_read_only(r)) << command_name(r);
}

TEST(MonitorProtocol, CommandNames) {
  EXPECT_STREQ(command_name(CgroupSetRequest{}), "cgroup-set");
  EXPECT_STREQ(command_name(StateRequest{}), "state");
  EXPECT_STREQ(command_name(ThawRequest{}), "thaw");
}

void expect_refused(const std::string& text, const std::string& says, int code = EPROTO) {
  auto r = decode_request(text);
  ASSERT_FALSE(r.has_value()) << text;
  EXPECT_EQ(r.error().code(), code) << text << ": " << r.error().message();
  EXPECT_NE(r.error().message().find(says), std::string::npos) << text << ": " << r.error().message();
}

TEST(MonitorProtocol, MalformedRequestsAreRefusedClearly) {
  expect_refused(R"({"version":1,"cmd":"stop","timeout":"abc"})", "field `timeout` must be an unsigned integer");
  expect_refused(R"({"version":1,"cmd":"stop","timeout":-5.5})", "field `timeout`");
  expect_refused(R"({"version":1,"cmd":"console","tty":"x"})", "field `tty`");
  expect_refused(R"({"version":1,"cmd":"console","tty":4294967296})", "field `tty`");
  expect_refused(R"({"version":1,"cmd":"checkpoint","dir":12})", "field `dir` must be a string");
  expect_refused(R"({"version":1,"cmd":"checkpoint"})", "field `dir` is missing");
  expect_refused(R"({"version":1,"cmd":"stop","kill":"yes"})", "field `kill` must be a boolean");
  expect_refused(R"({"version":1,"cmd":42})", "field `cmd` must be a string");
  expect_refused(R"({"version":1})", "field `cmd` is missing");
  expect_refused(R"({"version":1,"cmd":"no-such-command"})", "unknown command `no-such-command`");
  expect_refused(R"({"version":1,"cmd":"freeze","force":true})", "`freeze` has no field `force`");
  expect_refused(R"({"cmd":"state"})", "has no `version`");
  expect_refused(R"({"version":"1","cmd":"state"})", "field `version`");
  expect_refused(R"({"version":2,"cmd":"state"})", "protocol version 2", EPROTONOSUPPORT);
  expect_refused(R"({"version":1,"cmd":"state")", "truncated");
  expect_refused(R"({"version":1,"cm)", "truncated");
  expect_refused("", "truncated");
  expect_refused("garbage", "not JSON");
  expect_refused("[1,2,3]", "not a JSON object");
  expect_refused(std::string(kMaxMessageBytes + 1, '{'), "larger than the limit", E2BIG);
  expect_refused(R"({"version":1,"cmd":"hold"})", "field `holder` is missing");
  expect_refused(R"({"version":1,"cmd":"hold","holder":")" + std::string(kMaxHolderBytes + 1, 'x') + R"("})",
                 "longer than 256 bytes");
}

TEST(MonitorProtocol, RepliesRoundTrip) {
  CheckpointReply cp;
  cp.images_dir = "/img";
  cp.criu_version = "4.2.1";
  cp.wall_ms = 42;
  cp.stopped = true;
  cp.stats.frozen_time_us = 1234;
  cp.stats.pages_written = 1ull << 40;
  auto back = decode_reply<CheckpointReply>(encode_reply(Result<CheckpointReply>(cp)));
  ASSERT_OK(back);
  EXPECT_EQ(back->images_dir, "/img");
  EXPECT_EQ(back->wall_ms, 42);
  EXPECT_TRUE(back->stopped);
  EXPECT_EQ(back->stats.frozen_time_us, 1234u);
  EXPECT_EQ(back->stats.pages_written, 1ull << 40);
  auto st = decode_reply<StateReply>(encode_reply(Result<StateReply>(StateReply{"RUNNING", 99})));
  ASSERT_OK(st);
  EXPECT_EQ(st->state, "RUNNING");
  EXPECT_EQ(st->init_pid, 99);
  ASSERT_OK(decode_reply<Done>(encode_reply(Result<Done>(Done{}))));
}

TEST(MonitorProtocol, ErrorReplyIsTheSendersError) {
  Error e = Error::from_errno(EBUSY, "write `cgroup.freeze`").context("freeze");
  auto r = decode_reply<Done>(encode_error_reply(e));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), EBUSY);
  EXPECT_EQ(r.error().chain(), e.chain());
}

TEST(MonitorProtocol, MalformedRepliesAreErrors) {
  for (const char* bad : {"", "nope", R"({"version":1})", R"({"version":1,"ok":"yes"})",
                          R"({"version":1,"ok":false,"error":"text"})", R"({"version":1,"ok":true,"state":3,"init_pid":1})",
                          R"({"version":1,"ok":true,"state":"RUNNING"})"}) {
    auto r = decode_reply<StateReply>(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code(), EPROTO) << bad << ": " << r.error().message();
  }
}

TEST(MonitorProtocol, StartStatus) {
  auto ok = decode_start_status(encode_start_status(std::optional<RestoreReply>()));
  ASSERT_OK(ok);
  EXPECT_FALSE(ok->has_value());
  RestoreReply rr;
  rr.init_pid = 1234;
  rr.criu_version = "4.2.1";
  rr.stats.pages_restored = 77;
  auto restored = decode_start_status(encode_start_status(std::optional<RestoreReply>(rr)));
  ASSERT_OK(restored);
  ASSERT_TRUE(restored->has_value());
  EXPECT_EQ((*restored)->init_pid, 1234);
  EXPECT_EQ((*restored)->stats.pages_restored, 77u);
  auto failed = decode_start_status(encode_start_status(Error(ENOENT, "no rootfs").context("start `web`")));
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code(), ENOENT);
  EXPECT_EQ(failed.error().message(), "start `web`: no rootfs");
}

TEST(MonitorProtocol, Go) {
  ASSERT_OK(decode_go(encode_go()));
  for (const char* bad : {"", R"({"go": true})", R"({"version": 1})", R"({"version": 1, "go": false})",
                          R"({"version": 1, "go": "yes"})", R"({"version": 1, "go": true, "x": 1})"}) {
    auto r = decode_go(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code(), EPROTO) << bad << ": " << r.error().message();
  }
}

TEST(MonitorProtocol, CgroupsMade) {
  CgroupsMade m{{"/sys/fs/cgroup/cpu/cove.payload.k", "/sys/fs/cgroup/unified/cove.payload.k"},
                {"/sys/fs/cgroup/cpu/cove.monitors", "/sys/fs/cgroup/unified/cove.monitors"}};
  auto back = decode_cgroups_made(encode_cgroups_made(m));
  ASSERT_OK(back);
  EXPECT_EQ(back->payload_dirs, m.payload_dirs);
  EXPECT_EQ(back->monitor_dirs, m.monitor_dirs);
  for (const char* bad : {"", "[]", R"({"payload_dirs": []})", R"({"version": 1, "payload_dirs": "/a"})",
                          R"({"version": 1, "payload_dirs": [1]})", R"({"version": 1, "monitor_dirs": [], "x": 1})",
                          R"({"version": 1, "payload_dirs": ["/a")"}) {
    auto r = decode_cgroups_made(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code(), EPROTO) << bad << ": " << r.error().message();
  }
  auto other = decode_cgroups_made(R"({"version": 2, "payload_dirs": []})");
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().code(), EPROTONOSUPPORT);
}

TEST(MonitorProtocol, ExecMade) {
  ExecMade m;
  m.restrictions.emplace();
  m.restrictions->bounding = 0x3f;
  m.restrictions->no_new_privs = true;
  m.restrictions->seccomp = {{0x20, 0, 0, 4}, {0x06, 0, 0, 0x7fff0000}};
  m.restrictions->seccomp_source = "/etc/cove/seccomp";
  auto back = decode_exec_made(encode_exec_made(m));
  ASSERT_OK(back);
  ASSERT_TRUE(back->restrictions.has_value());
  EXPECT_EQ(back->restrictions->bounding, 0x3fu);
  EXPECT_TRUE(back->restrictions->no_new_privs);
  ASSERT_EQ(back->restrictions->seccomp.size(), 2u);
  EXPECT_EQ(back->restrictions->seccomp[1].k, 0x7fff0000u);
  EXPECT_EQ(back->restrictions->seccomp_source, "/etc/cove/seccomp");
  // None computed: the monitor computes them itself.
  auto none = decode_exec_made(encode_exec_made({}));
  ASSERT_OK(none);
  EXPECT_FALSE(none->restrictions.has_value());
  std::string with_env = lifecycle::encode_exec_record({*m.restrictions, {"A=1"}});
  for (const std::string& bad : {std::string(""), std::string("[]"), std::string(R"({"exec_record": "{}"})"),
                                 std::string(R"({"version": 1, "exec_record": 1})"),
                                 std::string(R"({"version": 1, "exec_record": "{}"})"),
                                 std::string(R"({"version": 1, "exec_record": "not json"})"),
                                 std::string(R"({"version": 1, "restrictions": {}})"),
                                 nlohmann::json{{"version", 1}, {"exec_record", with_env}}.dump()}) {
    auto r = decode_exec_made(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code(), EPROTO) << bad << ": " << r.error().message();
  }
  auto other = decode_exec_made(R"({"version": 2})");
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().code(), EPROTONOSUPPORT);
}

}  // namespace
}  // namespace cove::monitor
