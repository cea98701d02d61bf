// ContainerNetwork: the host side of one container's NICs ([network.NAME] sections). The
// monitor (running as host root) owns it for the container's life:
//   setup(netns) at start, between the child's `child-started` and `parent-configured`: makes
//     each NIC (a veth pair on its bridge or managed network, a macvlan, a moved physical NIC)
//     straight into the container's network namespace, sets the inside's MAC, MTU, addresses and
//     default routes (before init runs, so any init sees them), then the host-side rate limits
//     (htb, ifb) and nftables tables (anti-spoofing, port forwards);
//   set_rate / attach / detach while it runs (cove-network set-rate, attach, detach);
//   teardown() when it ends: every link, ifb, table, DNS entry it made goes; a physical NIC goes
//     back to the host under its own name.
// Whatever the host side is made of is recorded first (host_links(), the container's nft table)
// so that a monitor killed with SIGKILL, or a host reboot, leaves nothing that the next start
// (remove_leftovers) cannot find. The container's root holds CAP_NET_ADMIN only inside its own
// namespace: nothing it can reach there undoes a limit or a filter.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "config/nic_config.hpp"
#include "network/announce.hpp"
#include "network/link.hpp"
#include "network/netlink.hpp"
#include "network/traffic.hpp"

namespace cove::network {

// What one NIC is on the host, for status and for cleanup.
struct NicRuntime {
  config::NicConfig nic;     // with the hwaddr and link actually used
  std::string host_ifname;   // veth host end (or the physical device's host name); "" for macvlan
  std::string ifb;           // the ifb its egress is shaped through, "" = none
  std::string bridge;        // the bridge the host end joined, "" = none
  std::string network;       // the managed network it is on, "" = none
  bool registered_host = false;  // its static IPv4 is in the managed network's DNS
};

struct NicStatus {
  std::string name, host_ifname, bridge, type;
  MacAddress mac;
  std::vector<IpPrefix> addresses;  // inside
  uint64_t rate_ingress = 0, rate_egress = 0;
  LinkCounters counters;            // host end's view: rx = from the container
  ShaperCounters ingress_shaper, egress_shaper;
};

class ContainerNetwork {
 public:
  ContainerNetwork() = default;
  // `key` names the container's nft table; `hostname` goes into a managed network's DNS.
  ContainerNetwork(std::vector<config::NicConfig> nics, std::string key, std::string hostname);

  bool empty() const { return planned_.empty() && made_.empty(); }
  // Host-side link names this network will make (veth ends, ifbs), known before setup() so the
  // caller can record them.
  std::vector<std::string> host_links() const;

  // Before the container exists: each NIC's link is resolved (a managed network is brought up,
  // its gateway and name server taken for `auto`), so that a wrong link fails the start early.
  Result<void> prepare();
  // /etc/resolv.conf for the NICs' `dns` (after prepare()); "" when no NIC names a server.
  std::string resolv_conf() const;

  // Makes every NIC for the container whose network namespace is `netns_fd` (kept open until
  // teardown). On failure, what was made is removed again.
  Result<void> setup(int netns_fd);
  // Idempotent; logs what it could not remove. DHCP leases of the NICs on managed networks are
  // released, unless `keep_leases` (a checkpoint: the restored container still holds them).
  void teardown(bool keep_leases = false);

  // Restore (CRIU recreates the veths): the `external` strings naming each planned veth's host
  // end ("veth[eth0]:cv0123456789"), and, once CRIU made the namespace `netns_fd` with them, the
  // host side: bridge, up, rates, rules, DNS. Planned NICs other than veths are refused.
  std::vector<std::string> criu_externals() const;
  Result<void> adopt_restored(int netns_fd);
  std::vector<config::NicConfig> planned_nics() const;
  // After a restore, once the network is unlocked: each veth NIC's addresses (as its interface
  // holds them now, static or restored) are announced on its segment from its new host end, in
  // the background (network/announce.hpp); teardown() ends the rounds still due.
  Result<void> announce();
  // The veths' host ends down (no carrier inside: nothing in or out, no ACK, no reset from the
  // container's kernel) or up again. For a frozen container whose copy may run elsewhere.
  Result<void> set_host_ends_up(bool up);

  Result<void> set_rate(const std::string& nic, std::optional<uint64_t> ingress, std::optional<uint64_t> egress);
  // The container's namespace, for a hot plug into a container that started without NICs.
  bool has_netns() const { return netns_.valid(); }
  Result<void> keep_netns(int netns_fd);
  // `record` hears the host links (host_links()) once the new NIC's are chosen, before it is made.
  Result<void> attach(const config::NicConfig& nic, const std::function<void(const std::vector<std::string>&)>& record);
  Result<void> detach(const std::string& nic);
  Result<std::vector<NicStatus>> status();

  const std::vector<NicRuntime>& nics() const { return made_; }

 private:
  static Result<NetlinkSocket> host_socket_or_error();
  Result<void> make_nic(NicRuntime& rt);
  Result<void> configure_inside(const NicRuntime& rt);
  Result<void> apply_rates(NicRuntime& rt);
  Result<void> apply_rules();
  void register_name(NicRuntime& rt);
  void remove_nic(NicRuntime& rt, bool keep_leases = false);

  NicRuntime plan_nic(const config::NicConfig& nic) const;

  std::vector<NicRuntime> planned_;  // host names chosen, nothing made yet
  std::vector<NicRuntime> made_;     // made (in the order made)
  std::string key_;
  std::string hostname_;
  UniqueFd netns_;
  bool rules_loaded_ = false;  // the container's nft tables exist (filters or forwards)
  Announcer announcer_;
};

// Removes what a container's earlier network left behind (its monitor was killed, the host
// rebooted): the recorded host links, its nft tables. Idempotent.
void remove_leftovers(const std::string& key, const std::vector<std::string>& host_links);

// The container's nft table name (network/nft.hpp container_table).
std::string container_rules_table(const std::string& key);

}  // namespace cove::network
