// Firewall rules through nftables' `nft -f -` (Debian has libnftables only as a shared library,
// which the statically linked tools and monitor cannot use; doc/design/network.md). Each owner
// (a container, a managed network) has its own tables, named by Tables below, that hold all its
// rules: applying a ruleset replaces those tables atomically (one nft transaction), and removing
// an owner is deleting its tables. Nothing else on the host is touched. Rule texts are built by
// the *_rules() functions, pure and unit-tested; run_nft loads them. Mechanism only: the caller
// passes names, addresses and ports, never a config.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/ip_address.hpp"
#include "base/result.hpp"

namespace cove::network {

// Runs `nft -f -` with `ruleset` on stdin, in the network namespace `netns_fd` (-1 = the
// caller's). The error carries nft's own message.
Result<void> run_nft(const std::string& ruleset, int netns_fd = -1);
// `nft -j list tables`: "family name" of every table whose name starts with `prefix`.
struct NftTable {
  std::string family;  // "bridge", "ip", "ip6", "inet"
  std::string name;
};
Result<std::vector<NftTable>> list_tables(const std::string& prefix, int netns_fd = -1);
// Deletes the tables (absent ones are fine), in one transaction.
Result<void> delete_tables(const std::vector<NftTable>& tables, int netns_fd = -1);

// Table names: "cove-c-<KEY>" for a container (KEY = the container's runtime key), "cove-n-<NAME>"
// for a managed network. Every cove table starts with "cove-".
std::string container_table(const std::string& key);
std::string network_table(const std::string& name);

// --- Rule builders: each returns a complete ruleset text that (re)creates its table(s): "table
// F T {}; delete table F T; table F T { ... }" so loading it twice gives the same result.

// Anti-spoofing for the bridge ports of one container (family bridge, hook prerouting): frames
// arriving from `host_ifname` with another source MAC, another source IPv4/IPv6, or ARP / NDP
// (neighbour advertisement) claiming another MAC or address are dropped. DHCPv4 discover and
// request (source 0.0.0.0, UDP 68 -> 67), DHCPv6 and IPv6 link-local and DAD (source ::) pass.
// An empty `ipv4`/`ipv6` list with `filter_ip` blocks that family except DHCP and link-local.
struct PortFilter {
  std::string host_ifname;
  MacAddress mac;
  bool filter_mac = true;
  bool filter_ip = true;
  std::vector<IpAddress> ipv4;
  std::vector<IpAddress> ipv6;  // the link-local address derived from `mac` is always allowed
};
std::string antispoof_rules(const std::string& table, const std::vector<PortFilter>& ports);

// Port forwards of one container (family ip): HOST_PORT on any of the host's local addresses
// -> CONTAINER:CT_PORT, from outside (prerouting) and from the host itself (output), with
// masquerade for connections the host makes to itself so replies come back.
struct Forward {
  std::string proto = "tcp";  // "tcp" or "udp"
  uint16_t host_port = 0;
  IpAddress container;        // IPv4
  uint16_t container_port = 0;
};
std::string forward_rules(const std::string& table, const std::vector<Forward>& forwards);

// NAT for a managed network (family inet): masquerade what leaves `subnet` for anywhere else
// through any link but `bridge`, and accept forwarding to and from the bridge.
std::string nat_rules(const std::string& table, const std::string& bridge, const std::vector<IpPrefix>& subnets);

// The ruleset that deletes `tables` (absent ones included).
std::string delete_rules(const std::vector<NftTable>& tables);

}  // namespace cove::network
