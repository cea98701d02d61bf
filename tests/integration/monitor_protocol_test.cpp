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
      R"({"cmd":"stop","timeout":"abc"})",   R"({"cmd":"console","tty":"x"})",
      R"({"cmd":"checkpoint","dir":12})",    R"({"cmd":"cgroup-set","key":1,"value":[]})",
      R"({"cmd":"stop","kill":"yes"})",      R"({"cmd":42})",
      R"({"cmd":"no-such-command"})",        R"([1,2,3])",
      R"({"cmd":"state")",                   std::string(70000, '{'),
      R"({"cmd":"reboot","timeout":-5.5})",  R"({"cmd":"console","tty":4294967296})",
  };
  for (const auto& text : bad) {
    auto client = monitor::Client::connect(sock);
    ASSERT_TRUE(client) << client.error().message();
    UniqueFd conn_fd = client->release();
    auto* conn = &conn_fd;
    // Sent raw: these are not all JSON.
    ::send(conn->get(), text.data(), text.size(), MSG_NOSIGNAL);
    char buf[4096];
    struct timeval tv = {10, 0};
    ::setsockopt(conn->get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n = ::recv(conn->get(), buf, sizeof buf, 0);
    ASSERT_GT(n, 0) << "no reply to " << text.substr(0, 80);
    auto reply = monitor::Json::parse(std::string(buf, size_t(n)), nullptr, false);
    ASSERT_TRUE(reply.is_object()) << std::string(buf, size_t(n));
    EXPECT_EQ(reply.value("ok", true), false) << text.substr(0, 80) << " -> " << reply.dump();
    auto ls = cove("cove-ls", "", {"--running"});
    ASSERT_NE(ls.out.find("mp"), std::string::npos) << "after " << text.substr(0, 80) << ":\n" << ls.out << ls.err;
  }
  EXPECT_EQ(attach_out("mp", {"echo", "alive"}), "alive");
}

}  // namespace
}  // namespace cove::test
