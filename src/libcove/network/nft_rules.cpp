// The rule builders of nft.hpp: pure text, one table per call, in the "table F T {}; delete
// table F T; table F T { ... }" shape that one `nft -f -` run applies as one transaction
// (creating the table first makes the delete succeed when it is absent).
#include <cstdio>
#include <optional>

#include "base/strings.hpp"
#include "network/nft.hpp"

namespace cove::network {
namespace {

// An interface name as an nft string. nft reads a trailing `*` as a wildcard (`"veth*"` is
// every name starting with "veth"), so it is escaped; `"` and `\` cannot be written at all.
std::optional<std::string> quote_ifname(const std::string& name) {
  if (name.empty() || name.find_first_of("\"\\") != std::string::npos) return std::nullopt;
  std::string q = "\"" + name;
  if (q.back() == '*') q.insert(q.size() - 1, "\\");
  return q + "\"";
}

// A line nft rejects, shown in its error with the name: the ruleset fails closed rather than
// filtering or forwarding on another interface than asked.
std::string unusable_ifname(const std::string& name) {
  std::string shown = printable(name);
  for (char& c : shown)
    if (c == '"' || c == '\\') c = '?';
  return "\t\tcove-error interface-name \"" + shown + "\" has a character nft strings cannot hold (\" or \\)\n";
}

std::string table_open(const std::string& family, const std::string& table) {
  return "table " + family + " " + table + " {}\ndelete table " + family + " " + table + "\ntable " + family + " " +
         table + " {\n";
}

std::string chain_open(const std::string& name, const std::string& hook_spec) {
  return "\tchain " + name + " {\n\t\t" + hook_spec + "; policy accept;\n";
}

std::string addr_set(const std::vector<std::string>& items) {
  return items.size() == 1 ? items[0] : "{ " + join(items, ", ") + " }";
}

// An IPv6 address as the 128-bit integer a raw payload match compares with.
std::string hex128(const IpAddress& a) {
  std::string s = "0x";
  char b[3];
  for (size_t i = 0; i < 16; ++i) {
    std::snprintf(b, sizeof b, "%02x", a.bytes[i]);
    s += b;
  }
  return s;
}

std::string mac_rules(const PortFilter& p) {
  std::string mac = p.mac.str();
  return "\t\tether saddr != " + mac + " drop\n\t\tarp saddr ether != " + mac + " drop\n";
}

// nft compiles `ip saddr` in the bridge family to a `meta protocol ip` dependency: the
// skb protocol, which for a frame with one VLAN tag (moved to metadata on receive) is the inner
// one, so those are checked as IPv4 too; the empty-list drop uses the same test. Frames with
// two tags are left to the 8021q/8021ad drop.
std::string ipv4_rules(const std::vector<std::string>& v4) {
  std::vector<std::string> arp_ok = {"0.0.0.0"};
  arp_ok.insert(arp_ok.end(), v4.begin(), v4.end());
  std::string r =
      "\t\tarp htype != 1 drop\n\t\tarp ptype != ip drop\n\t\tarp hlen != 6 drop\n\t\tarp plen != 4 drop\n"
      "\t\tarp saddr ip != " + addr_set(arp_ok) + " drop\n"
      "\t\tip saddr 0.0.0.0 udp sport 68 udp dport 67 return\n";
  r += v4.empty() ? "\t\tmeta protocol ip drop\n" : "\t\tip saddr != " + addr_set(v4) + " drop\n";
  return r;
}

// Neighbour advertisements first (their target, at ICMPv6 offset 8, is the claim; their source
// may be any allowed address), then the sources.
std::string ipv6_rules(const std::vector<IpAddress>& v6) {
  std::vector<std::string> text, raw;
  for (const auto& a : v6) {
    text.push_back(a.str());
    raw.push_back(hex128(a));
  }
  return "\t\ticmpv6 type nd-neighbor-advert @th,64,128 != " + addr_set(raw) + " drop\n"
         "\t\tip6 saddr :: icmpv6 type { nd-neighbor-solicit, nd-router-solicit, mld-listener-report, "
         "mld2-listener-report } return\n"
         "\t\tip6 saddr fe80::/10 udp sport 546 udp dport 547 return\n"
         "\t\tip6 saddr != " + addr_set(text) + " drop\n";
}

std::string port_chain(const std::string& chain, const PortFilter& p) {
  std::string r = "\tchain " + chain + " {\n";
  if (p.filter_mac) r += mac_rules(p);
  if (p.filter_ip) {
    std::vector<std::string> v4;
    std::vector<IpAddress> v6 = {eui64_link_local(p.mac)};
    for (const auto* list : {&p.ipv4, &p.ipv6})
      for (const auto& a : *list) {
        if (a.is_v4()) v4.push_back(a.str());
        else if (a != v6.front()) v6.push_back(a);
      }
    // A tenant answering as a DHCP server or an IPv6 router would take its neighbours' traffic.
    r += "\t\tether type { 8021q, 8021ad } drop\n";
    r += "\t\tudp sport { 67, 547 } drop\n\t\ticmpv6 type nd-router-advert drop\n";
    r += ipv4_rules(v4) + ipv6_rules(v6);
  }
  return r + "\t}\n";
}

std::string port_spec(const Forward& f) {
  return (f.proto == "tcp" || f.proto == "udp" ? f.proto : "\"" + printable(f.proto) + "\"") + " dport ";
}

std::string dnat_rule(const Forward& f) {
  std::string target = f.container.is_v4() ? f.container.str() : "[" + f.container.str() + "]";
  return "\t\tfib daddr type local " + port_spec(f) + std::to_string(f.host_port) + " dnat to " + target + ":" +
         std::to_string(f.container_port) + "\n";
}

std::string prefix_text(const IpPrefix& p) { return p.network().str(); }

}  // namespace

Result<void> check_nft_ifname(const std::string& ifname) {
  if (!quote_ifname(ifname))
    return Error::invalid("interface name `" + printable(ifname) + "`: nft needs a non-empty name without `\"` or `\\`");
  return {};
}

IpAddress eui64_link_local(const MacAddress& mac) {
  IpAddress a;
  a.family = AF_INET6;
  a.bytes = {0xfe, 0x80, 0, 0, 0, 0, 0, 0,
             static_cast<uint8_t>(mac.bytes[0] ^ 0x02), mac.bytes[1], mac.bytes[2], 0xff, 0xfe,
             mac.bytes[3], mac.bytes[4], mac.bytes[5]};
  return a;
}

std::string antispoof_rules(const std::string& table, const std::vector<PortFilter>& ports) {
  std::string base = chain_open("prerouting", "type filter hook prerouting priority filter");
  std::string chains;
  for (size_t i = 0; i < ports.size(); ++i) {
    const auto& p = ports[i];
    if (!p.filter_mac && !p.filter_ip) continue;
    auto name = quote_ifname(p.host_ifname);
    if (!name) {
      base += unusable_ifname(p.host_ifname);
      continue;
    }
    std::string chain = "port" + std::to_string(i);
    base += "\t\tiifname " + *name + " jump " + chain + "\n";
    chains += port_chain(chain, p);
  }
  return table_open("bridge", table) + base + "\t}\n" + chains + "}\n";
}

std::string forward_rules(const std::string& table, const std::vector<Forward>& forwards) {
  std::string r = table_open("ip", table);
  if (forwards.empty()) return r + "}\n";
  std::string dnat, masq;
  for (const auto& f : forwards) {
    dnat += dnat_rule(f);
    masq += "\t\tct status dnat ip daddr " + f.container.str() + " " + port_spec(f) +
            std::to_string(f.container_port) + " fib saddr type local masquerade\n";
  }
  r += chain_open("prerouting", "type nat hook prerouting priority dstnat") + dnat + "\t}\n";
  r += chain_open("output", "type nat hook output priority -100") + dnat + "\t}\n";
  r += chain_open("postrouting", "type nat hook postrouting priority srcnat") + masq + "\t}\n";
  r += chain_open("localnet_guard", "type filter hook prerouting priority -150") +
       "\t\tiifname != \"lo\" ip daddr 127.0.0.0/8 drop\n\t}\n";
  return r + "}\n";
}

std::string nat_rules(const std::string& table, const std::string& bridge, const std::vector<IpPrefix>& subnets) {
  auto br = quote_ifname(bridge);
  std::string r = table_open("inet", table);
  if (!br) return r + chain_open("forward", "type filter hook forward priority filter") + unusable_ifname(bridge) + "\t}\n}\n";
  r += chain_open("postrouting", "type nat hook postrouting priority srcnat");
  for (const auto& s : subnets) {
    std::string fam = s.address.is_v4() ? "ip" : "ip6", net = prefix_text(s);
    r += "\t\t" + fam + " saddr " + net + " " + fam + " daddr != " + net + " oifname != " + *br + " masquerade\n";
  }
  r += "\t}\n" + chain_open("forward", "type filter hook forward priority filter");
  r += "\t\tiifname " + *br + " accept\n\t\toifname " + *br + " accept\n\t}\n";
  return r + "}\n";
}

std::string delete_rules(const std::vector<NftTable>& tables) {
  std::string r;
  for (const auto& t : tables)
    r += "table " + t.family + " " + t.name + " {}\ndelete table " + t.family + " " + t.name + "\n";
  return r;
}

}  // namespace cove::network
