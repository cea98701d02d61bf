// The [network.NAME] key table and its parsers (see keys_network.hpp).
#include "config/keys_network.hpp"

#include <algorithm>
#include <cctype>

#include "base/strings.hpp"

namespace cove::config {

const char* nic_type_name(NicType t) {
  switch (t) {
    case NicType::kVeth: return "veth";
    case NicType::kMacvlan: return "macvlan";
    case NicType::kIpvlan: return "ipvlan";
    case NicType::kPhys: return "phys";
  }
  return "?";
}

const char* proto_name(PortForward::Proto p) { return p == PortForward::Proto::kTcp ? "tcp" : "udp"; }

namespace {

using Strings = std::vector<std::string>;
using N = NicConfig;

Error bad(const std::string& what) { return Error::invalid(what); }
std::string q(std::string_view v) { return "`" + std::string(v) + "`"; }
Strings one(std::string v) { return Strings{std::move(v)}; }

template <auto F>
void reset(N& n) { n.*F = NicConfig{}.*F; }

Result<void> parse_type(N& n, const std::string& v) {
  for (NicType t : {NicType::kVeth, NicType::kMacvlan, NicType::kIpvlan, NicType::kPhys})
    if (v == nic_type_name(t)) {
      n.type = t;
      return {};
    }
  return bad(q(v) + " is not a NIC type");
}
Strings format_type(const N& n) { return one(nic_type_name(n.type)); }

bool is_link_name(std::string_view v) {
  return !v.empty() && v.size() <= 15 && v != "." && v != ".." &&
         std::none_of(v.begin(), v.end(), [](unsigned char ch) { return ch == '/' || ch == ':' || ch == '%' || std::isspace(ch); });
}

Result<void> parse_link(N& n, const std::string& v) {
  if (!is_link_name(v)) return bad(q(v) + " is not an interface or network name");
  n.link = v;
  return {};
}
Strings format_link(const N& n) { return n.link.empty() ? Strings{} : one(n.link); }

Result<void> parse_hwaddr(N& n, const std::string& v) {
  auto mac = MacAddress::parse(v);
  if (!mac) return bad(q(v) + " is not a MAC address");
  if (!mac->is_unicast() || mac->is_zero()) return bad(q(v) + " is not a unicast address");
  n.hwaddr = *mac;
  return {};
}
Strings format_hwaddr(const N& n) { return n.hwaddr ? one(n.hwaddr->str()) : Strings{}; }

Result<void> parse_mtu(N& n, const std::string& v) {
  auto m = parse_uint(v);
  if (!m || *m < 68 || *m > 65535) return bad(q(v) + " is not an MTU");
  n.mtu = static_cast<unsigned>(*m);
  return {};
}
Strings format_mtu(const N& n) { return n.mtu ? one(std::to_string(n.mtu)) : Strings{}; }

template <auto F, int kFamily>
Result<void> parse_address(N& n, const std::string& v) {
  if (v == "dhcp") {
    (n.*F).mode = NicAddress::Mode::kDhcp;
    return {};
  }
  auto p = IpPrefix::parse(v);
  if (!p || p->address.family != kFamily)
    return bad(q(v) + " is not an " + (kFamily == AF_INET ? "IPv4" : "IPv6") + " ADDRESS/PREFIX");
  if (p->address.is_unspecified() || p->prefix == 0) return bad(q(v) + " is not a host address");
  (n.*F).mode = NicAddress::Mode::kStatic;
  (n.*F).address = *p;
  return {};
}
template <auto F>
Strings format_address(const N& n) {
  const NicAddress& a = n.*F;
  if (a.mode == NicAddress::Mode::kDhcp) return one("dhcp");
  if (a.mode == NicAddress::Mode::kStatic) return one(a.address.str());
  return {};
}

template <auto F, int kFamily>
Result<void> parse_gateway(N& n, const std::string& v) {
  if (v == "auto") {
    (n.*F).mode = NicGateway::Mode::kAuto;
    return {};
  }
  auto a = IpAddress::parse(v);
  if (!a || a->family != kFamily) return bad(q(v) + " is not an " + (kFamily == AF_INET ? "IPv4" : "IPv6") + " address");
  (n.*F).mode = NicGateway::Mode::kAddress;
  (n.*F).address = *a;
  return {};
}
template <auto F>
Strings format_gateway(const N& n) {
  const NicGateway& g = n.*F;
  if (g.mode == NicGateway::Mode::kAuto) return one("auto");
  if (g.mode == NicGateway::Mode::kAddress) return one(g.address.str());
  return {};
}

Result<void> parse_dns(N& n, const std::string& v) {
  std::vector<IpAddress> servers;
  for (const auto& word : split_ws(v)) {
    auto a = IpAddress::parse(word);
    if (!a) return bad(q(word) + " is not an IP address");
    servers.push_back(*a);
  }
  if (servers.empty()) return bad("no address given");
  n.dns = std::move(servers);
  return {};
}
Strings format_dns(const N& n) {
  Strings words;
  for (const auto& a : n.dns) words.push_back(a.str());
  return words.empty() ? Strings{} : one(join(words, " "));
}

template <auto F>
Result<void> parse_rate_field(N& n, const std::string& v) {
  auto r = parse_rate(v);
  if (!r) return bad(q(v) + " is not a rate");
  n.*F = *r;
  return {};
}
template <auto F>
Strings format_rate_field(const N& n) { return n.*F ? one(format_rate(n.*F)) : Strings{}; }

template <auto F>
Result<void> parse_filter(N& n, const std::string& v) {
  auto b = parse_bool(v);
  if (!b) return bad(q(v) + " is not a boolean");
  n.*F = *b;
  return {};
}
template <auto F>
Strings format_filter(const N& n) { return (n.*F) ? one(*(n.*F) ? "true" : "false") : Strings{}; }

Result<uint16_t> parse_port(const std::string& v) {
  auto p = parse_uint(v);
  if (!p || *p == 0 || *p > 65535) return bad(q(v) + " is not a port (1-65535)");
  return static_cast<uint16_t>(*p);
}

Result<void> parse_forward(N& n, const std::string& v) {
  auto parts = split(v, ':');
  if (parts.size() != 3) return bad(q(v) + " is not PROTO:HOSTPORT:CTPORT");
  PortForward f;
  if (parts[0] == "tcp") f.proto = PortForward::Proto::kTcp;
  else if (parts[0] == "udp") f.proto = PortForward::Proto::kUdp;
  else return bad(q(parts[0]) + " is not tcp or udp");
  auto host = parse_port(parts[1]);
  if (!host) return std::move(host).error();
  auto ct = parse_port(parts[2]);
  if (!ct) return std::move(ct).error();
  f.host_port = *host;
  f.container_port = *ct;
  n.forwards.push_back(f);
  return {};
}
Strings format_forwards(const N& n) {
  Strings out;
  for (const auto& f : n.forwards)
    out.push_back(std::string(proto_name(f.proto)) + ":" + std::to_string(f.host_port) + ":" + std::to_string(f.container_port));
  return out;
}

Result<void> parse_macvlan_mode(N& n, const std::string& v) {
  if (v != "bridge" && v != "vepa" && v != "private" && v != "passthru") return bad(q(v) + " is not a macvlan mode");
  n.macvlan_mode = v;
  return {};
}
Strings format_macvlan_mode(const N& n) { return one(n.macvlan_mode); }

// clang-format off
constexpr NicKeySpec kNicKeys[] = {
{"type", "veth | macvlan | ipvlan | phys", "veth", false,
 "The kind of interface. veth: a pair whose host end joins the bridge or managed network named by "
 "link. macvlan and ipvlan: a child of the host device link, made directly in the container. phys: the "
 "host device link itself moves into the container (and back to the host when it stops). ipvlan needs "
 "a kernel built with CONFIG_IPVLAN.",
 parse_type, format_type, reset<&N::type>},
{"link", "NAME (a bridge, a managed network, or a host device)", "", false,
 "For veth: the host bridge to join, or a managed network (cove-network(1)), which is brought up when "
 "the first container needs it; empty leaves the host end unattached. For macvlan and ipvlan: the "
 "parent device. For phys: the device to move into the container.",
 parse_link, format_link, reset<&N::link>},
{"hwaddr", "XX:XX:XX:XX:XX:XX (unicast)", "generated at the first start and written into the config", false,
 "The MAC address inside the container. When unset, cove-start generates a random locally "
 "administered address and writes it into the config, so it survives restarts, checkpoint/restore "
 "and migration.",
 parse_hwaddr, format_hwaddr, reset<&N::hwaddr>},
{"mtu", "68..65535", "the link's", false, "The MTU of the NIC (both ends of a veth).",
 parse_mtu, format_mtu, reset<&N::mtu>},
{"ipv4", "ADDRESS/PREFIX | dhcp", "", false,
 "A static IPv4 address set from the host before init starts, or dhcp: the container's own DHCP "
 "client asks (a managed network's dnsmasq answers). Unset: no IPv4 address.",
 parse_address<&N::ipv4, AF_INET>, format_address<&N::ipv4>, reset<&N::ipv4>},
{"ipv6", "ADDRESS/PREFIX | dhcp", "", false,
 "A static IPv6 address set from the host before init starts (no duplicate address detection), or "
 "dhcp: left to the container (SLAAC or DHCPv6).",
 parse_address<&N::ipv6, AF_INET6>, format_address<&N::ipv6>, reset<&N::ipv6>},
{"ipv4.gateway", "ADDRESS | auto", "", false,
 "The IPv4 default route through this NIC, set before init starts. auto: the managed network's "
 "bridge address.",
 parse_gateway<&N::ipv4_gateway, AF_INET>, format_gateway<&N::ipv4_gateway>, reset<&N::ipv4_gateway>},
{"ipv6.gateway", "ADDRESS | auto", "", false, "The IPv6 default route, like ipv4.gateway.",
 parse_gateway<&N::ipv6_gateway, AF_INET6>, format_gateway<&N::ipv6_gateway>, reset<&N::ipv6_gateway>},
{"dns", "ADDRESS [ADDRESS...]", "on a managed network with DHCP: its bridge address (its dnsmasq)", false,
 "Name servers written to the container's /etc/resolv.conf before init starts (by the container's "
 "own setup, inside its mount namespace; a symlink there, such as systemd-resolved's, is left "
 "alone). Without dns and outside a managed network, resolv.conf is not touched.",
 parse_dns, format_dns, reset<&N::dns>},
{"rate.ingress", "RATE (e.g. 100mbit, 10mbps, 512kbit)", "unlimited", false,
 "The most traffic into the container through this NIC, enforced by traffic control on the host "
 "side of a veth (an htb shaper) where the container's root cannot change it. Changed live with "
 "cove-network set-rate.",
 parse_rate_field<&N::rate_ingress>, format_rate_field<&N::rate_ingress>, reset<&N::rate_ingress>},
{"rate.egress", "RATE", "unlimited", false,
 "The most traffic out of the container through this NIC (redirected on the host side through an "
 "ifb device and shaped there).",
 parse_rate_field<&N::rate_egress>, format_rate_field<&N::rate_egress>, reset<&N::rate_egress>},
{"security.mac_filtering", "true | false", "true for a veth with a static address, else false", false,
 "Drop frames from the container with another source MAC address, and ARP claiming another MAC "
 "(nftables bridge rules on the host end).",
 parse_filter<&N::mac_filtering>, format_filter<&N::mac_filtering>, reset<&N::mac_filtering>},
{"security.ip_filtering", "true | false", "true for a veth with a static address, else false", false,
 "Drop packets from the container with another source address, and ARP or NDP claiming another "
 "address; DHCP requests still pass.",
 parse_filter<&N::ip_filtering>, format_filter<&N::ip_filtering>, reset<&N::ip_filtering>},
{"forward", "tcp|udp:HOSTPORT:CTPORT", "", true,
 "Forwards HOSTPORT on the host's addresses (from outside and from the host itself) to CTPORT at "
 "the NIC's static IPv4 address (nftables DNAT).",
 parse_forward, format_forwards, reset<&N::forwards>},
{"macvlan.mode", "bridge | vepa | private | passthru", "bridge", false, "The macvlan mode.",
 parse_macvlan_mode, format_macvlan_mode, reset<&N::macvlan_mode>},
};
// clang-format on

}  // namespace

std::span<const NicKeySpec> nic_keys() { return kNicKeys; }

const NicKeySpec* find_nic_key(std::string_view key) {
  for (const auto& k : kNicKeys)
    if (k.key == key) return &k;
  return nullptr;
}

Result<void> validate_nic_name(std::string_view name) {
  if (!is_link_name(name)) return bad(q(name) + " is not an interface name (1-15 characters, no `/`, `:`, `%` or spaces)");
  if (name == "lo") return bad("`lo` is always there; name the NIC otherwise");
  return {};
}

NicConfig& nic_named(ContainerConfig& c, const std::string& name, const std::string& where) {
  for (auto& n : c.nics)
    if (n.name == name) return n;
  NicConfig n;
  n.name = name;
  n.where = where;
  c.nics.push_back(std::move(n));
  return c.nics.back();
}

namespace {

void check_nic(const ContainerConfig& c, const NicConfig& n, std::vector<std::string>& out) {
  std::string at = n.where + ": [network." + n.name + "] ";
  bool has_net = std::find(c.clone_ns.begin(), c.clone_ns.end(), Namespace::kNet) != c.clone_ns.end();
  if (!has_net) out.push_back(at + "a NIC needs the container's own network namespace (`net` in [namespaces] clone)");
  if (n.type != NicType::kVeth && n.link.empty())
    out.push_back(at + "link: " + nic_type_name(n.type) + " needs the host device it is made from");
  bool bridged_veth = n.type == NicType::kVeth;
  if (!bridged_veth && (n.rate_ingress || n.rate_egress))
    out.push_back(at + "rate.ingress/rate.egress: only a veth has a host end to shape");
  if (!bridged_veth && (n.mac_filtering.value_or(false) || n.ip_filtering.value_or(false)))
    out.push_back(at + "security.*_filtering: only a veth on a bridge can be filtered");
  if (!n.forwards.empty() && !bridged_veth)
    out.push_back(at + "forward: only a veth can be forwarded to (the host cannot reach a macvlan, ipvlan or phys NIC's address)");
  else if (!n.forwards.empty() && !n.ipv4.is_static())
    out.push_back(at + "forward: needs a static `ipv4` to forward to");
  if (n.ipv4_gateway.mode == NicGateway::Mode::kAddress && n.ipv4.is_static() &&
      !n.ipv4.address.contains(n.ipv4_gateway.address))
    out.push_back(at + "ipv4.gateway: `" + n.ipv4_gateway.address.str() + "` is not on `" + n.ipv4.address.str() + "`");
  if (n.ip_filtering.value_or(false) && !n.ipv4.is_static() && !n.ipv6.is_static())
    out.push_back(at + "security.ip_filtering: needs a static ipv4 or ipv6 to allow");
}

}  // namespace

Result<NicConfig> parse_nic_lines(const std::string& name, const std::vector<std::string>& lines,
                                  const ContainerConfig& existing) {
  COVE_TRY(validate_nic_name(name));
  ContainerConfig c = existing;
  if (std::any_of(c.nics.begin(), c.nics.end(), [&](const NicConfig& n) { return n.name == name; }))
    return Error(EEXIST, "the container has a NIC " + q(name) + " already");
  NicConfig& nic = nic_named(c, name, "[network." + name + "]");
  std::vector<std::string> errors;
  for (const auto& line : lines) {
    size_t eq = line.find('=');
    std::string key(trim(line.substr(0, eq)));
    const NicKeySpec* spec = eq == std::string::npos ? nullptr : find_nic_key(key);
    if (!spec) {
      errors.push_back(q(line) + " is not KEY = VALUE with a [network.NAME] key");
      continue;
    }
    if (auto r = spec->parse(nic, std::string(trim(line.substr(eq + 1)))); !r)
      errors.push_back(key + ": " + r.error().message() + " (allowed: " + std::string(spec->allowed) + ")");
  }
  NicConfig result = nic;
  if (errors.empty()) validate_nics(c, errors);
  if (!errors.empty()) return Error::invalid(join(errors, "\n"));
  return result;
}

void validate_nics(const ContainerConfig& c, std::vector<std::string>& errors) {
  for (const auto& n : c.nics) check_nic(c, n, errors);
  for (size_t i = 0; i < c.nics.size(); ++i)
    for (size_t j = i + 1; j < c.nics.size(); ++j) {
      const auto &a = c.nics[i], &b = c.nics[j];
      if (a.hwaddr && b.hwaddr && *a.hwaddr == *b.hwaddr)
        errors.push_back(b.where + ": [network." + b.name + "] hwaddr: the same as [network." + a.name + "]'s");
      for (const auto& fa : a.forwards)
        for (const auto& fb : b.forwards)
          if (fa.proto == fb.proto && fa.host_port == fb.host_port)
            errors.push_back(b.where + ": [network." + b.name + "] forward: host port " + std::to_string(fb.host_port) +
                             " is forwarded by [network." + a.name + "] too");
    }
}

}  // namespace cove::config
