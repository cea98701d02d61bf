// base/stream_socket: a unix listener and its connect, accept's deadline, a TCP listener on a
// kernel-chosen port of loopback and the peer address of its connection.
#include <poll.h>
#include <unistd.h>

#include "base/clock.hpp"
#include "base/stream_socket.hpp"
#include "support.hpp"

namespace cove {
namespace {

TEST(StreamSocket, UnixConnectsAndCarriesBytes) {
  test::TempDir dir;
  std::string path = dir.path() + "/pages";
  auto l = listen_unix(path);
  ASSERT_OK(l);
  auto c = connect_unix(path);
  ASSERT_OK(c);
  auto s = accept_within(l->get(), 1000);
  ASSERT_OK(s);
  ASSERT_EQ(::write(c->get(), "p", 1), 1);
  char b = 0;
  ASSERT_EQ(::read(s->get(), &b, 1), 1);
  EXPECT_EQ(b, 'p');
  EXPECT_ERROR_CONTAINS(listen_unix(path), "bind");  // exists already
  EXPECT_ERROR_CONTAINS(connect_unix(dir.path() + "/none"), "connect to");
}

TEST(StreamSocket, AcceptHasADeadline) {
  test::TempDir dir;
  auto l = listen_unix(dir.path() + "/s");
  ASSERT_OK(l);
  int64_t t0 = monotonic_ms();
  auto s = accept_within(l->get(), 50);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ETIMEDOUT);
  EXPECT_GE(monotonic_ms() - t0, 45);
}

TEST(StreamSocket, TcpOnAChosenPortKnowsItsPeer) {
  auto l = listen_tcp("127.0.0.1");
  ASSERT_OK(l);
  EXPECT_GT(l->port, 0u);
  auto c = connect_tcp("127.0.0.1", l->port);
  ASSERT_OK(c);
  auto s = accept_within(l->fd.get(), 1000);
  ASSERT_OK(s);
  auto peer = peer_address(s->get());
  ASSERT_OK(peer);
  EXPECT_EQ(*peer, "127.0.0.1");
  EXPECT_ERROR_CONTAINS(listen_tcp("host2"), "not a numeric IP address");
}

}  // namespace
}  // namespace cove
