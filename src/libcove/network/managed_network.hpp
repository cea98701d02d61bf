// Managed networks, what LXC's lxc-net and Incus's managed bridges give: a Linux bridge with an
// address, NAT to the host's uplink (nftables), DHCP and DNS for the containers on it (dnsmasq).
// Owns: the config files (network_dir()/NAME.conf, section [network]), the run-time state under
// network_rundir()/NAME/ (lock, dnsmasq's pid, lease, log and hosts files, the loaded NAT
// ruleset), and the host objects of a network: the bridge NAME, the nft table `cove-n-NAME`, one
// dnsmasq. Callers: cove-network, and the container's network code (ensure_network_up before it
// attaches a NIC, register_host/unregister_host for its name).
//
// Locking (doc/design/network.md): everything that changes a network's host objects or run
// files holds an flock on network_rundir()/NAME/lock; creating and deleting config files holds
// network_rundir()/.lock (name clash and subnet overlap checks are then race-free).
//
// DNS: dnsmasq answers for the local domain `cove` (kNetworkDomain): NAME and NAME.cove for
// DHCP clients that send their host name, and for the names of register_host. It listens on the
// bridge's addresses only (port 53 and DHCP), never on the host's other addresses.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "base/ip_address.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace cove::network {

inline constexpr const char* kDefaultNetwork = "cove0";
inline constexpr const char* kNetworkDomain = "cove";

struct ManagedNetwork {
  std::string name;
  std::string bridge;            // = name
  std::optional<IpPrefix> ipv4;  // the bridge's address with the prefix, e.g. 10.0.3.1/24
  std::optional<IpPrefix> ipv6;  // e.g. fd42:0:0:3::1/64
  bool nat = true;
  bool dhcp = true;
  bool operator==(const ManagedNetwork&) const = default;
};

// $COVE_NETWORK_DIR, else the host config's `network_dir` (/etc/cove/networks).
std::string network_dir();
// $COVE_NETWORK_RUNDIR, else RUNTIME_DIR/networks (the host config's `runtime_dir`, /run/cove);
// a network's state is in its NAME/ below.
std::string network_rundir();
std::string network_file(const std::string& name);     // network_dir()/NAME.conf
std::string network_run_dir(const std::string& name);  // network_rundir()/NAME

// Names are bridge names: 1-15 characters of [A-Za-z0-9_-], not starting with '-'.
Result<void> validate_network_name(const std::string& name);

// Loads NAME.conf. ENOENT "no network `NAME`" when there is none, except for kDefaultNetwork,
// which is then created (create_default_network). A bad file is EINVAL naming FILE:LINE.
Result<ManagedNetwork> load_network(const std::string& name);
// Whether `name` is a managed network: NAME.conf exists, or it is kDefaultNetwork.
bool is_managed_network(const std::string& name);
// Writes the config file. Refuses a name clash (a network of that name, or a host link that is
// not a managed network's bridge) and a subnet that overlaps an address or route of the host or
// another managed network's subnet; the error names the clash.
Result<void> create_network(const ManagedNetwork&);
// The same with `ipv4` set to the first free 10.0.N.1/24 (N from 3 up: choose_default_subnet,
// chosen under the lock, so two creates never pick one subnet); returns what was written.
Result<ManagedNetwork> create_network_auto_ipv4(const ManagedNetwork&);
// The default network: NAME with an automatic ipv4, no IPv6, NAT and DHCP. An existing file is
// loaded instead (a racing first use).
Result<ManagedNetwork> create_default_network(const std::string& name = kDefaultNetwork);
// Brings the network down and removes its file. While the bridge has ports (containers on it)
// EBUSY naming them, unless `force`.
Result<void> delete_network(const std::string& name, bool force = false);
Result<std::vector<std::string>> list_networks();  // sorted names of the config files

// The lock of one network (an flock on network_rundir()/NAME/lock, waiting up to 30 s, then
// EBUSY). Held by ensure_network_up, bring_network_down, reconcile_network, register_host and
// unregister_host; a caller that attaches a NIC holds it across ensure_network_up_locked and the
// attach, so that no one brings the network down in between. Not re-entrant: an flock taken
// twice in one process conflicts with itself.
class NetworkLock {
 public:
  static Result<NetworkLock> acquire(const std::string& name);
  const std::string& name() const { return name_; }

 private:
  NetworkLock(std::string name, UniqueFd fd) : name_(std::move(name)), fd_(std::move(fd)) {}
  std::string name_;
  UniqueFd fd_;
};

// Idempotent, under the network's lock: reconcile, then the bridge exists and is up with its
// addresses; with `nat` the nft table is loaded and net.ipv4.ip_forward (and with ipv6
// net.ipv6.conf.all.forwarding) is 1, as lxc-net does; with `dhcp` our dnsmasq runs (a live one
// started with other options is restarted). A second call changes nothing.
Result<void> ensure_network_up(const ManagedNetwork&);
Result<void> ensure_network_up_locked(const ManagedNetwork&, const NetworkLock&);
// Stops dnsmasq, deletes the nft table and the bridge, removes the run dir. Down already = success.
// Forwarding sysctls are left as they are (other networks may need them).
Result<void> bring_network_down(const std::string& name);
// After a host reboot or a crash: a stale pid file, a dnsmasq alive without its bridge or with
// other options, addresses the config no longer has, a NAT table with nat off... are made
// consistent (stopped or removed; ensure_network_up then adds what is missing).
Result<void> reconcile_network(const std::string& name);

// The hosts file of the network's dnsmasq: `hostname` (a DNS label) resolves to `address` in the
// network's domain. One entry per hostname and family (a second call replaces it). dnsmasq, when
// running, re-reads the file (SIGHUP).
Result<void> register_host(const std::string& network, const std::string& hostname, const IpAddress& address);
Result<void> unregister_host(const std::string& network, const std::string& hostname);  // absent = success

// Ends the DHCPv4 leases of `mac` on the network (a container's NIC that is gone): dnsmasq
// hears a DHCPRELEASE for each from Debian's `dhcp_release` (dnsmasq-utils), sent on the bridge,
// and forgets it. Nothing to release, or no dnsmasq running: success.
Result<void> release_leases(const std::string& network, const MacAddress& mac);

// The bridge address of `family` (AF_INET, AF_INET6): a container's default gateway.
std::optional<IpAddress> gateway_of(const ManagedNetwork&, int family);

// What list/show print.
struct DhcpLease {
  int64_t expiry = 0;  // seconds since the epoch, 0 = infinite
  std::string mac, address, hostname, client_id;
};
struct HostEntry {
  IpAddress address;
  std::string hostname;
  bool operator==(const HostEntry&) const = default;
};
struct NetworkStatus {
  bool up = false;                  // the bridge exists and is up
  std::vector<std::string> ports;   // links enslaved to the bridge
  std::optional<pid_t> dnsmasq_pid; // our dnsmasq, alive
  bool nat_loaded = false;          // the nft table exists
  std::vector<DhcpLease> leases;
  std::vector<HostEntry> hosts;
};
Result<NetworkStatus> network_status(const ManagedNetwork&);

}  // namespace cove::network
