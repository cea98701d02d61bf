// The command server over a socketpair: dispatch through the handler table, and every failure
// of one request (undecodable, oversized, a handler's Error or exception, a command with no
// handler) answered with an error reply while the server goes on serving.
#include <sys/socket.h>

#include <stdexcept>

#include "base/fd_passing.hpp"
#include "monitor/command_server.hpp"
#include "support.hpp"

namespace cove::monitor {
namespace {

class CommandServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    client_.reset(sv[0]);
    server_fd_ = sv[1];
    server_.adopt(UniqueFd(sv[1]));
    server_.on<StateRequest>([](int fd, const StateRequest&) -> Result<void> {
      CommandServer::reply(fd, encode_reply(StateReply{"RUNNING", 42}));
      return {};
    });
    server_.on<FreezeRequest>([](int, const FreezeRequest&) -> Result<void> {
      return Error(EBUSY, "container is FROZEN, not RUNNING");
    });
    server_.on<ThawRequest>([](int, const ThawRequest&) -> Result<void> { throw std::runtime_error("boom"); });
  }
  // Sends `text` raw and returns the server's answer.
  std::string exchange(const std::string& text) {
    EXPECT_EQ(::send(client_.get(), text.data(), text.size(), 0), ssize_t(text.size()));
    server_.serve(server_fd_);
    auto m = recv_with_fds(client_.get(), kMaxMessageBytes);
    EXPECT_TRUE(m.has_value());
    return m ? m->data : std::string();
  }
  void expect_still_serving() {
    auto st = decode_reply<StateReply>(exchange(encode_request(StateRequest{})));
    ASSERT_OK(st);
    EXPECT_EQ(st->init_pid, 42);
  }

  UniqueFd client_;
  int server_fd_ = -1;
  CommandServer server_;
};

TEST_F(CommandServerTest, DispatchesToTheCommandsHandler) { expect_still_serving(); }

TEST_F(CommandServerTest, HandlerErrorIsTheReply) {
  auto r = decode_reply<Done>(exchange(encode_request(FreezeRequest{})));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), EBUSY);
  EXPECT_EQ(r.error().message(), "container is FROZEN, not RUNNING");
  expect_still_serving();
}

TEST_F(CommandServerTest, HandlerExceptionIsAnErrorReply) {
  auto r = decode_reply<Done>(exchange(encode_request(ThawRequest{})));
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("boom"), std::string::npos);
  expect_still_serving();
}

TEST_F(CommandServerTest, CommandWithoutHandlerIsAnErrorReply) {
  auto r = decode_reply<Done>(exchange(encode_request(CgroupSetRequest{"pids.max", "10"})));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ENOTSUP);
  expect_still_serving();
}

TEST_F(CommandServerTest, MalformedMessagesAreErrorReplies) {
  for (const std::string bad : {"garbage", R"({"version":1,"cmd":"state")", R"({"version":1,"cmd":"nope"})",
                                R"({"version":1,"cmd":"stop","timeout":"abc"})"}) {
    auto r = decode_reply<Done>(exchange(bad));
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code(), EPROTO) << bad;
    expect_still_serving();
  }
}

TEST_F(CommandServerTest, OversizedMessageIsAnErrorReply) {
  int big = 1 << 20;
  ASSERT_EQ(::setsockopt(client_.get(), SOL_SOCKET, SO_SNDBUF, &big, sizeof big), 0);
  auto r = decode_reply<Done>(exchange(std::string(kMaxMessageBytes + 100, ' ')));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), E2BIG);
  expect_still_serving();
}

TEST_F(CommandServerTest, EofDropsTheClient) {
  int disconnected = -1;
  server_.on_disconnect([&](int fd) { disconnected = fd; });
  client_.reset();
  server_.serve(server_fd_);
  EXPECT_EQ(disconnected, server_fd_);
  EXPECT_FALSE(server_.has_client(server_fd_));
}

}  // namespace
}  // namespace cove::monitor

namespace cove::monitor {
namespace {

// Two clients of one server: the first holds it.
class CommandServerHoldTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 2; ++i) {
      int sv[2];
      ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
      client_[i].reset(sv[0]);
      server_fd_[i] = sv[1];
      server_.adopt(UniqueFd(sv[1]));
    }
    auto done = [](int fd) {
      CommandServer::reply(fd, encode_reply(Done{}));
      return Result<void>();
    };
    server_.on<FreezeRequest>([done](int fd, const FreezeRequest&) { return done(fd); });
    server_.on<StateRequest>([](int fd, const StateRequest&) -> Result<void> {
      CommandServer::reply(fd, encode_reply(StateReply{"RUNNING", 42}));
      return {};
    });
    server_.on<HoldRequest>([this, done](int fd, const HoldRequest& r) -> Result<void> {
      COVE_TRY(server_.hold(fd, r.holder));
      return done(fd);
    });
  }
  template <typename Reply, typename Req>
  Result<Reply> call(int i, const Req& req) {
    std::string text = encode_request(req);
    EXPECT_EQ(::send(client_[i].get(), text.data(), text.size(), 0), ssize_t(text.size()));
    server_.serve(server_fd_[i]);
    auto m = recv_with_fds(client_[i].get(), kMaxMessageBytes);
    if (!m) return std::move(m).error();
    return decode_reply<Reply>(m->data);
  }

  UniqueFd client_[2];
  int server_fd_[2] = {-1, -1};
  CommandServer server_;
};

TEST_F(CommandServerHoldTest, OthersChangesAreRefusedTheirReadsServed) {
  ASSERT_OK(call<Done>(0, HoldRequest{"cove-migrate (pid 9)"}));
  auto refused = call<Done>(1, FreezeRequest{});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), EBUSY);
  EXPECT_NE(refused.error().message().find("held by cove-migrate (pid 9)"), std::string::npos)
      << refused.error().message();
  EXPECT_NE(refused.error().message().find("`freeze`"), std::string::npos) << refused.error().message();
  auto second = call<Done>(1, HoldRequest{"another"});
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code(), EBUSY);
  ASSERT_OK(call<StateReply>(1, StateRequest{}));
  ASSERT_OK(call<Done>(0, FreezeRequest{}));
  ASSERT_OK(call<Done>(0, HoldRequest{"again, same connection"}));
}

// While busy (a lazy dump serving pages), nobody's changing request passes, not even the
// holder's; reads do.
TEST_F(CommandServerHoldTest, BusyRefusesEveryChangeButServesReads) {
  ASSERT_OK(call<Done>(0, HoldRequest{"h"}));
  server_.set_busy("its CRIU serves its memory");
  for (int i = 0; i < 2; ++i) {
    auto r = call<Done>(i, FreezeRequest{});
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), EBUSY);
    EXPECT_NE(r.error().message().find("its CRIU serves its memory"), std::string::npos) << r.error().message();
    ASSERT_OK(call<StateReply>(i, StateRequest{}));
  }
  server_.set_busy({});
  ASSERT_OK(call<Done>(0, FreezeRequest{}));
}

TEST_F(CommandServerHoldTest, AHoldersNameIsShownPrintableOnly) {
  ASSERT_OK(call<Done>(0, HoldRequest{"evil\x1b]0;x\x07 tool"}));
  auto r = call<Done>(1, FreezeRequest{});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message().find('\x1b'), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("evil?]0;x? tool"), std::string::npos) << r.error().message();
}

TEST_F(CommandServerHoldTest, TheHoldEndsWithItsConnection) {
  ASSERT_OK(call<Done>(0, HoldRequest{"h"}));
  server_.drop(server_fd_[0]);
  ASSERT_OK(call<Done>(1, FreezeRequest{}));
  ASSERT_OK(call<Done>(1, HoldRequest{"the next holder"}));
}

}  // namespace
// A message is received into a buffer of its own size, not of the limit: the monitor's heap
// would keep a limit-sized buffer per request dirty. Oversized and empty messages as before.
TEST(RecvWithFds, TheBufferIsTheMessagesSize) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  ASSERT_TRUE(send_with_fds(a.get(), "{\"state\":{}}", {}));
  auto m = recv_with_fds(b.get(), 65536);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->data, "{\"state\":{}}");
  EXPECT_LT(m->data.capacity(), 4096u);
  ASSERT_TRUE(send_with_fds(a.get(), std::string(100, 'x'), {}));
  auto big = recv_with_fds(b.get(), 50);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code(), EMSGSIZE);
  a.reset();
  auto eof = recv_with_fds(b.get(), 65536);
  ASSERT_TRUE(eof);
  EXPECT_TRUE(eof->eof);
}

}  // namespace cove::monitor
