// A managed network's config file (network_dir()/NAME.conf) as text: parsing with the config
// module's INI reader (so the syntax, comments and `include` are those of a container config),
// checking, and writing it back. Pure: no kernel calls, unit-tested.
//
//   [network]
//   ipv4 = 10.0.3.1/24 | none     the bridge address and prefix (/8 to /30)
//   ipv6 = fd42::1/64 | none      (/64 for dhcp: SLAAC)
//   nat = true | false            masquerade the subnets towards the host's other links
//   dhcp = true | false           dnsmasq: DHCPv4, router advertisements, DNS
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"
#include "network/managed_network.hpp"

namespace cove::network {

// Every problem of the text as "FILE:LINE: [network] KEY: what (allowed: ...)" (or "FILE: ..."
// for a rule across keys), joined by "\n" in one EINVAL. Missing keys keep ManagedNetwork's
// defaults (ipv4 and ipv6 none, nat and dhcp true).
Result<ManagedNetwork> parse_network_text(const std::string& text, const std::string& file_label,
                                          const std::string& name);
Result<ManagedNetwork> parse_network_file(const std::string& path, const std::string& name);
// The file's text; parse_network_text gives back the same network.
std::string format_network(const ManagedNetwork& net);

// A value of `ipv4`/`ipv6`: "none", or an interface address of the family that is usable on a
// bridge (not the network or broadcast address, prefix as above).
Result<std::optional<IpPrefix>> parse_network_address(const std::string& value, int family);
// Rules across keys ("dhcp needs an address", "ipv6 with dhcp needs /64"); empty when fine.
std::vector<std::string> check_network(const ManagedNetwork& net);

}  // namespace cove::network
