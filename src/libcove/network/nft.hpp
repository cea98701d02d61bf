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
// nft 1.0.6 takes table names only as bare identifiers (a "..."-quoted name is a syntax error);
// "cove-" followed by [A-Za-z0-9_.-] always is one, so names and keys of that alphabet (what
// validate_name allows, and runtime keys) are used as they are. Anything else (which cove never
// passes) becomes its safe characters plus "-" and 16 hex digits of its SHA-256: still
// deterministic, so comparing list_tables() with container_table(key) keeps working.
std::string container_table(const std::string& key);
std::string network_table(const std::string& name);

// Interface names are written as nft strings (`iifname "veth1"`), which cannot hold `"` or
// `\`. A builder given such a name (Linux allows both) fails closed: its ruleset carries a line
// nft rejects, naming the interface, instead of a rule that would match another one. Callers
// may check names first: EINVAL naming the name and what is allowed.
Result<void> check_nft_ifname(const std::string& ifname);

// The IPv6 link-local address the kernel derives from `mac` (addrgenmode eui64): fe80::/64 plus
// the modified EUI-64 (MAC with ff:fe in the middle and the universal/local bit flipped).
IpAddress eui64_link_local(const MacAddress& mac);

// --- Rule builders: each returns a complete ruleset text that (re)creates its table(s): "table
// F T {}; delete table F T; table F T { ... }" so loading it twice gives the same result.

// Anti-spoofing for the bridge ports of one container (family bridge, hook prerouting): frames
// arriving from `host_ifname` with another source MAC, another source IPv4/IPv6, or ARP / NDP
// (neighbour advertisement) claiming another MAC or address are dropped. DHCPv4 discover and
// request (source 0.0.0.0, UDP 68 -> 67), DHCPv6 and IPv6 link-local and DAD (source ::) pass.
// An empty `ipv4`/`ipv6` list with `filter_ip` blocks that family except DHCP and link-local.
// In detail, with `filter_mac`: ether saddr and the ARP sender MAC must be `mac`. With
// `filter_ip`: VLAN-tagged frames are dropped (their inner IP header would escape the checks);
// ARP must be Ethernet/IPv4 with sender IP 0.0.0.0 (probes) or one of `ipv4`; IPv4 must come
// from `ipv4` (or be a DHCP client's 0.0.0.0:68 -> :67); IPv6 must come from `ipv6` or the
// EUI-64 link-local of `mac`, or from :: for DAD, MLD and router solicitations only, or be
// DHCPv6 (546 -> 547) from a link-local; a neighbour advertisement's target must be one of
// those addresses. Frames to the port and from other ports are untouched. Other ethertypes
// (no IP addresses to spoof) pass once the MAC is right.
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
// The DNAT matches `fib daddr type local` (every address of the host, 127.0.0.1 included;
// broadcasts excluded), in prerouting and in output (priority -100, "dstnat": nft names that
// priority only for prerouting); postrouting masquerades DNATed connections whose source is a
// local address. A connection from 127.0.0.1 additionally needs `route_localnet` on the link
// towards the container (the bridge, or the host-side veth): without it the kernel refuses a
// loopback source on (and its replies from) a non-loopback link. See set_route_localnet.
// route_localnet also lets packets sent *to* 127.0.0.0/8 in from that link, which would expose
// the host's loopback services to the containers (CVE-2020-8558), so the table also drops, in
// prerouting before NAT (priority -150), any packet arriving on a link other than `lo` with a
// destination in 127.0.0.0/8 (what the kernel does anyway where route_localnet is off).
// Not handled: hairpin (a container reaching its own or a neighbour's forward through the
// host's address gets replies straight from the neighbour, not through the host).
// A `proto` other than "tcp"/"udp" or a non-IPv4 `container` makes the ruleset fail to load.
std::string forward_rules(const std::string& table, const std::vector<Forward>& forwards);

// Sets net.ipv4.conf.IFNAME.route_localnet=1 in the namespace `netns_fd` (-1 = the caller's),
// which forward_rules needs for connections from 127.0.0.1 (see there). EINVAL for a name that
// is no interface name, ENOENT when the link does not exist.
Result<void> set_route_localnet(const std::string& ifname, int netns_fd = -1);

// NAT for a managed network (family inet): masquerade what leaves `subnet` for anywhere else
// through any link but `bridge`, and accept forwarding to and from the bridge.
// An nft `accept` ends only this table's chain: a drop (a policy or a rule) in another table's
// forward hook, as Docker's iptables FORWARD policy DROP, still drops. The caller enables
// forwarding (net.ipv4.ip_forward, net.ipv6.conf.all.forwarding).
std::string nat_rules(const std::string& table, const std::string& bridge, const std::vector<IpPrefix>& subnets);

// The ruleset that deletes `tables` (absent ones included).
std::string delete_rules(const std::vector<NftTable>& tables);

}  // namespace cove::network
