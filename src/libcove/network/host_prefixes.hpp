// The address space a namespace already uses: every interface address (as its network) and every
// unicast route but the default ones, read through libnl-route-3, each named by what holds it.
// A managed network's subnet must overlap none of them (nor another managed network): the host
// would route the subnet elsewhere, or two bridges would claim it. Also the choice of the
// default network's subnet, a pure function of what is taken. Mechanism only.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/ip_address.hpp"
#include "base/result.hpp"
#include "network/netlink.hpp"

namespace cove::network {

struct TakenPrefix {
  IpPrefix prefix;    // a network: host bits cleared
  std::string owner;  // "address `10.0.0.2/24` of `eth0`", "route `10.8.0.0/16` via `tun0`", ...
};

// Addresses (but link-local ones) and routes of every table (but `local`, default routes,
// link-local and multicast ones) of the socket's namespace.
Result<std::vector<TakenPrefix>> host_prefixes(NetlinkSocket& sock);

// The first entry of `taken` that overlaps `subnet`, or nullptr.
const TakenPrefix* find_overlap(const IpPrefix& subnet, const std::vector<TakenPrefix>& taken);

// 10.0.N.1/24 for the first N in 3..254 whose 10.0.N.0/24 overlaps nothing in `taken` (lxc-net's
// and Incus's habit of 10.0.3.0/24 first); nullopt when all are taken.
std::optional<IpPrefix> choose_default_subnet(const std::vector<TakenPrefix>& taken);

}  // namespace cove::network
