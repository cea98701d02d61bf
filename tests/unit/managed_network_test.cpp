// Managed networks, the pure parts: the config file (values, FILE:LINE errors, rules across
// keys), the default subnet choice, the DHCP ranges, dnsmasq's command line, the hosts and lease
// files.
#include <gtest/gtest.h>

#include <algorithm>

#include "base/fs.hpp"
#include "network/dnsmasq.hpp"
#include "network/host_prefixes.hpp"
#include "network/managed_network.hpp"
#include "network/network_file.hpp"
#include "support.hpp"

using namespace cove;
using namespace cove::network;
using cove::test::TempDir;

namespace {

IpPrefix pfx(const char* s) { return *IpPrefix::parse(s); }
IpAddress ip(const char* s) { return *IpAddress::parse(s); }

Result<ManagedNetwork> parse(const std::string& text) { return parse_network_text(text, "/etc/cove/networks/n.conf", "n"); }

std::vector<TakenPrefix> taken(std::initializer_list<const char*> list) {
  std::vector<TakenPrefix> out;
  for (const char* s : list) out.push_back({pfx(s).network(), std::string("test ") + s});
  return out;
}

bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

}  // namespace

// --- the config file ---------------------------------------------------------------------------

TEST(NetworkFile, ParsesEveryKey) {
  auto n = parse("[network]\nipv4 = 10.0.7.1/24\nipv6 = fd42:7::1/64\nnat = false\ndhcp = no\n");
  ASSERT_OK(n);
  EXPECT_EQ(n->name, "n");
  EXPECT_EQ(n->bridge, "n");
  EXPECT_EQ(n->ipv4, pfx("10.0.7.1/24"));
  EXPECT_EQ(n->ipv6, pfx("fd42:7::1/64"));
  EXPECT_FALSE(n->nat);
  EXPECT_FALSE(n->dhcp);
}

TEST(NetworkFile, DefaultsAndNone) {
  auto n = parse("# only an address\n[network]\nipv4 = 10.0.7.1/24\n");
  ASSERT_OK(n);
  EXPECT_FALSE(n->ipv6);
  EXPECT_TRUE(n->nat);
  EXPECT_TRUE(n->dhcp);
  auto bare = parse("[network]\nipv4 = none\nnat = false\ndhcp = false\n");
  ASSERT_OK(bare);
  EXPECT_FALSE(bare->ipv4);
}

TEST(NetworkFile, FormatParsesBackToTheSameNetwork) {
  ManagedNetwork net{"n", "n", pfx("10.9.0.1/16"), pfx("fd00:1:2:3::1/64"), false, true};
  auto back = parse(format_network(net));
  ASSERT_OK(back);
  EXPECT_EQ(*back, net);
  ManagedNetwork v6only{"n", "n", std::nullopt, pfx("fd00:1:2:3::1/64"), true, false};
  auto back6 = parse(format_network(v6only));
  ASSERT_OK(back6);
  EXPECT_EQ(*back6, v6only);
}

TEST(NetworkFile, EveryErrorHasFileAndLine) {
  auto n = parse("[network]\nipv4 = 10.0.7.0/24\nbogus = 1\nnat = maybe\nipv6 = 10.0.0.1/24\n[extra]\nx = 1\n");
  ASSERT_FALSE(n);
  const std::string& m = n.error().message();
  EXPECT_EQ(n.error().code(), EINVAL);
  EXPECT_NE(m.find("/etc/cove/networks/n.conf:2: [network] ipv4: `10.0.7.0` is the network address of `10.0.7.0/24` "
                   "(allowed: ADDRESS/PREFIX (prefix 8..30), none)"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("n.conf:3: unknown key `bogus` in [network] (allowed: ipv4, ipv6, nat, dhcp, include)"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("n.conf:4: [network] nat: `maybe` is not a boolean (allowed: true, false)"), std::string::npos) << m;
  EXPECT_NE(m.find("n.conf:5: [network] ipv6: `10.0.0.1/24` is not an IPv6 address"), std::string::npos) << m;
  EXPECT_NE(m.find("n.conf:6: unknown section `[extra]` (allowed: [network])"), std::string::npos) << m;
  EXPECT_EQ(m.find("n.conf:7"), std::string::npos) << "a key of an unknown section is reported once, at its header: " << m;
}

TEST(NetworkFile, BadAddressesNameTheProblem) {
  EXPECT_ERROR_CONTAINS(parse("[network]\nipv4 = 10.0.7.255/24\n"), ":2: [network] ipv4: `10.0.7.255` is the broadcast");
  EXPECT_ERROR_CONTAINS(parse("[network]\nipv4 = 10.0.7.1/31\n"), "prefix /31 is outside /8../30");
  EXPECT_ERROR_CONTAINS(parse("[network]\nipv4 = 10.0.7.1\n"), "`10.0.7.1` is not an address with a prefix");
  EXPECT_ERROR_CONTAINS(parse("[network]\nipv4 = 127.0.0.2/8\n"), "is not a unicast address for a link");
  EXPECT_ERROR_CONTAINS(parse("[network]\nipv6 = fe80::1/64\n"), "is not a global or unique local address");
  EXPECT_ERROR_CONTAINS(parse("[network]\nipv6 = fd00::/64\n"), "subnet-router anycast");
}

TEST(NetworkFile, KeyOutsideTheSection) {
  EXPECT_ERROR_CONTAINS(parse("ipv4 = 10.0.7.1/24\n[network]\n"),
                        "n.conf:1: key `ipv4` is outside any section (put it under `[network]`)");
}

TEST(NetworkFile, RulesAcrossKeysNameTheFile) {
  EXPECT_ERROR_CONTAINS(parse("[network]\nnat = false\n"),
                        "/etc/cove/networks/n.conf: dhcp needs an ipv4 or ipv6 address (or `dhcp = false`)");
  EXPECT_ERROR_CONTAINS(parse("[network]\ndhcp = false\n"), "n.conf: nat needs an ipv4 or ipv6 address");
  EXPECT_ERROR_CONTAINS(parse("[network]\nipv6 = fd00::1/56\nnat = false\n"),
                        "ipv6 `fd00::1/56` with dhcp needs a /64 (SLAAC), or `dhcp = false`");
  EXPECT_OK(parse("[network]\nipv6 = fd00::1/56\ndhcp = false\n"));
}

TEST(NetworkFile, AFileOnDiskIsNamedByItsPath) {
  TempDir t;
  std::string path = t.file("web.conf");
  ASSERT_OK(write_file(path, "[network]\nipv4 = 10.0.8.1/24\n\nipv5 = x\n"));
  auto n = parse_network_file(path, "web");
  ASSERT_FALSE(n);
  EXPECT_NE(n.error().message().find(path + ":4: unknown key `ipv5`"), std::string::npos) << n.error().message();
  auto missing = parse_network_file(t.file("none.conf"), "none");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ENOENT);
}

TEST(NetworkFile, Names) {
  EXPECT_OK(validate_network_name("cove0"));
  EXPECT_OK(validate_network_name("br_lan-2"));
  EXPECT_OK(validate_network_name("abcdefghijklmno"));  // 15
  EXPECT_ERROR_CONTAINS(validate_network_name("abcdefghijklmnop"), "must have 1 to 15 characters");
  EXPECT_ERROR_CONTAINS(validate_network_name(""), "must have 1 to 15 characters");
  EXPECT_ERROR_CONTAINS(validate_network_name("-x"), "must not start with '-'");
  EXPECT_ERROR_CONTAINS(validate_network_name("a/b"), "has character `/`");
  EXPECT_ERROR_CONTAINS(validate_network_name("a.b"), "has character `.`");
}

// --- subnets -----------------------------------------------------------------------------------

TEST(DefaultSubnet, FirstFreeTenZeroN) {
  EXPECT_EQ(choose_default_subnet({}), pfx("10.0.3.1/24"));
  EXPECT_EQ(choose_default_subnet(taken({"10.0.3.1/24"})), pfx("10.0.4.1/24"));
  EXPECT_EQ(choose_default_subnet(taken({"10.0.3.200/25", "10.0.4.0/30", "10.0.5.7/32"})), pfx("10.0.6.1/24"));
  // 10.0.0.0/22 covers 10.0.0-3; a default route or other families do not count here.
  EXPECT_EQ(choose_default_subnet(taken({"10.0.0.0/22", "fd00::/8", "192.168.1.0/24"})), pfx("10.0.4.1/24"));
  EXPECT_EQ(choose_default_subnet(taken({"10.0.0.0/16"})), std::nullopt);
  EXPECT_EQ(choose_default_subnet(taken({"10.0.0.0/8"})), std::nullopt);
  EXPECT_EQ(choose_default_subnet(taken({"10.0.0.0/17", "10.0.128.0/18", "10.0.192.0/19", "10.0.224.0/20",
                                         "10.0.240.0/21", "10.0.248.0/22", "10.0.252.0/23"})),
            pfx("10.0.254.1/24"));
}

TEST(DefaultSubnet, OverlapNamesTheOwner) {
  auto t = taken({"192.168.0.0/16", "10.1.2.0/24"});
  const TakenPrefix* hit = find_overlap(pfx("10.1.2.129/25"), t);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->owner, "test 10.1.2.0/24");
  EXPECT_EQ(find_overlap(pfx("10.1.3.1/24"), t), nullptr);
  EXPECT_NE(find_overlap(pfx("10.0.0.1/8"), t), nullptr) << "a wider subnet overlaps what it contains";
}

// --- dnsmasq -------------------------------------------------------------------------------------

TEST(DhcpRange, FromPointTwoToBeforeTheBroadcast) {
  EXPECT_EQ(dhcp_range_v4(pfx("10.0.3.1/24")), (Ipv4Range{ip("10.0.3.2"), ip("10.0.3.254")}));
  EXPECT_EQ(dhcp_range_v4(pfx("10.0.0.1/16")), (Ipv4Range{ip("10.0.0.2"), ip("10.0.255.254")}));
  EXPECT_EQ(dhcp_range_v4(pfx("10.0.3.129/25")), (Ipv4Range{ip("10.0.3.130"), ip("10.0.3.254")}));
}

TEST(DhcpRange, TheBridgeAddressIsNeverInIt) {
  EXPECT_EQ(dhcp_range_v4(pfx("10.0.3.254/24")), (Ipv4Range{ip("10.0.3.1"), ip("10.0.3.253")}));
  EXPECT_EQ(dhcp_range_v4(pfx("10.0.3.100/24")), (Ipv4Range{ip("10.0.3.101"), ip("10.0.3.254")}));
  EXPECT_EQ(dhcp_range_v4(pfx("10.0.3.200/24")), (Ipv4Range{ip("10.0.3.1"), ip("10.0.3.199")}));
  EXPECT_EQ(dhcp_range_v4(pfx("10.0.3.1/30")), (Ipv4Range{ip("10.0.3.2"), ip("10.0.3.2")}));
  EXPECT_EQ(dhcp_range_v4(pfx("10.0.3.2/30")), (Ipv4Range{ip("10.0.3.1"), ip("10.0.3.1")}));
  EXPECT_EQ(dhcp_range_v4(pfx("10.0.3.1/31")), std::nullopt);
  EXPECT_EQ(dhcp_range_v4(pfx("fd00::1/64")), std::nullopt);
}

TEST(DhcpRange, Ipv6IsStatelessOnTheSlash64) {
  EXPECT_EQ(dhcp_range_v6(pfx("fd42:1:2:3::1/64")), "fd42:1:2:3::,ra-stateless,ra-names,64");
}

TEST(Dnsmasq, ArgsListenOnTheBridgeOnly) {
  ManagedNetwork net{"lan", "lan", pfx("10.0.3.1/24"), pfx("fd42::1/64"), true, true};
  auto a = dnsmasq_args(net, dnsmasq_files("/run/cove/networks/lan"), "dnsmasq");
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a[0], "/usr/sbin/dnsmasq");
  for (const char* want :
       {"--conf-file=/dev/null", "--strict-order", "--bind-interfaces", "--except-interface=lo", "--interface=lan",
        "--listen-address=10.0.3.1", "--listen-address=fd42::1", "--dhcp-range=10.0.3.2,10.0.3.254",
        "--dhcp-range=fd42::,ra-stateless,ra-names,64", "--enable-ra", "--dhcp-no-override", "--dhcp-authoritative",
        "--dhcp-leasefile=/run/cove/networks/lan/dnsmasq.leases", "--pid-file=/run/cove/networks/lan/dnsmasq.pid",
        "--domain=cove", "--local=/cove/", "--expand-hosts", "--addn-hosts=/run/cove/networks/lan/dnsmasq.hosts",
        "--log-facility=/run/cove/networks/lan/dnsmasq.log", "--user=dnsmasq"})
    EXPECT_TRUE(has(a, want)) << "missing " << want;
  for (const auto& arg : a) {
    EXPECT_EQ(arg.find("0.0.0.0"), std::string::npos) << arg;
    EXPECT_NE(arg, "--bind-dynamic");
  }
  ManagedNetwork v4{"lan", "lan", pfx("10.0.3.1/24"), std::nullopt, true, true};
  auto b = dnsmasq_args(v4, dnsmasq_files("/r/lan"), "nobody");
  EXPECT_FALSE(has(b, "--enable-ra"));
  EXPECT_EQ(std::count_if(b.begin(), b.end(), [](const std::string& s) { return s.starts_with("--listen-address="); }), 1);
}

TEST(Dnsmasq, HostsFileRoundTrip) {
  std::vector<HostEntry> hosts = {{ip("10.0.3.7"), "web"}, {ip("fd42::7"), "web"}, {ip("10.0.3.8"), "db-1"}};
  std::string text = format_hosts(hosts);
  EXPECT_NE(text.find("10.0.3.7 web\n"), std::string::npos);
  EXPECT_EQ(parse_hosts(text), hosts);
  EXPECT_EQ(parse_hosts("# c\n\n10.0.3.9 ok\nnot-an-ip x\n10.0.3.10 bad_name\n10.0.3.11\n"),
            (std::vector<HostEntry>{{ip("10.0.3.9"), "ok"}}));
}

TEST(Dnsmasq, HostNamesAreDnsLabels) {
  EXPECT_OK(validate_hostname("web-1"));
  EXPECT_ERROR_CONTAINS(validate_hostname(""), "1 to 63 characters");
  EXPECT_ERROR_CONTAINS(validate_hostname(std::string(64, 'a')), "1 to 63 characters");
  EXPECT_ERROR_CONTAINS(validate_hostname("-web"), "must not start or end with '-'");
  EXPECT_ERROR_CONTAINS(validate_hostname("web.cove"), "has character `.`");
  EXPECT_ERROR_CONTAINS(validate_hostname("a b"), "has character ` `");
  EXPECT_ERROR_CONTAINS(validate_hostname("a\nb"), "has character `\\x0a`");
}

TEST(Dnsmasq, LeaseFile) {
  auto leases = parse_leases(
      "1767225600 02:00:00:00:00:01 10.0.3.5 web 01:02:00:00:00:00:01\n"
      "0 02:00:00:00:00:02 10.0.3.6 * *\n"
      "duid 00:01:00:01:2c:00:00:00:02:00:00:00:00:ff\n"
      "1767225600 1234 fd42::5 web 00:01:00:01\n");
  ASSERT_EQ(leases.size(), 3u);
  EXPECT_EQ(leases[0].expiry, 1767225600);
  EXPECT_EQ(leases[0].mac, "02:00:00:00:00:01");
  EXPECT_EQ(leases[0].address, "10.0.3.5");
  EXPECT_EQ(leases[0].hostname, "web");
  EXPECT_EQ(leases[0].client_id, "01:02:00:00:00:00:01");
  EXPECT_EQ(leases[1].hostname, "");
  EXPECT_EQ(leases[1].client_id, "");
  EXPECT_EQ(leases[2].address, "fd42::5");
}
