// Addresses and routes on a link, through libnl-route-3: what the host sets inside a
// container's namespace before init runs (static addresses, the default route). Mechanism only.
#pragma once

#include <string>
#include <vector>

#include "base/ip_address.hpp"
#include "base/result.hpp"
#include "network/netlink.hpp"

namespace cove::network {

// Adds `address` to `ifname` (IPv6 without duplicate address detection, so it is usable at
// once). An address already there is success.
Result<void> add_address(NetlinkSocket& sock, const std::string& ifname, const IpPrefix& address);
// An address that is not there is success (cleanup calls it blindly).
Result<void> delete_address(NetlinkSocket& sock, const std::string& ifname, const IpPrefix& address);
// Every address of `ifname`, both families, the kernel's link-local ones included.
Result<std::vector<IpPrefix>> addresses_of(NetlinkSocket& sock, const std::string& ifname);

// The default route of the gateway's family through `ifname`. Replaces an existing one.
Result<void> set_default_route(NetlinkSocket& sock, const std::string& ifname, const IpAddress& gateway);

// sysctl-like knobs of the socket's namespace are not netlink: see write_net_sysctl below.
// Writes /proc/sys/net/... as seen from the namespace `netns_fd` (-1 = the caller's), e.g.
// ("ipv4/ip_forward", "1") or ("ipv6/conf/eth0/accept_dad", "0"). A key is a relative path
// without empty, "." or ".." components (EINVAL otherwise).
Result<void> write_net_sysctl(int netns_fd, const std::string& key, const std::string& value);
Result<std::string> read_net_sysctl(int netns_fd, const std::string& key);

}  // namespace cove::network
