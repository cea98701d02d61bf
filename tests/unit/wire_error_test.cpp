// The wire form of an Error: one encoding for every process boundary; decoding rebuilds the
// same code, message and chain, and anything else is a clear EPROTO error.
#include "base/wire_error.hpp"
#include "process/setup_channel.hpp"
#include "support.hpp"

namespace cove {
namespace {

Error sample() { return Error::from_errno(EACCES, "mount `proc`").context("prepare rootfs").context("start `web`"); }

TEST(WireError, ChainIsOutermostFirst) {
  auto w = to_wire(sample());
  EXPECT_EQ(w.code, EACCES);
  EXPECT_EQ(w.context, (std::vector<std::string>{"start `web`", "prepare rootfs", "mount `proc`: Permission denied"}));
}

TEST(WireError, RoundTripGivesBackTheSameError) {
  Error e = decode_error(encode_error(sample()));
  EXPECT_EQ(e.code(), EACCES);
  EXPECT_EQ(e.message(), sample().message());
  EXPECT_EQ(e.chain(), sample().chain());
  // Context added after the crossing goes on the same chain.
  auto outer = std::move(e).context("cove-start");
  EXPECT_EQ(outer.chain().front(), "cove-start");
  EXPECT_EQ(outer.chain().size(), 4u);
}

TEST(WireError, PartsWithColonsStayWhole) {
  Error e = Error(ENOENT, "no `a: b`").context("open `x: y`");
  EXPECT_EQ(decode_error(encode_error(e)).chain(), e.chain());
}

TEST(WireError, MalformedIsRefused) {
  for (const char* bad : {"", "garbage", "[]", "{}", R"({"code":"13","context":["x"]})", R"({"code":13})",
                          R"({"code":13,"context":[]})", R"({"code":13,"context":[1]})",
                          R"({"code":13,"context":"x"})", R"({"code":-1,"context":["x"]})",
                          R"({"code":1e40,"context":["x"]})", R"({"code":13,"context":["x"])"}) {
    Error e = decode_error(bad);
    EXPECT_EQ(e.code(), EPROTO) << bad;
    EXPECT_NE(e.message().find("malformed error"), std::string::npos) << e.message();
  }
}

TEST(WireError, SetupChannelKeepsTheChain) {
  auto pair = SetupChannel::make_pair();
  ASSERT_OK(pair);
  auto& [parent, child] = *pair;
  ASSERT_OK(child.send_error(sample()));
  auto r = parent.expect(Phase::kRootfsReady);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), EACCES);
  EXPECT_EQ(r.error().chain(), sample().chain());
}

TEST(WireError, SetupChannelLongErrorIsNotCut) {
  auto pair = SetupChannel::make_pair();
  ASSERT_OK(pair);
  auto& [parent, child] = *pair;
  Error e(EINVAL, std::string(5000, 'x'));
  ASSERT_OK(child.send_error(e));
  auto r = parent.wait_exec();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), e.message());
}

}  // namespace
}  // namespace cove
