// The frames that announce a restored NIC (network/announce): a gratuitous ARP and an
// unsolicited IPv6 neighbour advertisement, byte by byte against hand-checked values; and the
// Announcer's rounds, on a socketpair.
#include "network/announce.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>

#include "support.hpp"

namespace cove::network {
namespace {

MacAddress mac() { return *MacAddress::parse("02:11:22:33:44:55"); }

Frame bytes(std::initializer_list<int> list) {
  Frame f;
  for (int b : list) f.push_back(static_cast<uint8_t>(b));
  return f;
}

TEST(NetworkAnnounce, GratuitousArpIsABroadcastRequestForItsOwnAddress) {
  Frame f = gratuitous_arp(mac(), *IpAddress::parse("10.9.8.7"));
  Frame want = bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 0x08, 0x06,  // Ethernet
                      0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01,                                          // request
                      0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 10, 9, 8, 7,                                   // sender
                      0, 0, 0, 0, 0, 0, 10, 9, 8, 7});                                                   // target
  EXPECT_EQ(f, want);
}

// The checksum was checked with an independent computation (Python, RFC 1071 over the
// pseudo-header): 0xf3e4 for this message.
TEST(NetworkAnnounce, NeighbourAdvertGoesToAllNodesWithOverrideAndChecksum) {
  Frame f = unsolicited_neighbour_advert(mac(), *IpAddress::parse("fd00::10"));
  ASSERT_EQ(f.size(), 14u + 40u + 32u);
  EXPECT_EQ(Frame(f.begin(), f.begin() + 14),
            bytes({0x33, 0x33, 0, 0, 0, 1, 0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 0x86, 0xdd}));
  const uint8_t* ip = f.data() + 14;
  EXPECT_EQ(ip[0], 0x60);
  EXPECT_EQ(ip[4] << 8 | ip[5], 32);  // payload length
  EXPECT_EQ(ip[6], IPPROTO_ICMPV6);
  EXPECT_EQ(ip[7], 255);              // hop limit
  EXPECT_EQ(Frame(ip + 8, ip + 24), bytes({0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}));
  EXPECT_EQ(Frame(ip + 24, ip + 40), bytes({0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
  const uint8_t* na = ip + 40;
  EXPECT_EQ(na[0], 136);   // neighbour advertisement
  EXPECT_EQ(na[1], 0);
  EXPECT_EQ(na[4], 0x20);  // override, not solicited, not router
  EXPECT_EQ(Frame(na + 8, na + 24), Frame(ip + 8, ip + 24));  // target = the source
  EXPECT_EQ(Frame(na + 24, na + 32), bytes({2, 1, 0x02, 0x11, 0x22, 0x33, 0x44, 0x55}));
  EXPECT_EQ(na[2] << 8 | na[3], 0xf3e4);
}

TEST(NetworkAnnounce, OneFramePerAddressOfItsFamily) {
  auto frames = announcement_frames(mac(), {*IpAddress::parse("10.0.0.1"), *IpAddress::parse("fe80::11:22ff:fe33:4455"),
                                            *IpAddress::parse("10.0.0.2")});
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0][12], 0x08);
  EXPECT_EQ(frames[0][13], 0x06);
  EXPECT_EQ(frames[1][12], 0x86);
  EXPECT_EQ(frames[1][13], 0xdd);
  EXPECT_EQ(frames[2][41], 2);
  EXPECT_TRUE(announcement_frames(mac(), {}).empty());
}

TEST(NetworkAnnounce, RoundsStartAtOnceAndEndWithinAFewHundredMilliseconds) {
  EXPECT_EQ(kAnnounceRounds.front().count(), 0);
  EXPECT_LE(kAnnounceRounds.back().count(), 500);
}

// The Announcer against a datagram socketpair standing for the packet socket: every round
// delivers every frame, the last one about 300 ms after the first.
TEST(NetworkAnnounce, AnnouncerSendsEveryRoundThenEnds) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd theirs(sv[1]);
  std::vector<Announcer::Target> targets;
  targets.push_back({"eth0", UniqueFd(sv[0]), {Frame{1, 2, 3}, Frame{4, 5}}});
  auto t0 = std::chrono::steady_clock::now();
  Announcer announcer(std::move(targets));
  std::vector<Frame> got;
  pollfd p{theirs.get(), POLLIN, 0};
  while (got.size() < 2 * kAnnounceRounds.size() && ::poll(&p, 1, 2000) == 1) {
    uint8_t buf[16];
    ssize_t n = ::recv(theirs.get(), buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    got.emplace_back(buf, buf + n);
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(got.size(), 2 * kAnnounceRounds.size());
  for (size_t i = 0; i < got.size(); i += 2) {
    EXPECT_EQ(got[i], (Frame{1, 2, 3}));
    EXPECT_EQ(got[i + 1], (Frame{4, 5}));
  }
  EXPECT_GE(ms, kAnnounceRounds.back().count());
  announcer.stop();
  EXPECT_FALSE(announcer.running());
}

// Stopping does not wait for the rounds still due.
TEST(NetworkAnnounce, StopEndsTheRoundsStillDue) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd theirs(sv[1]);
  std::vector<Announcer::Target> targets;
  targets.push_back({"eth0", UniqueFd(sv[0]), {Frame{7}}});
  Announcer announcer(std::move(targets));
  pollfd p{theirs.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1);  // the first round
  auto t0 = std::chrono::steady_clock::now();
  announcer.stop();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(ms, 50);
  uint8_t buf[4];
  EXPECT_EQ(::recv(theirs.get(), buf, sizeof buf, MSG_DONTWAIT), 1);
  EXPECT_LT(::recv(theirs.get(), buf, sizeof buf, MSG_DONTWAIT), 0) << "a round after the stop";
}

}  // namespace
}  // namespace cove::network
