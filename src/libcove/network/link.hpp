// Links: create, move, change, delete and list network interfaces (veth pairs, macvlan, ipvlan,
// bridges, ifb devices, physical NICs) through libnl-route-3. Every call names a link by its
// name in the socket's namespace. Deleting a link that is already gone succeeds (cleanup and
// reconciliation call it blindly). Mechanism only: no container or config knowledge.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/ip_address.hpp"
#include "base/result.hpp"
#include "network/netlink.hpp"

namespace cove::network {

// An interface name the kernel accepts: 1 to 15 bytes, not "." or "..", without '/', ':' or
// whitespace. Every call below checks the names it is given with this first.
Result<void> check_ifname(const std::string& name);

struct LinkInfo {
  int index = 0;
  std::string name;
  std::string kind;       // "veth", "bridge", "macvlan", "ifb", "" for a physical NIC or lo
  MacAddress mac;
  unsigned mtu = 0;
  bool up = false;        // IFF_UP
  int master_index = 0;   // the bridge it is a port of, 0 = none
};

// A veth pair: `host_name` in the socket's namespace, `peer_name` created directly in the
// namespace `peer_netns_fd` (so the name is checked there, never clashes on the host).
// Both ends stay down.
struct VethSpec {
  std::string host_name;
  std::string peer_name;
  int peer_netns_fd = -1;
  std::optional<MacAddress> peer_mac;
  unsigned mtu = 0;  // 0 = kernel default, else both ends
};
Result<void> create_veth(NetlinkSocket& host, const VethSpec& spec);

// A macvlan (or, with kind "ipvlan", an ipvlan) on `parent` (in the socket's namespace),
// created directly in `netns_fd` as `name`. mode: bridge | vepa | private | passthru (macvlan);
// l2 | l3 | l3s (ipvlan). An ipvlan on a kernel without CONFIG_IPVLAN fails with an error that
// says the kernel lacks ipvlan.
struct SubLinkSpec {
  std::string kind = "macvlan";  // "macvlan" or "ipvlan"
  std::string parent;
  std::string name;
  std::string mode = "bridge";
  int netns_fd = -1;
  std::optional<MacAddress> mac;  // macvlan only
  unsigned mtu = 0;
};
Result<void> create_sublink(NetlinkSocket& host, const SubLinkSpec& spec);

Result<void> create_bridge(NetlinkSocket& sock, const std::string& name);
Result<void> create_ifb(NetlinkSocket& sock, const std::string& name);
// Every create_* fails with EEXIST when a name is taken (the kernel's check, in the namespace
// the link is created in).

// Moves `name` into `netns_fd`, renamed to `new_name` there (a physical NIC handed over).
Result<void> move_link(NetlinkSocket& sock, const std::string& name, int netns_fd, const std::string& new_name);

// What to change on a link; unset fields are left alone. (The `= {}` lets callers write
// designated initializers, {.up = true}, without gcc 12's missing-field-initializers warning.)
struct LinkChange {
  std::optional<bool> up = {};
  std::optional<unsigned> mtu = {};
  std::optional<MacAddress> mac = {};
  std::optional<std::string> name = {};
  std::optional<std::string> master = {};  // a bridge's name; "" = leave the bridge it is in
};
Result<void> change_link(NetlinkSocket& sock, const std::string& name, const LinkChange& change);

Result<void> delete_link(NetlinkSocket& sock, const std::string& name);  // gone already = success
Result<std::optional<LinkInfo>> find_link(NetlinkSocket& sock, const std::string& name);
Result<std::vector<LinkInfo>> list_links(NetlinkSocket& sock);

struct LinkCounters {
  uint64_t rx_bytes = 0, tx_bytes = 0, rx_packets = 0, tx_packets = 0, rx_dropped = 0, tx_dropped = 0;
};
Result<LinkCounters> link_counters(NetlinkSocket& sock, const std::string& name);

}  // namespace cove::network
