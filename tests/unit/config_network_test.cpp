// Tests of the [network.NAME] sections: every key's values, FILE:LINE errors for bad values and
// names, the cross-NIC rules, get_key, and IpPrefix/MacAddress/rate parsing behind them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/ip_address.hpp"
#include "base/strings.hpp"
#include "config/load.hpp"

namespace cove::config {
namespace {

const LoadOptions kOptions{"web", "/var/lib/cove/web/rootfs"};
const char kIdmap[] = "[idmap]\nuid = 0 100000 65536\ngid = 0 100000 65536\n";

Result<ContainerConfig> load(const std::string& text) { return load_config_string(std::string(kIdmap) + text, "t.conf", kOptions); }

std::string error_of(const std::string& text) {
  auto c = load(text);
  return c ? std::string("(loaded)") : c.error().message();
}

TEST(ConfigNetwork, NoSectionMeansNoNic) {
  auto c = load("");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_TRUE(c->nics.empty());
}

TEST(ConfigNetwork, EveryKeyIsTyped) {
  auto c = load(
      "[network.eth0]\ntype = veth\nlink = cove0\nhwaddr = 02:AB:cd:00:11:22\nmtu = 1400\n"
      "ipv4 = 10.0.3.5/24\nipv4.gateway = auto\nipv6 = fd42::5/64\nipv6.gateway = fd42::1\n"
      "dns = 10.0.3.1 fd42::1\nrate.ingress = 100mbit\nrate.egress = 10mbps\n"
      "security.mac_filtering = false\nforward = tcp:8080:80\nforward = udp:5353:53\n"
      "[network.eth1]\ntype = macvlan\nlink = veth9\nmacvlan.mode = private\nipv4 = dhcp\n");
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_EQ(c->nics.size(), 2u);
  const NicConfig& e = c->nics[0];
  EXPECT_EQ(e.name, "eth0");
  EXPECT_EQ(e.link, "cove0");
  ASSERT_TRUE(e.hwaddr);
  EXPECT_EQ(e.hwaddr->str(), "02:ab:cd:00:11:22");
  EXPECT_EQ(e.mtu, 1400u);
  EXPECT_EQ(e.ipv4.address.str(), "10.0.3.5/24");
  EXPECT_EQ(e.ipv4_gateway.mode, NicGateway::Mode::kAuto);
  EXPECT_EQ(e.ipv6.address.str(), "fd42::5/64");
  EXPECT_EQ(e.ipv6_gateway.address.str(), "fd42::1");
  ASSERT_EQ(e.dns.size(), 2u);
  EXPECT_EQ(e.rate_ingress, 100000000u);
  EXPECT_EQ(e.rate_egress, 80000000u);
  EXPECT_FALSE(e.filters_mac());
  EXPECT_TRUE(e.filters_ip());  // static address: on by default
  ASSERT_EQ(e.forwards.size(), 2u);
  EXPECT_EQ(e.forwards[1].proto, PortForward::Proto::kUdp);
  EXPECT_EQ(e.forwards[1].container_port, 53);
  const NicConfig& m = c->nics[1];
  EXPECT_EQ(m.type, NicType::kMacvlan);
  EXPECT_EQ(m.macvlan_mode, "private");
  EXPECT_EQ(m.ipv4.mode, NicAddress::Mode::kDhcp);
  EXPECT_FALSE(m.filters_ip());
  auto rate = get_key(*c, "network.eth0", "rate.egress");
  ASSERT_TRUE(rate);
  EXPECT_EQ(*rate, std::vector<std::string>{"80mbit"});
  auto fw = get_key(*c, "network.eth0", "forward");
  ASSERT_TRUE(fw);
  EXPECT_EQ(*fw, (std::vector<std::string>{"tcp:8080:80", "udp:5353:53"}));
  EXPECT_FALSE(get_key(*c, "network.eth7", "mtu"));
}

TEST(ConfigNetwork, FiltersDefaultOffWithoutStaticAddress) {
  auto c = load("[network.eth0]\nlink = br0\nipv4 = dhcp\n");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_FALSE(c->nics[0].filters_mac());
  EXPECT_FALSE(c->nics[0].filters_ip());
}

TEST(ConfigNetwork, BadValuesNameFileLineKeyAndAllowed) {
  EXPECT_EQ(error_of("[network.eth0]\ntype = tun\n"),
            "t.conf:5: [network.eth0] type: `tun` is not a NIC type (allowed: veth | macvlan | ipvlan | phys)");
  EXPECT_NE(error_of("[network.eth0]\nipv4 = 10.0.3.5\n").find("t.conf:5: [network.eth0] ipv4: `10.0.3.5` is not an IPv4 ADDRESS/PREFIX"),
            std::string::npos);
  EXPECT_NE(error_of("[network.eth0]\nipv4 = fd42::1/64\n").find("is not an IPv4"), std::string::npos);
  EXPECT_NE(error_of("[network.eth0]\nhwaddr = 01:00:5e:00:00:01\n").find("not a unicast address"), std::string::npos);
  EXPECT_NE(error_of("[network.eth0]\nrate.ingress = fast\n").find("`fast` is not a rate"), std::string::npos);
  EXPECT_NE(error_of("[network.eth0]\nforward = tcp:0:80\n").find("not a port"), std::string::npos);
  EXPECT_NE(error_of("[network.eth0]\nforward = sctp:1:2\n").find("`sctp` is not tcp or udp"), std::string::npos);
  EXPECT_NE(error_of("[network.eth0]\ncolour = blue\n").find("unknown key `colour` in [network.eth0] (allowed: type, link"),
            std::string::npos);
  EXPECT_NE(error_of("[network.lo]\n").find("`lo` is always there"), std::string::npos);
  EXPECT_NE(error_of("[network.a/b]\n").find("is not an interface name"), std::string::npos);
  EXPECT_NE(error_of("[network.averyveryverylongname]\n").find("is not an interface name"), std::string::npos);
}

TEST(ConfigNetwork, CrossKeyRules) {
  EXPECT_NE(error_of("[network.eth0]\nforward = tcp:80:80\n").find("forward: needs a static `ipv4`"), std::string::npos);
  EXPECT_NE(error_of("[network.eth0]\ntype = macvlan\n").find("link: macvlan needs the host device"), std::string::npos);
  EXPECT_NE(error_of("[network.eth0]\ntype = phys\nlink = eth9\nrate.egress = 1mbit\n").find("only a veth has a host end"),
            std::string::npos);
  EXPECT_NE(error_of("[network.eth0]\nipv4 = 10.0.3.5/24\nipv4.gateway = 10.9.9.1\n").find("is not on `10.0.3.5/24`"),
            std::string::npos);
  EXPECT_NE(error_of("[network.eth0]\nhwaddr = 02:00:00:00:00:01\n[network.eth1]\nhwaddr = 02:00:00:00:00:01\n")
                .find("the same as [network.eth0]'s"),
            std::string::npos);
  EXPECT_NE(error_of("[network.eth0]\nipv4 = 10.0.3.5/24\nforward = tcp:80:80\n[network.eth1]\nipv4 = 10.0.4.5/24\n"
                     "forward = tcp:80:81\n").find("host port 80 is forwarded by [network.eth0] too"),
            std::string::npos);
  EXPECT_NE(error_of("[namespaces]\nclone = mnt pid uts ipc user\n[network.eth0]\n").find("own network namespace"),
            std::string::npos);
}

TEST(ConfigNetwork, IpPrefixArithmetic) {
  auto p = IpPrefix::parse("10.0.3.77/24");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->network().str(), "10.0.3.0/24");
  EXPECT_EQ(p->nth(1)->str(), "10.0.3.1");
  EXPECT_EQ(p->nth(255)->str(), "10.0.3.255");
  EXPECT_FALSE(p->nth(256));
  EXPECT_TRUE(p->contains(*IpAddress::parse("10.0.3.200")));
  EXPECT_FALSE(p->contains(*IpAddress::parse("10.0.4.1")));
  EXPECT_TRUE(p->overlaps(*IpPrefix::parse("10.0.0.0/16")));
  auto v6 = IpPrefix::parse("fd42:1:2::9/64");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->network().str(), "fd42:1:2::/64");
  EXPECT_EQ(v6->nth(258)->str(), "fd42:1:2::102");
  EXPECT_FALSE(IpPrefix::parse("10.0.3.1/33"));
  EXPECT_FALSE(IpPrefix::parse("10.0.3.1"));
  EXPECT_EQ(IpPrefix::parse("10.0.3.1", true)->prefix, 32u);
}

TEST(ConfigNetwork, MacAddresses) {
  auto m = MacAddress::random();
  EXPECT_EQ(m.bytes[0], 0x02);
  EXPECT_TRUE(m.is_unicast());
  EXPECT_EQ(MacAddress::parse(m.str()), m);
  EXPECT_FALSE(MacAddress::parse("02:00:00:00:00"));
  EXPECT_FALSE(MacAddress::parse("02-00-00-00-00-00"));
  EXPECT_FALSE(MacAddress::parse("02:00:00:00:00:0g"));
}

TEST(ConfigNetwork, Rates) {
  EXPECT_EQ(parse_rate("100mbit"), 100000000u);
  EXPECT_EQ(parse_rate("1Gbit"), 1000000000u);
  EXPECT_EQ(parse_rate("512kbit"), 512000u);
  EXPECT_EQ(parse_rate("10mbps"), 80000000u);
  EXPECT_EQ(parse_rate("1234"), 1234u);
  EXPECT_FALSE(parse_rate("0"));
  EXPECT_FALSE(parse_rate("mbit"));
  EXPECT_FALSE(parse_rate("10 furlongs"));
  EXPECT_EQ(format_rate(100000000), "100mbit");
  EXPECT_EQ(format_rate(1500000), "1500kbit");
  EXPECT_EQ(format_rate(123), "123bit");
}

}  // namespace
}  // namespace cove::config
