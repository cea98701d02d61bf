// The kernel layer of networking (network/{netlink,link,address,traffic}) against the real
// kernel: every link, address, route and qdisc lives in network namespaces the test makes
// itself (netns_support.hpp), so nothing touches the host's network, and everything goes away
// with those namespaces when the test ends, failed or not.
#include <arpa/inet.h>
#include <net/if.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "base/strings.hpp"
#include "netlink_support.hpp"
#include "network/address.hpp"
#include "network/link.hpp"
#include "network/traffic.hpp"
#include "support.hpp"
#include "../unit/support.hpp"

namespace cove::test {
using namespace cove::test::nl;
namespace {

using network::NetlinkSocket;

IpAddress ip(const char* text) { return *IpAddress::parse(text); }
IpPrefix prefix(const char* text) { return *IpPrefix::parse(text); }

class NetlinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    COVE_REQUIRE_ROOT();
    ASSERT_TRUE(host_.ok() && ct_.ok()) << "unshare(CLONE_NEWNET) failed";
    auto h = host_.sock();
    auto c = ct_.sock();
    ASSERT_OK(h);
    ASSERT_OK(c);
    hs_.emplace(std::move(h).value());
    cs_.emplace(std::move(c).value());
  }
  NetlinkSocket& hs() { return *hs_; }
  NetlinkSocket& cs() { return *cs_; }

  // A veth `vh` in host_ <-> `eth0` in ct_, both up, with `host_ip` and `ct_ip` on them.
  void connect_pair(const char* host_ip, const char* ct_ip) {
    ASSERT_OK(network::create_veth(hs(), {"vh", "eth0", ct_.fd(), std::nullopt, 0}));
    ASSERT_OK(network::add_address(hs(), "vh", prefix(host_ip)));
    ASSERT_OK(network::add_address(cs(), "eth0", prefix(ct_ip)));
    ASSERT_OK(network::change_link(hs(), "vh", {.up = true}));
    ASSERT_OK(network::change_link(cs(), "eth0", {.up = true}));
  }

  // Sends a message over TCP from `from` to addr:port in `to`; expects it to arrive.
  void expect_tcp(const TestNetns& from, const TestNetns& to, const IpAddress& addr, uint16_t port) {
    std::string why;
    UniqueFd listener = tcp_listen(to, addr, port, &why);
    ASSERT_TRUE(listener.valid()) << why;
    std::string message = "hello from " + std::to_string(::getpid());
    EXPECT_EQ(tcp_exchange(from, listener.get(), addr, port, message, &why), message) << why;
  }

  // "Everything cleaned up after": the namespaces (and all links in them) go with the fixture.
  TestNetns host_, ct_;
  std::optional<NetlinkSocket> hs_, cs_;
};

using NetlinkLink = NetlinkTest;
using NetlinkAddress = NetlinkTest;
using NetlinkBridge = NetlinkTest;
using NetlinkSublink = NetlinkTest;
using NetlinkRate = NetlinkTest;

std::optional<network::LinkInfo> find(NetlinkSocket& sock, const std::string& name) {
  auto r = network::find_link(sock, name);
  EXPECT_TRUE(r.has_value()) << r.error().message();
  return r ? *r : std::nullopt;
}

TEST_F(NetlinkLink, VethPeerIsCreatedInItsNamespaceWithNameMacAndMtu) {
  MacAddress mac = MacAddress::random();
  ASSERT_OK(network::create_veth(hs(), {"vh-test", "eth0", ct_.fd(), mac, 1400}));
  auto host_end = find(hs(), "vh-test");
  ASSERT_TRUE(host_end);
  EXPECT_EQ(host_end->kind, "veth");
  EXPECT_EQ(host_end->mtu, 1400u);
  EXPECT_FALSE(host_end->up);
  auto peer = find(cs(), "eth0");
  ASSERT_TRUE(peer);
  EXPECT_EQ(peer->kind, "veth");
  EXPECT_EQ(peer->mac, mac);
  EXPECT_EQ(peer->mtu, 1400u);
  EXPECT_FALSE(peer->up);
  EXPECT_FALSE(find(hs(), "eth0")) << "the peer was made on the host side";

  // A peer name taken in the peer's namespace fails as a whole: no half pair is left.
  auto clash = network::create_veth(hs(), {"vh-two", "eth0", ct_.fd(), std::nullopt, 0});
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().code(), EEXIST) << clash.error().message();
  EXPECT_FALSE(find(hs(), "vh-two"));
  EXPECT_ERROR_CONTAINS(network::create_veth(hs(), {"vh-test", "eth1", ct_.fd(), std::nullopt, 0}), "File exists");
  EXPECT_ERROR_CONTAINS(network::create_veth(hs(), {"vh-test-name-too-long", "eth1", ct_.fd(), std::nullopt, 0}),
                        "longer than 15 bytes");
  MacAddress multicast = *MacAddress::parse("01:00:5e:00:00:01");
  EXPECT_ERROR_CONTAINS(network::create_veth(hs(), {"vh-3", "eth3", ct_.fd(), multicast, 0}), "not a unicast address");
}

TEST_F(NetlinkLink, ChangeLinkSetsUpMtuMacNameAndMaster) {
  ASSERT_OK(network::create_veth(hs(), {"va", "vb", -1, std::nullopt, 0}));
  MacAddress mac = MacAddress::random();
  ASSERT_OK(network::change_link(hs(), "va", {.up = true, .mtu = 1300u, .mac = mac, .name = "va2"}));
  EXPECT_FALSE(find(hs(), "va"));
  auto va = find(hs(), "va2");
  ASSERT_TRUE(va);
  EXPECT_TRUE(va->up);
  EXPECT_EQ(va->mtu, 1300u);
  EXPECT_EQ(va->mac, mac);

  ASSERT_OK(network::create_bridge(hs(), "br0"));
  auto br = find(hs(), "br0");
  ASSERT_TRUE(br);
  EXPECT_EQ(br->kind, "bridge");
  ASSERT_OK(network::change_link(hs(), "va2", {.master = "br0"}));
  EXPECT_EQ(find(hs(), "va2")->master_index, br->index);
  ASSERT_OK(network::change_link(hs(), "va2", {.master = ""}));
  EXPECT_EQ(find(hs(), "va2")->master_index, 0);
  ASSERT_OK(network::change_link(hs(), "va2", {.up = false}));
  EXPECT_FALSE(find(hs(), "va2")->up);

  EXPECT_ERROR_CONTAINS(network::change_link(hs(), "nope", {.up = true}), "no link `nope`");
  EXPECT_ERROR_CONTAINS(network::change_link(hs(), "va2", {.master = "no-bridge"}), "no link `no-bridge`");
  EXPECT_ERROR_CONTAINS(network::create_bridge(hs(), "bad/name"), "interface name `bad/name`");
}

TEST_F(NetlinkLink, DeleteLinkIsIdempotentAndTakesThePeerAlong) {
  ASSERT_OK(network::create_veth(hs(), {"vh", "eth0", ct_.fd(), std::nullopt, 0}));
  ASSERT_TRUE(find(cs(), "eth0"));
  ASSERT_OK(network::delete_link(hs(), "vh"));
  EXPECT_FALSE(find(hs(), "vh"));
  EXPECT_FALSE(find(cs(), "eth0"));
  EXPECT_OK(network::delete_link(hs(), "vh"));
  EXPECT_OK(network::delete_link(hs(), "never-there"));
}

TEST_F(NetlinkLink, MoveLinkRenamesItInTheTargetNamespace) {
  ASSERT_OK(network::create_veth(hs(), {"va", "vb", -1, std::nullopt, 0}));
  ASSERT_OK(network::move_link(hs(), "vb", ct_.fd(), "eth1"));
  EXPECT_FALSE(find(hs(), "vb"));
  auto moved = find(cs(), "eth1");
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->kind, "veth");
  EXPECT_ERROR_CONTAINS(network::move_link(hs(), "vb", ct_.fd(), "eth1"), "no link `vb`");
}

TEST_F(NetlinkLink, ListLinksAndCountersSeeTheNamespaceOnly) {
  ASSERT_NO_FATAL_FAILURE(connect_pair("10.91.0.1/24", "10.91.0.2/24"));
  auto links = network::list_links(cs());
  ASSERT_OK(links);
  std::vector<std::string> names;
  for (const auto& l : *links) names.push_back(l.name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"eth0", "lo"}));

  auto before = network::link_counters(hs(), "vh");
  ASSERT_OK(before);
  ASSERT_NO_FATAL_FAILURE(expect_tcp(host_, ct_, ip("10.91.0.2"), 7001));
  auto after = network::link_counters(hs(), "vh");
  ASSERT_OK(after);
  EXPECT_GT(after->tx_packets, before->tx_packets);
  EXPECT_GT(after->rx_bytes, before->rx_bytes);
}

// /proc/net/route's default entries' gateways ("Iface Destination Gateway ..." in hex).
std::vector<std::string> default_gateways_v4(const TestNetns& ns) {
  std::vector<std::string> out;
  std::istringstream lines(ns.proc_net("route"));
  std::string line;
  while (std::getline(lines, line)) {
    auto cols = split_ws(line);
    if (cols.size() < 8 || cols[1] != "00000000" || cols[7] != "00000000") continue;
    in_addr a{static_cast<in_addr_t>(std::strtoul(cols[2].c_str(), nullptr, 16))};
    out.push_back(inet_ntoa(a));
  }
  return out;
}

// /proc/net/ipv6_route's ::/0 entries with a next hop.
std::vector<std::string> default_gateways_v6(const TestNetns& ns) {
  std::vector<std::string> out;
  std::istringstream lines(ns.proc_net("ipv6_route"));
  std::string line;
  while (std::getline(lines, line)) {
    auto cols = split_ws(line);
    if (cols.size() < 10 || cols[0] != std::string(32, '0') || cols[1] != "00" || cols[4] == std::string(32, '0')) continue;
    IpAddress gw{AF_INET6, {}};
    for (size_t i = 0; i < 16; ++i) gw.bytes[i] = static_cast<uint8_t>(std::stoul(cols[4].substr(2 * i, 2), nullptr, 16));
    out.push_back(gw.str());
  }
  return out;
}

TEST_F(NetlinkAddress, AddressesAndDefaultRoutesInsideTheNamespace) {
  ASSERT_NO_FATAL_FAILURE(connect_pair("10.92.0.1/24", "10.92.0.2/24"));
  ASSERT_OK(network::add_address(hs(), "vh", prefix("fd92::1/64")));
  ASSERT_OK(network::add_address(cs(), "eth0", prefix("fd92::2/64")));
  EXPECT_OK(network::add_address(cs(), "eth0", prefix("fd92::2/64")));  // already there
  auto addrs = network::addresses_of(cs(), "eth0");
  ASSERT_OK(addrs);
  EXPECT_NE(std::find(addrs->begin(), addrs->end(), prefix("10.92.0.2/24")), addrs->end());
  EXPECT_NE(std::find(addrs->begin(), addrs->end(), prefix("fd92::2/64")), addrs->end());

  // No DAD: the IPv6 address takes a connection at once (a tentative one refuses bind).
  ASSERT_NO_FATAL_FAILURE(expect_tcp(host_, ct_, ip("fd92::2"), 7002));
  ASSERT_NO_FATAL_FAILURE(expect_tcp(host_, ct_, ip("10.92.0.2"), 7003));

  ASSERT_OK(network::set_default_route(cs(), "eth0", ip("10.92.0.1")));
  ASSERT_OK(network::set_default_route(cs(), "eth0", ip("fd92::1")));
  EXPECT_EQ(default_gateways_v4(ct_), (std::vector<std::string>{"10.92.0.1"}));
  EXPECT_EQ(default_gateways_v6(ct_), (std::vector<std::string>{"fd92::1"}));
  ASSERT_OK(network::set_default_route(cs(), "eth0", ip("10.92.0.254")));  // replaces
  EXPECT_EQ(default_gateways_v4(ct_), (std::vector<std::string>{"10.92.0.254"}));
  EXPECT_TRUE(default_gateways_v4(host_).empty());
  EXPECT_ERROR_CONTAINS(network::set_default_route(cs(), "eth0", ip("10.99.0.1")), "Network is unreachable");

  ASSERT_OK(network::delete_address(cs(), "eth0", prefix("10.92.0.2/24")));
  EXPECT_OK(network::delete_address(cs(), "eth0", prefix("10.92.0.2/24")));
  addrs = network::addresses_of(cs(), "eth0");
  ASSERT_OK(addrs);
  EXPECT_EQ(std::find(addrs->begin(), addrs->end(), prefix("10.92.0.2/24")), addrs->end());
  EXPECT_ERROR_CONTAINS(network::add_address(cs(), "eth9", prefix("10.92.0.3/24")), "no link `eth9`");
}

TEST_F(NetlinkAddress, NetSysctlsAreTheNamespaces) {
  // The other namespace's value is whatever it is; ct_ gets the opposite, and it stays.
  auto before = network::read_net_sysctl(host_.fd(), "ipv4/ip_forward");
  ASSERT_OK(before);
  std::string flipped = *before == "1" ? "0" : "1";
  ASSERT_OK(network::write_net_sysctl(ct_.fd(), "ipv4/ip_forward", flipped));
  auto forward = network::read_net_sysctl(ct_.fd(), "ipv4/ip_forward");
  ASSERT_OK(forward);
  EXPECT_EQ(*forward, flipped);
  auto other = network::read_net_sysctl(host_.fd(), "ipv4/ip_forward");
  ASSERT_OK(other);
  EXPECT_EQ(*other, *before);
  ASSERT_OK(network::create_veth(hs(), {"vh", "eth0", ct_.fd(), std::nullopt, 0}));
  ASSERT_OK(network::write_net_sysctl(ct_.fd(), "ipv6/conf/eth0/accept_dad", "0"));
  EXPECT_EQ(*network::read_net_sysctl(ct_.fd(), "ipv6/conf/eth0/accept_dad"), "0");
  EXPECT_ERROR_CONTAINS(network::read_net_sysctl(host_.fd(), "ipv6/conf/eth0/accept_dad"), "No such file");
  EXPECT_ERROR_CONTAINS(network::write_net_sysctl(ct_.fd(), "../kernel/hostname", "x"), "not a relative path");
  EXPECT_ERROR_CONTAINS(network::read_net_sysctl(ct_.fd(), "/ipv4/ip_forward"), "not a relative path");
}

TEST_F(NetlinkBridge, TwoVethPortsPassTraffic) {
  TestNetns other;
  ASSERT_TRUE(other.ok());
  auto os = other.sock();
  ASSERT_OK(os);
  ASSERT_OK(network::create_bridge(hs(), "br0"));
  ASSERT_OK(network::create_veth(hs(), {"p1", "eth0", ct_.fd(), std::nullopt, 0}));
  ASSERT_OK(network::create_veth(hs(), {"p2", "eth0", other.fd(), std::nullopt, 0}));
  for (const char* port : {"p1", "p2"}) ASSERT_OK(network::change_link(hs(), port, {.up = true, .master = "br0"}));
  ASSERT_OK(network::change_link(hs(), "br0", {.up = true}));
  ASSERT_OK(network::add_address(cs(), "eth0", prefix("10.93.0.2/24")));
  ASSERT_OK(network::add_address(*os, "eth0", prefix("10.93.0.3/24")));
  ASSERT_OK(network::change_link(cs(), "eth0", {.up = true}));
  ASSERT_OK(network::change_link(*os, "eth0", {.up = true}));
  int br = find(hs(), "br0")->index;
  EXPECT_EQ(find(hs(), "p1")->master_index, br);
  EXPECT_EQ(find(hs(), "p2")->master_index, br);
  ASSERT_NO_FATAL_FAILURE(expect_tcp(ct_, other, ip("10.93.0.3"), 7004));
  ASSERT_NO_FATAL_FAILURE(expect_tcp(other, ct_, ip("10.93.0.2"), 7005));

  // Off the bridge, the other side is unreachable.
  ASSERT_OK(network::change_link(hs(), "p2", {.master = ""}));
  std::string why;
  UniqueFd listener = tcp_listen(other, ip("10.93.0.3"), 7006, &why);
  ASSERT_TRUE(listener.valid()) << why;
  EXPECT_EQ(tcp_exchange(ct_, listener.get(), ip("10.93.0.3"), 7006, "x", &why), "");
}

TEST_F(NetlinkSublink, MacvlanIsCreatedInItsNamespaceOnAVethParent) {
  TestNetns third;
  ASSERT_TRUE(third.ok());
  auto ts = third.sock();
  ASSERT_OK(ts);
  ASSERT_NO_FATAL_FAILURE(connect_pair("10.94.0.1/24", "10.94.0.2/24"));
  MacAddress mac = MacAddress::random();
  network::SubLinkSpec spec{"macvlan", "vh", "mv0", "bridge", third.fd(), mac, 1400};
  ASSERT_OK(network::create_sublink(hs(), spec));
  EXPECT_FALSE(find(hs(), "mv0"));
  auto mv = find(*ts, "mv0");
  ASSERT_TRUE(mv);
  EXPECT_EQ(mv->kind, "macvlan");
  EXPECT_EQ(mv->mac, mac);
  EXPECT_EQ(mv->mtu, 1400u);
  ASSERT_OK(network::add_address(*ts, "mv0", prefix("10.94.0.3/24")));
  ASSERT_OK(network::change_link(*ts, "mv0", {.up = true}));
  ASSERT_NO_FATAL_FAILURE(expect_tcp(third, ct_, ip("10.94.0.2"), 7007));

  spec.mode = "bogus";
  spec.name = "mv1";
  EXPECT_ERROR_CONTAINS(network::create_sublink(hs(), spec), "macvlan mode `bogus`: not one of bridge, vepa, private, passthru");
  spec.mode = "bridge";
  spec.parent = "no-parent";
  EXPECT_ERROR_CONTAINS(network::create_sublink(hs(), spec), "no link `no-parent`");
  spec.kind = "vlan";
  EXPECT_ERROR_CONTAINS(network::create_sublink(hs(), spec), "link kind `vlan`: not macvlan or ipvlan");
}

TEST_F(NetlinkSublink, IpvlanOnAKernelWithoutItSaysSo) {
  ASSERT_NO_FATAL_FAILURE(connect_pair("10.95.0.1/24", "10.95.0.2/24"));
  TestNetns third;
  ASSERT_TRUE(third.ok());
  auto r = network::create_sublink(hs(), {"ipvlan", "vh", "ipv0", "l2", third.fd(), std::nullopt, 0});
  if (r) {  // a kernel with CONFIG_IPVLAN: then the link must be where it was asked for
    auto ts = third.sock();
    ASSERT_OK(ts);
    auto link = find(*ts, "ipv0");
    ASSERT_TRUE(link);
    EXPECT_EQ(link->kind, "ipvlan");
    return;
  }
  EXPECT_NE(r.error().message().find("ipvlan is not built into this kernel (CONFIG_IPVLAN)"), std::string::npos)
      << r.error().message();
  EXPECT_EQ(r.error().code(), EOPNOTSUPP);
  EXPECT_ERROR_CONTAINS(network::create_sublink(hs(), {"ipvlan", "vh", "ipv0", "l4", third.fd(), std::nullopt, 0}),
                        "ipvlan mode `l4`: not one of l2, l3, l3s");
}

// --- Rate limits, measured with iperf3 between the two namespaces.

// Runs `iperf3 -s -1` in `server_ns` and an iperf3 client in `client_ns` for `seconds`, with
// `midway` called halfway; the per-second rates (bits/s) the *receiving* side saw.
std::vector<double> iperf_intervals(const TestNetns& client_ns, const TestNetns& server_ns, const IpAddress& addr,
                                    bool reverse, int seconds, const std::function<void()>& midway) {
  NetnsProcess server(server_ns, {"iperf3", "-s", "-1", "-J", "-B", addr.str()});
  if (!eventually([&] { return server.listens_on(5201); }, 10000)) {
    ADD_FAILURE() << "iperf3 server did not listen: " << server.output();
    return {};
  }
  std::vector<std::string> argv = {"iperf3", "-c", addr.str(), "-t", std::to_string(seconds), "-i", "1", "-J",
                                   "--get-server-output"};
  if (reverse) argv.push_back("-R");
  NetnsProcess client(client_ns, argv);
  ::usleep(static_cast<useconds_t>(seconds) * 500000 + 500000);
  midway();
  int status = client.wait((seconds + 20) * 1000);
  server.wait(5000);
  auto json = nlohmann::json::parse(client.output(), nullptr, false);
  if (status != 0 || json.is_discarded() || json.contains("error")) {
    ADD_FAILURE() << "iperf3 client exit " << status << ": " << client.output();
    return {};
  }
  const auto& intervals = reverse ? json["intervals"] : json["server_output_json"]["intervals"];
  std::vector<double> rates;
  for (const auto& i : intervals) rates.push_back(i["sum"]["bits_per_second"].get<double>());
  if (rates.empty()) ADD_FAILURE() << "no intervals in iperf3's report: " << client.output();
  return rates;
}

double mean(const std::vector<double>& v, size_t from, size_t to) {
  double sum = 0;
  for (size_t i = from; i < to && i < v.size(); ++i) sum += v[i];
  return to > from ? sum / static_cast<double>(to - from) : 0;
}

std::string rates_text(const std::vector<double>& v) {
  std::string s;
  char buf[16];
  for (double r : v) {
    std::snprintf(buf, sizeof buf, "%.1f ", r / 1e6);
    s += buf;
  }
  return s + "Mbit/s";
}

TEST_F(NetlinkRate, ShapesBothDirectionsAndChangesTheRateLive) {
  ASSERT_NO_FATAL_FAILURE(connect_pair("10.96.0.1/24", "10.96.0.2/24"));
  ASSERT_OK(network::create_ifb(hs(), "ifb-vh"));
  ASSERT_OK(network::change_link(hs(), "ifb-vh", {.up = true}));
  ASSERT_OK(network::set_egress_rate(hs(), "vh", 20000000));      // into the container
  ASSERT_OK(network::redirect_ingress(hs(), "vh", "ifb-vh"));      // out of the container
  ASSERT_OK(network::set_egress_rate(hs(), "ifb-vh", 20000000));

  const int kSeconds = 8;  // intervals 1-3 at 20mbit, the change at 4.5 s, intervals 5-7 at 10mbit
  for (bool reverse : {false, true}) {
    std::string dev = reverse ? "ifb-vh" : "vh";
    auto rates = iperf_intervals(host_, ct_, ip("10.96.0.2"), reverse, kSeconds, [&] {
      EXPECT_OK(network::set_egress_rate(hs(), dev, 10000000));
    });
    ASSERT_GE(rates.size(), static_cast<size_t>(kSeconds)) << rates_text(rates);
    std::cout << (reverse ? "out of the container: " : "into the container: ") << rates_text(rates) << "\n";
    EXPECT_NEAR(mean(rates, 1, 4), 20e6, 4e6) << dev << ": " << rates_text(rates);
    EXPECT_NEAR(mean(rates, 5, 8), 10e6, 2e6) << dev << ": " << rates_text(rates);
    auto counters = network::egress_counters(hs(), dev);
    ASSERT_OK(counters);
    EXPECT_EQ(counters->rate, 10000000u);
    EXPECT_GT(counters->bytes, 10u * 1000 * 1000);  // ~15 MB went through the shaper
    EXPECT_GT(counters->packets, 1000u);
    EXPECT_GT(counters->overlimits, 0u);
  }
}

TEST_F(NetlinkRate, RatesAbove4GbitRemovalAndBadRates) {
  ASSERT_OK(network::create_veth(hs(), {"vh", "eth0", ct_.fd(), std::nullopt, 0}));
  auto none = network::egress_counters(hs(), "vh");
  ASSERT_OK(none);
  EXPECT_EQ(none->rate, 0u);
  for (uint64_t rate : {10000000000ULL, 40000000000ULL, 100000000ULL, 1000ULL}) {
    ASSERT_OK(network::set_egress_rate(hs(), "vh", rate));
    auto c = network::egress_counters(hs(), "vh");
    ASSERT_OK(c);
    EXPECT_EQ(c->rate, rate) << format_rate(rate);
  }
  ASSERT_OK(network::set_egress_rate(hs(), "vh", 0));
  EXPECT_EQ(network::egress_counters(hs(), "vh")->rate, 0u);
  EXPECT_OK(network::set_egress_rate(hs(), "vh", 0));
  EXPECT_ERROR_CONTAINS(network::set_egress_rate(hs(), "vh", 999), "rate `999bit`: below the smallest rate 1kbit");
  EXPECT_ERROR_CONTAINS(network::set_egress_rate(hs(), "nope", 1000000), "no link `nope`");
}

TEST_F(NetlinkRate, IngressRedirectIsIdempotentAndCleared) {
  ASSERT_NO_FATAL_FAILURE(connect_pair("10.97.0.1/24", "10.97.0.2/24"));
  ASSERT_OK(network::create_ifb(hs(), "ifb-a"));
  EXPECT_ERROR_CONTAINS(network::redirect_ingress(hs(), "vh", "ifb-a"), "ifb `ifb-a` is down");
  EXPECT_ERROR_CONTAINS(network::redirect_ingress(hs(), "vh", "vh"), "`vh` is a veth link, not an ifb");
  ASSERT_OK(network::change_link(hs(), "ifb-a", {.up = true}));
  ASSERT_OK(network::redirect_ingress(hs(), "vh", "ifb-a"));
  ASSERT_OK(network::redirect_ingress(hs(), "vh", "ifb-a"));

  auto before = network::link_counters(hs(), "ifb-a");
  ASSERT_OK(before);
  ASSERT_NO_FATAL_FAILURE(expect_tcp(host_, ct_, ip("10.97.0.2"), 7008));
  auto after = network::link_counters(hs(), "ifb-a");
  ASSERT_OK(after);
  EXPECT_GE(after->tx_packets, before->tx_packets + 3) << "what came in on vh did not pass the ifb";

  ASSERT_OK(network::clear_ingress(hs(), "vh"));
  EXPECT_OK(network::clear_ingress(hs(), "vh"));
  before = network::link_counters(hs(), "ifb-a");
  ASSERT_NO_FATAL_FAILURE(expect_tcp(host_, ct_, ip("10.97.0.2"), 7009));
  EXPECT_EQ(network::link_counters(hs(), "ifb-a")->tx_packets, before->tx_packets);
}

}  // namespace
}  // namespace cove::test
