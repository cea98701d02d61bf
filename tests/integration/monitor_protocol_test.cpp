// No message on a monitor's command socket may take the monitor (and with it the container)
// down: wrong field types, unknown commands, garbage, truncated and oversized messages each
// get an error reply, and the container keeps running.
#include <sys/socket.h>
#include <sys/time.h>

#include "monitor/command_client.hpp"
#include "support.hpp"

namespace cove::test {
namespace {

class MonitorProtocolTest : public ContainerTest {};

TEST_F(MonitorProtocolTest, BadRequestsGetAnErrorAndTheContainerKeepsRunning) {
  create_busybox("mp");
  ASSERT_EQ(cove("cove-start", "mp").status, 0);
  std::string sock = runtime_dir("mp") + "/command";
  const std::vector<std::string> bad = {
      // wrong JSON types
      R"({"version":1,"cmd":"stop","timeout":"abc"})", R"({"version":1,"cmd":"console","tty":"x"})",
      R"({"version":1,"cmd":"checkpoint","dir":12})",  R"({"version":1,"cmd":"cgroup-set","key":1,"value":[]})",
      R"({"version":1,"cmd":"stop","kill":"yes"})",    R"({"version":1,"cmd":42})",
      R"({"version":1,"cmd":"reboot","timeout":-5.5})", R"({"version":1,"cmd":"console","tty":4294967296})",
      R"({"version":"1","cmd":"state"})",
      // the requests of the issue, as sent then (no version)
      R"({"cmd":"stop","timeout":"abc"})", R"({"cmd":"console","tty":"x"})", R"({"cmd":"checkpoint","dir":12})",
      // unknown command or field, another version
      R"({"version":1,"cmd":"no-such-command"})", R"({"version":1,"cmd":"freeze","force":true})",
      R"({"version":99,"cmd":"state"})",
      // garbage, truncated, oversized
      R"([1,2,3])", "garbage", "\x01\x02\xff", R"({"version":1,"cmd":"state")", R"({"version":1,"cmd":"sta)",
      std::string(70000, '{'), std::string(200000, ' '),
  };  for (const auto& text : bad) {
    auto client = monitor::Client::connect(sock);
    ASSERT_TRUE(client) << client.error().message();
    UniqueFd conn_fd = client->release();
    const UniqueFd* conn = &conn_fd;
    // Sent raw: these are not all JSON.
    ::send(conn->get(), text.data(), text.size(), MSG_NOSIGNAL);
    char buf[4096];
    struct timeval tv = {10, 0};
    ::setsockopt(conn->get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n = ::recv(conn->get(), buf, sizeof buf, 0);
    ASSERT_GT(n, 0) << "no reply to " << text.substr(0, 80);
    // An error reply, in the protocol's own form.
    auto reply = monitor::decode_reply<monitor::Done>(std::string(buf, size_t(n)));
    ASSERT_FALSE(reply.has_value()) << text.substr(0, 80);
    EXPECT_NE(reply.error().code(), 0);
    EXPECT_TRUE(reply.error().code() == EPROTO || reply.error().code() == E2BIG ||
                reply.error().code() == EPROTONOSUPPORT)
        << text.substr(0, 80) << " -> " << reply.error().message();
    // The monitor still answers a valid request (on a new connection, and on this one).
    auto again = monitor::request(sock, monitor::StateRequest{}, 10000);
    ASSERT_TRUE(again) << "after " << text.substr(0, 80) << ": " << again.error().message();
    EXPECT_EQ(again->state, "RUNNING");
    monitor::Client same(std::move(conn_fd));
    auto on_same = same.call(monitor::StateRequest{}, 10000);
    ASSERT_TRUE(on_same) << "after " << text.substr(0, 80) << ": " << on_same.error().message();
    auto ls = cove("cove-ls", "", {"--running"});
    ASSERT_NE(ls.out.find("mp"), std::string::npos) << "after " << text.substr(0, 80) << ":\n" << ls.out << ls.err;
  }
  EXPECT_EQ(attach_out("mp", {"echo", "alive"}), "alive");
}

// A hold (the source side of a migration takes one) refuses every other connection's changing
// request with EBUSY naming the holder, serves its holder's requests and the others' reads,
// and ends with the holder's connection.
TEST_F(MonitorProtocolTest, AHoldRefusesOtherClientsUntilItsConnectionCloses) {
  create_busybox("mh");
  ASSERT_EQ(cove("cove-start", "mh").status, 0);
  std::string sock = runtime_dir("mh") + "/command";
  auto hold = monitor::Hold::take(sock, "the test (pid 1)");
  ASSERT_TRUE(hold) << hold.error().message();
  for (const char* tool : {"cove-freeze", "cove-stop"}) {
    auto r = cove(tool, "mh");
    EXPECT_NE(r.status, 0) << tool;
    EXPECT_NE(r.err.find("held by the test (pid 1)"), std::string::npos) << tool << ": " << r.err;
  }
  auto other = monitor::Client::connect(sock);
  ASSERT_TRUE(other);
  auto second = other->call(monitor::HoldRequest{"another"}, 10000);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), EBUSY);
  auto read = other->call(monitor::StateRequest{}, 10000);
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(read->state, "RUNNING");
  // This process holds it: its requests go over the hold.
  ASSERT_TRUE(monitor::request(sock, monitor::FreezeRequest{}, 10000));
  EXPECT_EQ(trim_str(cove("cove-info", "mh", {"-s"}).out), "FROZEN");
  ASSERT_TRUE(monitor::request(sock, monitor::ThawRequest{}, 10000));
  hold->reset();
  EXPECT_EQ(cove("cove-freeze", "mh").status, 0);
  EXPECT_EQ(cove("cove-unfreeze", "mh").status, 0);
  EXPECT_EQ(attach_out("mh", {"echo", "alive"}), "alive");
}

}  // namespace
}  // namespace cove::test

