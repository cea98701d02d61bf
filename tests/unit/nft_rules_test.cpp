// network/nft: the rule builders' text for literal input, table names, EUI-64 link-locals.
// Whether nft accepts the text and the kernel enforces it is tests/integration/nft_test.cpp.
#include <gtest/gtest.h>

#include "network/nft.hpp"
#include "support.hpp"

namespace cove::network {
namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }
MacAddress mac(const char* s) { return *MacAddress::parse(s); }

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The text between "chain NAME {" and its closing "\t}".
std::string chain_of(const std::string& text, const std::string& name) {
  size_t b = text.find("chain " + name + " {");
  if (b == std::string::npos) return "";
  return text.substr(b, text.find("\n\t}", b) - b);
}

TEST(NftNames, TablesKeepSafeNamesAndHashOddOnes) {
  EXPECT_EQ(container_table("web"), "cove-c-web");
  EXPECT_EQ(container_table("a.b-c_1"), "cove-c-a.b-c_1");
  EXPECT_EQ(container_table("web-0123456789abcdef0123456789abcdef"), "cove-c-web-0123456789abcdef0123456789abcdef");
  EXPECT_EQ(network_table("lan0"), "cove-n-lan0");
  std::string odd = container_table("a b\"c");
  EXPECT_EQ(odd.substr(0, 11), "cove-c-abc-");
  EXPECT_EQ(odd.size(), 11u + 16u);
  EXPECT_EQ(odd, container_table("a b\"c"));         // deterministic: reconciliation finds it again
  EXPECT_NE(odd, container_table("a b'c"));           // other odd key, other name
  EXPECT_NE(network_table("x/y"), network_table("xy"));  // never the same as a safe name
  EXPECT_EQ(network_table("").substr(0, 8), "cove-n--");  // empty: still a valid identifier
  EXPECT_EQ(network_table("").size(), 8u + 16u);
}

TEST(NftNames, IfnameCheck) {
  EXPECT_OK(check_nft_ifname("veth-web.0"));
  EXPECT_OK(check_nft_ifname("br*"));
  EXPECT_ERROR_CONTAINS(check_nft_ifname("a\"b"), "interface name `a\"b`: nft needs a non-empty name without `\"` or `\\`");
  EXPECT_ERROR_CONTAINS(check_nft_ifname("a\\b"), "without");
  EXPECT_ERROR_CONTAINS(check_nft_ifname(""), "non-empty");
}

TEST(NftEui64, LinkLocalFromMac) {
  EXPECT_EQ(eui64_link_local(mac("02:00:00:00:00:0a")).str(), "fe80::ff:fe00:a");
  EXPECT_EQ(eui64_link_local(mac("52:54:00:12:34:56")).str(), "fe80::5054:ff:fe12:3456");
  // The universal/local bit is flipped both ways.
  EXPECT_EQ(eui64_link_local(mac("00:1b:21:aa:bb:cc")).str(), "fe80::21b:21ff:feaa:bbcc");
}

PortFilter port_a() {
  PortFilter p;
  p.host_ifname = "vethA";
  p.mac = mac("02:00:00:00:00:0a");
  p.ipv4 = {ip("10.0.3.5")};
  p.ipv6 = {ip("fd42::5")};
  return p;
}

TEST(NftAntispoof, WholeRulesetForOnePort) {
  EXPECT_EQ(antispoof_rules("cove-c-web", {port_a()}),
            "table bridge cove-c-web {}\n"
            "delete table bridge cove-c-web\n"
            "table bridge cove-c-web {\n"
            "\tchain prerouting {\n"
            "\t\ttype filter hook prerouting priority filter; policy accept;\n"
            "\t\tiifname \"vethA\" jump port0\n"
            "\t}\n"
            "\tchain port0 {\n"
            "\t\tether saddr != 02:00:00:00:00:0a drop\n"
            "\t\tarp saddr ether != 02:00:00:00:00:0a drop\n"
            "\t\tether type { 8021q, 8021ad } drop\n"
            "\t\tudp sport { 67, 547 } drop\n"
            "\t\ticmpv6 type nd-router-advert drop\n"
            "\t\tarp htype != 1 drop\n"
            "\t\tarp ptype != ip drop\n"
            "\t\tarp hlen != 6 drop\n"
            "\t\tarp plen != 4 drop\n"
            "\t\tarp saddr ip != { 0.0.0.0, 10.0.3.5 } drop\n"
            "\t\tip saddr 0.0.0.0 udp sport 68 udp dport 67 return\n"
            "\t\tip saddr != 10.0.3.5 drop\n"
            "\t\ticmpv6 type nd-neighbor-advert @th,64,128 != { 0xfe80000000000000000000fffe00000a, "
            "0xfd420000000000000000000000000005 } drop\n"
            "\t\tip6 saddr :: icmpv6 type { nd-neighbor-solicit, nd-router-solicit, mld-listener-report, "
            "mld2-listener-report } return\n"
            "\t\tip6 saddr fe80::/10 udp sport 546 udp dport 547 return\n"
            "\t\tip6 saddr != { fe80::ff:fe00:a, fd42::5 } drop\n"
            "\t}\n"
            "}\n");
}

TEST(NftAntispoof, SeveralPortsEachGetTheirChain) {
  PortFilter b = port_a();
  b.host_ifname = "vethB";
  b.mac = mac("02:00:00:00:00:0b");
  b.ipv4 = {ip("10.0.3.6"), ip("10.0.3.7")};
  b.ipv6 = {};
  std::string r = antispoof_rules("t", {port_a(), b});
  EXPECT_TRUE(has(r, "iifname \"vethA\" jump port0\n\t\tiifname \"vethB\" jump port1\n")) << r;
  std::string p1 = chain_of(r, "port1");
  EXPECT_TRUE(has(p1, "ether saddr != 02:00:00:00:00:0b drop")) << p1;
  EXPECT_TRUE(has(p1, "arp saddr ip != { 0.0.0.0, 10.0.3.6, 10.0.3.7 } drop")) << p1;
  EXPECT_TRUE(has(p1, "ip saddr != { 10.0.3.6, 10.0.3.7 } drop")) << p1;
  // Without IPv6 addresses, only the link-local of its own MAC.
  EXPECT_TRUE(has(p1, "@th,64,128 != 0xfe80000000000000000000fffe00000b drop")) << p1;
  EXPECT_TRUE(has(p1, "ip6 saddr != fe80::ff:fe00:b drop")) << p1;
  EXPECT_FALSE(has(p1, "10.0.3.5"));
}

TEST(NftAntispoof, EmptyIpv4ListAllowsOnlyDhcpAndArpProbes) {
  PortFilter p = port_a();
  p.ipv4 = {};
  std::string c = chain_of(antispoof_rules("t", {p}), "port0");
  EXPECT_TRUE(has(c, "arp saddr ip != 0.0.0.0 drop")) << c;
  EXPECT_TRUE(has(c, "ip saddr 0.0.0.0 udp sport 68 udp dport 67 return\n\t\tmeta protocol ip drop\n")) << c;
  EXPECT_FALSE(has(c, "ip saddr !=")) << c;
}

TEST(NftAntispoof, AddressesGoByTheirFamilyAndTheLinkLocalIsNotRepeated) {
  PortFilter p = port_a();
  p.ipv4 = {ip("10.0.3.5"), ip("fd42::9")};
  p.ipv6 = {ip("fe80::ff:fe00:a")};
  std::string c = chain_of(antispoof_rules("t", {p}), "port0");
  EXPECT_TRUE(has(c, "ip saddr != 10.0.3.5 drop")) << c;
  EXPECT_TRUE(has(c, "ip6 saddr != { fe80::ff:fe00:a, fd42::9 } drop")) << c;
}

TEST(NftAntispoof, FiltersCanBeTurnedOffSeparately) {
  PortFilter mac_only = port_a();
  mac_only.filter_ip = false;
  std::string c = chain_of(antispoof_rules("t", {mac_only}), "port0");
  EXPECT_TRUE(has(c, "ether saddr != 02:00:00:00:00:0a drop")) << c;
  EXPECT_FALSE(has(c, "ip saddr")) << c;
  EXPECT_FALSE(has(c, "8021q")) << c;

  PortFilter ip_only = port_a();
  ip_only.filter_mac = false;
  c = chain_of(antispoof_rules("t", {ip_only}), "port0");
  EXPECT_FALSE(has(c, "ether saddr")) << c;
  EXPECT_FALSE(has(c, "arp saddr ether")) << c;
  EXPECT_TRUE(has(c, "ip saddr != 10.0.3.5 drop")) << c;

  PortFilter none = port_a();
  none.filter_mac = none.filter_ip = false;
  std::string r = antispoof_rules("t", {none});
  EXPECT_FALSE(has(r, "vethA")) << r;
  EXPECT_FALSE(has(r, "chain port0")) << r;
}

TEST(NftAntispoof, InterfaceNamesAreQuotedOrFailClosed) {
  PortFilter star = port_a();
  star.host_ifname = "veth*";
  EXPECT_TRUE(has(antispoof_rules("t", {star}), "iifname \"veth\\*\" jump port0"));
  PortFilter mid = port_a();
  mid.host_ifname = "a*b";
  EXPECT_TRUE(has(antispoof_rules("t", {mid}), "iifname \"a*b\" jump port0"));
  PortFilter quote = port_a();
  quote.host_ifname = "ve\"th";
  std::string r = antispoof_rules("t", {quote});
  EXPECT_FALSE(has(r, "iifname")) << r;
  EXPECT_TRUE(has(r, "cove-error interface-name \"ve?th\" has a character nft strings cannot hold")) << r;
}

TEST(NftForward, DnatInPreroutingAndOutputMasqueradeFromTheHost) {
  Forward tcp{"tcp", 8080, ip("10.0.3.5"), 80};
  Forward udp{"udp", 5353, ip("10.0.3.6"), 53};
  std::string r = forward_rules("cove-c-web", {tcp, udp});
  EXPECT_EQ(r.rfind("table ip cove-c-web {}\ndelete table ip cove-c-web\ntable ip cove-c-web {\n", 0), 0u) << r;
  std::string dnat =
      "\t\tfib daddr type local tcp dport 8080 dnat to 10.0.3.5:80\n"
      "\t\tfib daddr type local udp dport 5353 dnat to 10.0.3.6:53\n";
  EXPECT_EQ(chain_of(r, "prerouting"),
            "chain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n" +
                dnat.substr(0, dnat.size() - 1));
  EXPECT_EQ(chain_of(r, "output"),
            "chain output {\n\t\ttype nat hook output priority -100; policy accept;\n" + dnat.substr(0, dnat.size() - 1));
  std::string post = chain_of(r, "postrouting");
  EXPECT_TRUE(has(post, "type nat hook postrouting priority srcnat;")) << post;
  EXPECT_TRUE(has(post, "ct status dnat ip daddr 10.0.3.5 tcp dport 80 fib saddr type local masquerade\n")) << post;
  EXPECT_TRUE(has(post, "ct status dnat ip daddr 10.0.3.6 udp dport 53 fib saddr type local masquerade")) << post;
  std::string guard = chain_of(r, "localnet_guard");
  EXPECT_TRUE(has(guard, "type filter hook prerouting priority -150;")) << guard;
  EXPECT_TRUE(has(guard, "iifname != \"lo\" ip daddr 127.0.0.0/8 drop")) << guard;
}

TEST(NftForward, NoForwardsIsAnEmptyTableAndBadProtoIsVisible) {
  EXPECT_EQ(forward_rules("t", {}), "table ip t {}\ndelete table ip t\ntable ip t {\n}\n");
  std::string r = forward_rules("t", {Forward{"sctp; drop", 1, ip("10.0.0.1"), 2}});
  EXPECT_TRUE(has(r, "fib daddr type local \"sctp; drop\" dport 1 dnat")) << r;  // nft rejects a string there
}

TEST(NftNat, MasqueradeLeavingTheSubnetsAndAcceptForwarding) {
  std::string r = nat_rules("cove-n-lan", "covebr0", {*IpPrefix::parse("10.0.3.1/24"), *IpPrefix::parse("fd42::1/64")});
  EXPECT_EQ(r,
            "table inet cove-n-lan {}\n"
            "delete table inet cove-n-lan\n"
            "table inet cove-n-lan {\n"
            "\tchain postrouting {\n"
            "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
            "\t\tip saddr 10.0.3.0/24 ip daddr != 10.0.3.0/24 oifname != \"covebr0\" masquerade\n"
            "\t\tip6 saddr fd42::/64 ip6 daddr != fd42::/64 oifname != \"covebr0\" masquerade\n"
            "\t}\n"
            "\tchain forward {\n"
            "\t\ttype filter hook forward priority filter; policy accept;\n"
            "\t\tiifname \"covebr0\" accept\n"
            "\t\toifname \"covebr0\" accept\n"
            "\t}\n"
            "}\n");
  std::string bad = nat_rules("t", "br\"0", {*IpPrefix::parse("10.0.3.1/24")});
  EXPECT_FALSE(has(bad, "masquerade")) << bad;
  EXPECT_TRUE(has(bad, "cove-error interface-name \"br?0\"")) << bad;
}

TEST(NftDelete, CreatesThenDeletesEachTable) {
  EXPECT_EQ(delete_rules({{"bridge", "cove-c-web"}, {"ip", "cove-c-web"}}),
            "table bridge cove-c-web {}\ndelete table bridge cove-c-web\n"
            "table ip cove-c-web {}\ndelete table ip cove-c-web\n");
  EXPECT_EQ(delete_rules({}), "");
}

}  // namespace
}  // namespace cove::network
