// base/stream_socket: a unix listener and its connect, accept's deadline, a TCP listener on a
// kernel-chosen port of loopback and the peer address of its connection.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
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

// The page stream's token: all of it sent, exactly its length read back; a short stream is
// EPROTO and a silent one ETIMEDOUT, never a wait without end.
TEST(StreamSocket, ExactReadsHaveADeadlineAndSeeTheEnd) {
  auto l = listen_tcp("127.0.0.1");
  ASSERT_OK(l);
  auto c = connect_tcp("127.0.0.1", l->port);
  ASSERT_OK(c);
  auto s = accept_within(l->fd.get(), 1000);
  ASSERT_OK(s);
  ASSERT_OK(send_all(c->get(), "0123456789"));
  auto got = recv_exactly_within(s->get(), 4, 1000);
  ASSERT_OK(got);
  EXPECT_EQ(*got, "0123");
  got = recv_exactly_within(s->get(), 6, 1000);
  ASSERT_OK(got);
  EXPECT_EQ(*got, "456789");
  int64_t t0 = monotonic_ms();
  got = recv_exactly_within(s->get(), 1, 50);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ETIMEDOUT);
  EXPECT_GE(monotonic_ms() - t0, 45);
  ASSERT_OK(send_all(c->get(), "ab"));
  c->reset();
  got = recv_exactly_within(s->get(), 3, 1000);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), EPROTO);
}

// A page stream whose peer goes silent fails in bounded time: keepalive and TCP_USER_TIMEOUT set.
TEST(StreamSocket, SilentPeersAreGivenUpOn) {
  auto l = listen_tcp("127.0.0.1");
  ASSERT_OK(l);
  auto c = connect_tcp("127.0.0.1", l->port);
  ASSERT_OK(c);
  ASSERT_OK(fail_when_peer_silent(c->get(), 15));
  int v = 0;
  socklen_t len = sizeof v;
  ASSERT_EQ(::getsockopt(c->get(), SOL_SOCKET, SO_KEEPALIVE, &v, &len), 0);
  EXPECT_EQ(v, 1);
  unsigned ms = 0;
  len = sizeof ms;
  ASSERT_EQ(::getsockopt(c->get(), IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, &len), 0);
  EXPECT_EQ(ms, 15000u);
  ASSERT_EQ(::getsockopt(c->get(), IPPROTO_TCP, TCP_KEEPIDLE, &v, &len), 0);
  EXPECT_EQ(v, 5);
}

}  // namespace
}  // namespace cove
