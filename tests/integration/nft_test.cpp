// network/nft against the real kernel: every builder's ruleset loaded by run_nft into network
// namespaces this test makes (nothing touches the host's ruleset or links), then checked with
// real traffic. Each check that something is dropped is preceded by the same traffic passing
// without the table, so a drop is the table's doing and not a broken topology. The namespaces,
// and with them links, tables and sockets, go away with the fixture, also when a check fails.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include "netns_support.hpp"
#include "network/nft.hpp"

namespace cove::test {
namespace {

using network::NftTable;
using network::PortFilter;

#define ASSERT_NFT_OK(expr)                                               \
  do {                                                                    \
    auto cove_r_ = (expr);                                                \
    ASSERT_TRUE(cove_r_.has_value()) << "error: " << cove_r_.error().message(); \
  } while (0)

MacAddress mac(const std::string& s) { return *MacAddress::parse(s); }
const MacAddress kBroadcast = *MacAddress::parse("ff:ff:ff:ff:ff:ff");
constexpr uint16_t kUdpPort = 7001;
constexpr int kDropWaitMs = 1000;  // how long "nothing came" is waited for

// Sends a datagram from `from` (source SRC) to DST:kUdpPort in `to`; the source `to` saw it
// from, "" when nothing came.
std::string udp_seen(const TestNetns& from, const std::string& src, const TestNetns& to, const std::string& dst,
                     const std::string& dev = "") {
  static int seq = 0;
  UdpReceiver rx(to, IpAddress::parse(dst)->is_v4() ? "0.0.0.0" : "::", kUdpPort);
  EXPECT_TRUE(rx.valid()) << "udp receiver for " << dst;
  std::string payload = "probe-" + std::to_string(::getpid()) + "-" + std::to_string(++seq);
  std::string e = send_udp(from, src, dst, kUdpPort, payload, dev);
  EXPECT_EQ(e, "") << "send from " << src << " to " << dst;
  return rx.source_of(payload, kDropWaitMs).value_or("");
}

// --- Anti-spoofing: bridge br0 in H with ports vA, vB; their peers are eth0 in A and B.

const std::string kMacA = "02:00:00:77:00:0a", kMacB = "02:00:00:77:00:0b", kMacOther = "02:00:00:77:00:ee";

class NftAntispoof : public ::testing::Test {
 protected:
  void SetUp() override {
    COVE_REQUIRE_ROOT();
    ASSERT_TRUE(h_.valid() && a_.valid() && b_.valid()) << "unshare(CLONE_NEWNET) failed";
    for (const TestNetns* ns : {&h_, &a_, &b_})
      ASSERT_SH(*ns, "sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0");
    ASSERT_EQ(add_veth(h_, "vA", a_, "eth0").status, 0);
    ASSERT_EQ(add_veth(h_, "vB", b_, "eth0").status, 0);
    ASSERT_SH(h_,
              "ip link add br0 type bridge && ip link set vA master br0 && ip link set vB master br0 && "
              "ip link set vA up && ip link set vB up && ip link set br0 up && "
              "ip addr add 10.77.0.1/24 dev br0 && ip addr add fd77::1/64 dev br0 nodad && "
              "sysctl -qw net.ipv4.neigh.br0.locktime=0");
    ASSERT_SH(a_, "ip link set eth0 address " + kMacA +
                      " && ip addr add 10.77.0.2/24 dev eth0 && ip addr add fd77::2/64 dev eth0 nodad && ip link set eth0 up");
    ASSERT_SH(b_, "ip link set eth0 address " + kMacB +
                      " && ip addr add 10.77.0.3/24 dev eth0 && ip addr add fd77::3/64 dev eth0 nodad && ip link set eth0 up");
    // The carrier comes up asynchronously (linkwatch), and with it the link-local address that
    // sending to ff02::1 needs.
    for (const TestNetns* ns : {&a_, &b_})
      ASSERT_TRUE(eventually([&] { return ns->sh("ip -6 addr show dev eth0 scope link").out.find("inet6") != std::string::npos; }, 5000))
          << "no link-local address on eth0";
  }

  PortFilter port_a(bool filter_mac = true) const {
    PortFilter p;
    p.host_ifname = "vA";
    p.mac = mac(kMacA);
    p.filter_mac = filter_mac;
    p.ipv4 = {*IpAddress::parse("10.77.0.2")};
    p.ipv6 = {*IpAddress::parse("fd77::2")};
    return p;
  }
  void load(bool filter_mac = true) {
    ASSERT_NFT_OK(network::run_nft(network::antispoof_rules(table_, {port_a(filter_mac)}), h_.fd()));
  }
  // A's neighbour entries for B and the bridge, fixed: a spoofed source then needs no ARP/NDP.
  void pin_a_neighbours() {
    ASSERT_SH(a_, "ip neigh replace 10.77.0.3 lladdr " + kMacB + " dev eth0 nud permanent && "
                  "ip -6 neigh replace fd77::3 lladdr " + kMacB + " dev eth0 nud permanent && "
                  "ip neigh replace 10.77.0.1 lladdr " + h_.mac_of("br0").str() + " dev eth0 nud permanent");
  }
  // The host's (H's) neighbour entry for `addr` on br0, reset to `m` (stale: updates may override).
  void set_h_neighbour(const std::string& addr, const std::string& m) {
    ASSERT_SH(h_, "ip neigh replace " + addr + " lladdr " + m + " dev br0 nud stale");
  }
  bool h_neighbour_becomes(const std::string& addr, const std::string& m, int timeout_ms = kDropWaitMs) {
    return eventually([&] { return h_.neighbour_mac(addr, "br0") == m; }, timeout_ms);
  }

  std::string table_ = network::container_table("as-" + std::to_string(::getpid()));
  TestNetns h_, a_, b_;
};

TEST_F(NftAntispoof, SpoofedSourcesAreDroppedRealOnesPass) {
  pin_a_neighbours();
  ASSERT_SH(a_, "ip addr add 10.77.0.9/24 dev eth0 && ip addr add fd77::9/64 dev eth0 nodad");
  EXPECT_EQ(udp_seen(a_, "10.77.0.9", b_, "10.77.0.3"), "10.77.0.9") << "without the table";
  EXPECT_EQ(udp_seen(a_, "fd77::9", b_, "fd77::3"), "fd77::9") << "without the table";
  load();
  EXPECT_EQ(udp_seen(a_, "10.77.0.2", b_, "10.77.0.3"), "10.77.0.2");
  EXPECT_EQ(udp_seen(a_, "fd77::2", b_, "fd77::3"), "fd77::2");
  // The link-local the kernel made for A is the one derived from its MAC (binding to it works).
  std::string ll_a = network::eui64_link_local(mac(kMacA)).str(), ll_b = network::eui64_link_local(mac(kMacB)).str();
  EXPECT_EQ(udp_seen(a_, ll_a, b_, ll_b, "eth0"), ll_a);
  EXPECT_EQ(udp_seen(a_, "10.77.0.9", b_, "10.77.0.3"), "");
  EXPECT_EQ(udp_seen(a_, "fd77::9", b_, "fd77::3"), "");
  EXPECT_EQ(udp_seen(a_, "10.77.0.9", h_, "10.77.0.1"), "") << "to the host itself";
  EXPECT_EQ(udp_seen(a_, "10.77.0.2", h_, "10.77.0.1"), "10.77.0.2");
  // Frames from another port are not filtered.
  ASSERT_SH(b_, "ip addr add 10.77.0.99/24 dev eth0 && ip neigh replace 10.77.0.2 lladdr " + kMacA +
                    " dev eth0 nud permanent");
  EXPECT_EQ(udp_seen(b_, "10.77.0.99", a_, "10.77.0.2"), "10.77.0.99");
}

TEST_F(NftAntispoof, TcpWithArpAndNeighbourDiscoveryPasses) {
  load();
  for (std::string dst : {"10.77.0.3", "fd77::3"}) {
    TcpListener l(b_, dst, 7002);
    ASSERT_TRUE(l.valid());
    EXPECT_EQ(tcp_connect(a_, dst, 7002), "") << "A to " << dst;
    EXPECT_EQ(l.accept_peer().value_or(""), dst == "fd77::3" ? "fd77::2" : "10.77.0.2");
  }
  for (std::string dst : {"10.77.0.2", "fd77::2"}) {
    TcpListener l(a_, dst, 7002);
    ASSERT_TRUE(l.valid());
    EXPECT_EQ(tcp_connect(b_, dst, 7002), "") << "B to " << dst;
    EXPECT_TRUE(l.accept_peer().has_value());
  }
}

TEST_F(NftAntispoof, ChangedMacIsDroppedUnlessMacFilteringIsOff) {
  pin_a_neighbours();
  ASSERT_SH(a_, "ip addr add 10.77.0.9/24 dev eth0");
  ASSERT_SH(a_, "ip link set eth0 address " + kMacOther);
  EXPECT_EQ(udp_seen(a_, "10.77.0.2", b_, "10.77.0.3"), "10.77.0.2") << "without the table";
  load();
  EXPECT_EQ(udp_seen(a_, "10.77.0.2", b_, "10.77.0.3"), "");
  EXPECT_EQ(udp_seen(a_, "fd77::2", b_, "fd77::3"), "");
  load(/*filter_mac=*/false);  // replaces the table in place
  EXPECT_EQ(udp_seen(a_, "10.77.0.2", b_, "10.77.0.3"), "10.77.0.2");
  EXPECT_EQ(udp_seen(a_, "10.77.0.9", b_, "10.77.0.3"), "") << "IP filtering still on";
  load();
  ASSERT_SH(a_, "ip link set eth0 address " + kMacA);
  EXPECT_EQ(udp_seen(a_, "10.77.0.2", b_, "10.77.0.3"), "10.77.0.2");
}

TEST_F(NftAntispoof, ArpClaimingAnotherAddressOrMacIsDropped) {
  MacAddress a = mac(kMacA);
  auto reply = [&](const std::string& spa, const MacAddress& sha) {
    // Gratuitous (target = sender): the kernel overrides its entry with it at once.
    return send_frame(a_, "eth0", arp_frame(2, a, kBroadcast, sha, spa, sha, spa));
  };
  set_h_neighbour("10.77.0.3", kMacB);
  ASSERT_EQ(reply("10.77.0.3", a), "");
  ASSERT_TRUE(h_neighbour_becomes("10.77.0.3", kMacA)) << "without the table, H believes the claim";
  load();
  set_h_neighbour("10.77.0.3", kMacB);
  ASSERT_EQ(reply("10.77.0.3", a), "");
  EXPECT_FALSE(h_neighbour_becomes("10.77.0.3", kMacA)) << "A claimed B's address";
  // A's own address with another sender MAC.
  set_h_neighbour("10.77.0.2", kMacB);
  ASSERT_EQ(reply("10.77.0.2", mac(kMacOther)), "");
  EXPECT_FALSE(h_neighbour_becomes("10.77.0.2", kMacOther)) << "A claimed another MAC";
  // The truth passes.
  ASSERT_EQ(reply("10.77.0.2", a), "");
  EXPECT_TRUE(h_neighbour_becomes("10.77.0.2", kMacA, 3000));
  // An ARP probe (sender 0.0.0.0, RFC 5227) passes and H answers it.
  FrameCapture cap(a_, "eth0");
  ASSERT_TRUE(cap.valid());
  ASSERT_EQ(send_frame(a_, "eth0", arp_frame(1, a, kBroadcast, a, "0.0.0.0", MacAddress{}, "10.77.0.1")), "");
  EXPECT_TRUE(cap.arp_reply_from("10.77.0.1", 3000));
}

TEST_F(NftAntispoof, NeighbourAdvertisementForAnotherAddressIsDropped) {
  set_h_neighbour("fd77::3", kMacB);
  ASSERT_EQ(send_neighbour_advert(a_, "eth0", "fd77::3", mac(kMacA)), "");
  ASSERT_TRUE(h_neighbour_becomes("fd77::3", kMacA)) << "without the table, H believes the claim";
  load();
  set_h_neighbour("fd77::3", kMacB);
  ASSERT_EQ(send_neighbour_advert(a_, "eth0", "fd77::3", mac(kMacA)), "");
  EXPECT_FALSE(h_neighbour_becomes("fd77::3", kMacA)) << "A claimed B's address";
  // Its own addresses, global and link-local, pass.
  std::string ll_a = network::eui64_link_local(mac(kMacA)).str();
  for (const std::string& own : {std::string("fd77::2"), ll_a}) {
    set_h_neighbour(own, kMacB);
    ASSERT_EQ(send_neighbour_advert(a_, "eth0", own, mac(kMacA)), "");
    EXPECT_TRUE(h_neighbour_becomes(own, kMacA, 3000)) << own;
  }
}

TEST_F(NftAntispoof, DhcpFromZeroPassesOtherZeroSourcedTrafficDoesNot) {
  UdpReceiver rx(h_, "0.0.0.0", 67, "br0");
  ASSERT_TRUE(rx.valid());
  MacAddress a = mac(kMacA);
  auto send = [&](uint16_t sport, const std::string& payload) {
    return send_frame(a_, "eth0", ipv4_udp_frame(a, kBroadcast, "0.0.0.0", "255.255.255.255", sport, 67, payload));
  };
  ASSERT_EQ(send(1234, "zero-1234-before"), "");
  EXPECT_EQ(rx.source_of("zero-1234-before").value_or(""), "0.0.0.0") << "without the table";
  load();
  ASSERT_EQ(send(68, "dhcp-discover"), "");
  EXPECT_EQ(rx.source_of("dhcp-discover").value_or(""), "0.0.0.0");
  ASSERT_EQ(send(1234, "zero-1234-after"), "");
  EXPECT_FALSE(rx.source_of("zero-1234-after", kDropWaitMs).has_value());
}

// A tenant answering DHCP (its own address as source, UDP 67 -> 68) reaches its neighbours only
// without the table.
TEST_F(NftAntispoof, RogueDhcpServerRepliesAreDropped) {
  FrameCapture cap(b_, "eth0");
  ASSERT_TRUE(cap.valid());
  MacAddress a = mac(kMacA);
  auto offer = [&](const std::string& marker) {
    return send_frame(a_, "eth0", ipv4_udp_frame(a, kBroadcast, "10.77.0.2", "255.255.255.255", 67, 68, marker));
  };
  ASSERT_EQ(offer("offer-before"), "");
  ASSERT_TRUE(cap.saw("offer-before")) << "without the table";
  load();
  ASSERT_EQ(offer("offer-after"), "");
  EXPECT_FALSE(cap.saw("offer-after", kDropWaitMs));
}

TEST_F(NftAntispoof, VlanTaggedFramesAreDropped) {
  FrameCapture cap(b_, "eth0");
  ASSERT_TRUE(cap.valid());
  MacAddress a = mac(kMacA);
  // With one tag, the kernel moves the tag into metadata on receive and the IPv4 checks see the
  // inner header; with two (Q-in-Q) only the VLAN drop catches it.
  auto tagged = [&](int tags, const std::string& marker) {
    Frame f = ipv4_udp_frame(a, kBroadcast, "10.77.0.9", "10.77.0.255", 9, 9, marker);
    for (int i = 0; i < tags; ++i) f = vlan_tagged(f, static_cast<uint16_t>(5 + i));
    return f;
  };
  for (int tags : {1, 2}) {
    std::string n = std::to_string(tags);
    ASSERT_EQ(send_frame(a_, "eth0", tagged(tags, "tagged-before-" + n)), "");
    ASSERT_TRUE(cap.saw("tagged-before-" + n)) << "without the table, " << n << " tag(s)";
  }
  load();
  for (int tags : {1, 2}) {
    std::string n = std::to_string(tags);
    ASSERT_EQ(send_frame(a_, "eth0", tagged(tags, "tagged-after-" + n)), "");
    EXPECT_FALSE(cap.saw("tagged-after-" + n, kDropWaitMs)) << n << " tag(s)";
  }
  ASSERT_EQ(send_frame(a_, "eth0", ipv4_udp_frame(a, kBroadcast, "10.77.0.2", "10.77.0.255", 9, 9, "plain-after")), "");
  EXPECT_TRUE(cap.saw("plain-after"));
}

// --- Port forwards: H with vc (10.78.1.1) to container C (10.78.1.2) and vo (10.78.2.1) to
// outside O (10.78.2.2).

class NftForward : public ::testing::Test {
 protected:
  void SetUp() override {
    COVE_REQUIRE_ROOT();
    ASSERT_TRUE(h_.valid() && c_.valid() && o_.valid()) << "unshare(CLONE_NEWNET) failed";
    ASSERT_EQ(add_veth(h_, "vc", c_, "eth0").status, 0);
    ASSERT_EQ(add_veth(h_, "vo", o_, "eth0").status, 0);
    ASSERT_SH(h_, "ip addr add 10.78.1.1/24 dev vc && ip addr add 10.78.2.1/24 dev vo && ip link set vc up && "
                  "ip link set vo up && sysctl -qw net.ipv4.ip_forward=1");
    ASSERT_SH(c_, "ip addr add 10.78.1.2/24 dev eth0 && ip link set eth0 up && ip route add default via 10.78.1.1");
    ASSERT_SH(o_, "ip addr add 10.78.2.2/24 dev eth0 && ip link set eth0 up");
  }
  void load() {
    network::Forward tcp{"tcp", 8080, *IpAddress::parse("10.78.1.2"), 80};
    network::Forward udp{"udp", 5353, *IpAddress::parse("10.78.1.2"), 53};
    ASSERT_NFT_OK(network::run_nft(network::forward_rules(table_, {tcp, udp}), h_.fd()));
  }

  std::string table_ = network::container_table("fw-" + std::to_string(::getpid()));
  TestNetns h_, c_, o_;
};

TEST_F(NftForward, OutsideAndTheHostReachTheContainer) {
  TcpListener l(c_, "10.78.1.2", 80);
  ASSERT_TRUE(l.valid());
  EXPECT_NE(tcp_connect(o_, "10.78.2.1", 8080), "") << "without the table, nothing listens on H:8080";
  load();
  load();  // a second load replaces the first
  EXPECT_EQ(tcp_connect(o_, "10.78.2.1", 8080), "") << "prerouting";
  EXPECT_EQ(l.accept_peer().value_or(""), "10.78.2.2") << "the outside client's address is kept";
  for (std::string own : {"10.78.2.1", "10.78.1.1"}) {
    EXPECT_EQ(tcp_connect(h_, own, 8080), "") << "output, to " << own;
    EXPECT_EQ(l.accept_peer().value_or(""), "10.78.1.1") << "masqueraded";
  }
  EXPECT_NE(tcp_connect(o_, "10.78.2.1", 8081, 500), "") << "an unforwarded port";
  UdpReceiver rx(c_, "0.0.0.0", 53);
  ASSERT_TRUE(rx.valid());
  ASSERT_EQ(send_udp(o_, "", "10.78.2.1", 5353, "forwarded-udp"), "");
  EXPECT_EQ(rx.source_of("forwarded-udp").value_or(""), "10.78.2.2");
}

TEST_F(NftForward, LoopbackNeedsRouteLocalnetAndTheContainerCannotReachLoopback) {
  TcpListener l(c_, "10.78.1.2", 80);
  ASSERT_TRUE(l.valid());
  load();
  EXPECT_NE(tcp_connect(h_, "127.0.0.1", 8080, kDropWaitMs), "") << "without route_localnet on vc";
  ASSERT_NFT_OK(network::set_route_localnet("vc", h_.fd()));
  EXPECT_EQ(h_.sh("cat /proc/sys/net/ipv4/conf/vc/route_localnet").out, "1\n");
  EXPECT_EQ(tcp_connect(h_, "127.0.0.1", 8080), "");
  EXPECT_EQ(l.accept_peer().value_or(""), "10.78.1.1");
  // A packet for 127.0.0.1 sent by the container to H's MAC is dropped by the table's guard...
  UdpReceiver lo(h_, "127.0.0.1", 7100);
  ASSERT_TRUE(lo.valid());
  auto to_loopback = [&](const std::string& marker) {
    return send_frame(c_, "eth0", ipv4_udp_frame(c_.mac_of("eth0"), h_.mac_of("vc"), "10.78.1.2", "127.0.0.1",
                                                 40000, 7100, marker));
  };
  ASSERT_EQ(to_loopback("loopback-guarded"), "");
  EXPECT_FALSE(lo.source_of("loopback-guarded", kDropWaitMs).has_value());
  // ...which route_localnet would otherwise let in.
  ASSERT_SH(h_, "nft delete chain ip " + table_ + " localnet_guard");
  ASSERT_EQ(to_loopback("loopback-unguarded"), "");
  EXPECT_EQ(lo.source_of("loopback-unguarded").value_or(""), "10.78.1.2");
}

TEST(NftRouteLocalnet, BadNamesAndMissingLinks) {
  COVE_REQUIRE_ROOT();
  TestNetns ns;
  ASSERT_TRUE(ns.valid());
  auto missing = network::set_route_localnet("nope0", ns.fd());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ENOENT);
  EXPECT_NE(missing.error().message().find("no interface `nope0`"), std::string::npos) << missing.error().message();
  for (std::string bad : {"../all", "", "..", "a-name-too-long-x"}) {
    auto r = network::set_route_localnet(bad, ns.fd());
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), EINVAL) << r.error().message();
  }
  ASSERT_NFT_OK(network::set_route_localnet("lo", ns.fd()));
}

// --- NAT: C (10.79.0.2, fd79::2) on bridge br0 in H, H's vo (10.79.1.1, fd79:1::1) to O, which
// has no route back to the bridge's subnets.

class NftNat : public ::testing::Test {
 protected:
  void SetUp() override {
    COVE_REQUIRE_ROOT();
    ASSERT_TRUE(h_.valid() && c_.valid() && o_.valid()) << "unshare(CLONE_NEWNET) failed";
    for (const TestNetns* ns : {&h_, &c_, &o_})
      ASSERT_SH(*ns, "sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0");
    ASSERT_EQ(add_veth(h_, "vc", c_, "eth0").status, 0);
    ASSERT_EQ(add_veth(h_, "vo", o_, "eth0").status, 0);
    ASSERT_SH(h_, "ip link add br0 type bridge && ip link set vc master br0 && ip link set vc up && "
                  "ip link set br0 up && ip link set vo up && "
                  "ip addr add 10.79.0.1/24 dev br0 && ip addr add fd79::1/64 dev br0 nodad && "
                  "ip addr add 10.79.1.1/24 dev vo && ip addr add fd79:1::1/64 dev vo nodad && "
                  "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1");
    ASSERT_SH(c_, "ip addr add 10.79.0.2/24 dev eth0 && ip addr add fd79::2/64 dev eth0 nodad && "
                  "ip link set eth0 up && ip route add default via 10.79.0.1 && ip -6 route add default via fd79::1");
    ASSERT_SH(o_, "ip addr add 10.79.1.2/24 dev eth0 && ip addr add fd79:1::2/64 dev eth0 nodad && ip link set eth0 up");
  }

  std::string table_ = network::network_table("nat-" + std::to_string(::getpid()));
  TestNetns h_, c_, o_;
};

TEST_F(NftNat, ContainerTrafficLeavesWithTheHostsAddress) {
  EXPECT_EQ(udp_seen(c_, "", o_, "10.79.1.2"), "10.79.0.2") << "without the table";
  EXPECT_EQ(udp_seen(c_, "", o_, "fd79:1::2"), "fd79::2") << "without the table";
  {
    TcpListener l(o_, "10.79.1.2", 7300);
    ASSERT_TRUE(l.valid());
    EXPECT_NE(tcp_connect(c_, "10.79.1.2", 7300, kDropWaitMs), "") << "without the table O cannot answer";
  }
  ASSERT_NFT_OK(network::run_nft(network::nat_rules(table_, "br0", {*IpPrefix::parse("10.79.0.1/24"),
                                                                     *IpPrefix::parse("fd79::1/64")}),
                                 h_.fd()));
  EXPECT_EQ(udp_seen(c_, "", o_, "10.79.1.2"), "10.79.1.1");
  EXPECT_EQ(udp_seen(c_, "", o_, "fd79:1::2"), "fd79:1::1");
  for (std::string dst : {"10.79.1.2", "fd79:1::2"}) {
    TcpListener l(o_, dst, 7301);
    ASSERT_TRUE(l.valid());
    EXPECT_EQ(tcp_connect(c_, dst, 7301), "") << dst;
    EXPECT_EQ(l.accept_peer().value_or(""), dst == "10.79.1.2" ? "10.79.1.1" : "fd79:1::1");
  }
  EXPECT_EQ(udp_seen(c_, "", h_, "10.79.0.1"), "10.79.0.2") << "inside the subnet nothing is rewritten";
}

// --- Tables: listing, deleting, atomicity, errors.

class NftTables : public ::testing::Test {
 protected:
  void SetUp() override {
    COVE_REQUIRE_ROOT();
    ASSERT_TRUE(ns_.valid()) << "unshare(CLONE_NEWNET) failed";
  }
  PortFilter port(const std::string& ifname) const {
    PortFilter p;
    p.host_ifname = ifname;
    p.mac = mac(kMacA);
    p.ipv4 = {*IpAddress::parse("10.0.3.5")};
    return p;
  }
  void load_all() {
    ASSERT_NFT_OK(network::run_nft(network::antispoof_rules(ct_, {port("veth1")}), ns_.fd()));
    ASSERT_NFT_OK(network::run_nft(
        network::forward_rules(ct_, {{"tcp", 8080, *IpAddress::parse("10.0.3.5"), 80}}), ns_.fd()));
    ASSERT_NFT_OK(network::run_nft(network::nat_rules(nt_, "br0", {*IpPrefix::parse("10.0.3.1/24")}), ns_.fd()));
  }

  std::string key_ = "web.x_" + std::to_string(::getpid());
  std::string ct_ = network::container_table(key_), nt_ = network::network_table("lan-" + std::to_string(::getpid()));
  TestNetns ns_;
};

TEST_F(NftTables, ListReloadAndDeleteOnlyCoveTables) {
  ASSERT_SH(ns_, "nft add table ip other && nft add chain ip other c");
  load_all();
  auto all = network::list_tables("cove-", ns_.fd());
  ASSERT_NFT_OK(all);
  std::vector<std::string> seen;
  for (const auto& t : *all) seen.push_back(t.family + " " + t.name);
  EXPECT_EQ(seen, (std::vector<std::string>{"bridge " + ct_, "ip " + ct_, "inet " + nt_}));
  auto mine = network::list_tables(ct_, ns_.fd());
  ASSERT_NFT_OK(mine);
  EXPECT_EQ(mine->size(), 2u);

  std::string before = ns_.sh("nft list ruleset").out;
  load_all();
  EXPECT_EQ(ns_.sh("nft list ruleset").out, before) << "loading again changes nothing";
  EXPECT_EQ(run_cmd({"nft", "list", "tables"}).out.find(ct_), std::string::npos) << "the host's ruleset saw it";

  ASSERT_NFT_OK(network::delete_tables(*all, ns_.fd()));
  auto left = network::list_tables("cove-", ns_.fd());
  ASSERT_NFT_OK(left);
  EXPECT_TRUE(left->empty());
  EXPECT_EQ(ns_.sh("nft list table ip other").status, 0) << "another table is left alone";
  ASSERT_NFT_OK(network::delete_tables(*all, ns_.fd()));  // already gone: fine
  ASSERT_NFT_OK(network::delete_tables({}, ns_.fd()));
}

TEST_F(NftTables, AFailedRulesetChangesNothingAndSaysWhy) {
  auto syntax = network::run_nft("table ip t { chain c { bogus; } }\n", ns_.fd());
  ASSERT_FALSE(syntax);
  EXPECT_EQ(syntax.error().message().rfind("nft: ", 0), 0u) << syntax.error().message();
  EXPECT_NE(syntax.error().message().find("syntax error"), std::string::npos) << syntax.error().message();

  // A good table followed by a bad one: one transaction, so neither exists afterwards.
  std::string two = network::nat_rules(nt_, "br0", {*IpPrefix::parse("10.0.3.1/24")}) +
                    network::forward_rules(ct_, {{"tcp", 1, *IpAddress::parse("fd00::1"), 2}});
  EXPECT_FALSE(network::run_nft(two, ns_.fd()));
  auto after_bad_proto = network::run_nft(network::forward_rules(ct_, {{"sctp; drop", 1, *IpAddress::parse("10.0.0.1"), 2}}), ns_.fd());
  EXPECT_FALSE(after_bad_proto);

  auto quote = network::run_nft(network::antispoof_rules(ct_, {port("veth1"), port("ve\"th")}), ns_.fd());
  ASSERT_FALSE(quote);
  EXPECT_NE(quote.error().message().find("cove-error interface-name \"ve?th\""), std::string::npos)
      << quote.error().message();

  auto left = network::list_tables("", ns_.fd());
  ASSERT_NFT_OK(left);
  EXPECT_TRUE(left->empty()) << left->size() << " tables, first " << (left->empty() ? "" : left->front().name);
}

TEST_F(NftTables, NotANamespaceIsAnError) {
  UniqueFd not_netns(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  auto r = network::run_nft("table ip t {}\n", not_netns.get());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("setns into the network namespace: Invalid argument"), std::string::npos)
      << r.error().message();
}

}  // namespace
}  // namespace cove::test
