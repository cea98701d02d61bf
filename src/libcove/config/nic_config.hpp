// NicConfig: one `[network.NAME]` section of a container config, typed. NAME is the interface
// name inside the container. Filled by keys_network.cpp; the monitor's network code
// (network/container_network) makes the host side from it and configures the inside.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/ip_address.hpp"

namespace cove::config {

enum class NicType { kVeth, kMacvlan, kIpvlan, kPhys };
const char* nic_type_name(NicType t);  // "veth", ...

// `ipv4` / `ipv6`: none (unset), a static ADDR/PREFIX set from the host before init, or `dhcp`
// (the container's own client asks; for IPv6 that also means SLAAC).
struct NicAddress {
  enum class Mode { kNone, kStatic, kDhcp };
  Mode mode = Mode::kNone;
  IpPrefix address;  // kStatic

  bool is_static() const { return mode == Mode::kStatic; }
  bool operator==(const NicAddress&) const = default;
};

// `ipv4.gateway` / `ipv6.gateway`: none, `auto` (the managed network's bridge address), or an
// address on the NIC's network. Set as the default route before init.
struct NicGateway {
  enum class Mode { kNone, kAuto, kAddress };
  Mode mode = Mode::kNone;
  IpAddress address;  // kAddress

  bool operator==(const NicGateway&) const = default;
};

// `forward = tcp:HOSTPORT:CTPORT`: the host's HOSTPORT forwarded to the NIC's static IPv4.
struct PortForward {
  enum class Proto { kTcp, kUdp };
  Proto proto = Proto::kTcp;
  uint16_t host_port = 0;
  uint16_t container_port = 0;

  bool operator==(const PortForward&) const = default;
};
const char* proto_name(PortForward::Proto p);  // "tcp" / "udp"

struct NicConfig {
  std::string name;                 // inside the container: the section's NAME ("eth0")
  NicType type = NicType::kVeth;    // `type`
  std::string link;                 // `link`: bridge, managed network, or parent/physical device
  std::optional<MacAddress> hwaddr; // `hwaddr`: generated at the first start and written back
  unsigned mtu = 0;                 // `mtu`: 0 = the link's (or the kernel default)
  NicAddress ipv4, ipv6;            // `ipv4`, `ipv6`
  NicGateway ipv4_gateway, ipv6_gateway;  // `ipv4.gateway`, `ipv6.gateway`
  std::vector<IpAddress> dns;       // `dns`: name servers written to the container's /etc/resolv.conf
  uint64_t rate_ingress = 0;        // `rate.ingress` bits/s into the container, 0 = unlimited
  uint64_t rate_egress = 0;         // `rate.egress` bits/s out of the container, 0 = unlimited
  std::optional<bool> mac_filtering;  // `security.mac_filtering`; unset = the default (see below)
  std::optional<bool> ip_filtering;   // `security.ip_filtering`
  std::vector<PortForward> forwards;  // repeatable `forward`
  std::string macvlan_mode = "bridge";  // `macvlan.mode`: bridge | vepa | private | passthru
  std::string where;                // "FILE:LINE" of the section header, for messages

  // The defaults of the issue: both filters on for a bridged veth with a static address.
  bool filters_mac() const { return mac_filtering.value_or(type == NicType::kVeth && (ipv4.is_static() || ipv6.is_static())); }
  bool filters_ip() const { return ip_filtering.value_or(type == NicType::kVeth && (ipv4.is_static() || ipv6.is_static())); }
  bool operator==(const NicConfig&) const = default;
};

}  // namespace cove::config
