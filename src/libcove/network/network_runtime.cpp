// Managed networks, the host side: bringing a network up (bridge, addresses, NAT, forwarding,
// dnsmasq) and down, reconciling what a reboot or a crash left, the hosts file, and the status
// that list/show print. Every change runs under the network's NetworkLock.
#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "network/address.hpp"
#include "network/dnsmasq.hpp"
#include "network/link.hpp"
#include "network/managed_network.hpp"
#include "network/netlink.hpp"
#include "network/network_file.hpp"
#include "network/nft.hpp"
#include "process/child_process.hpp"

namespace cove::network {
namespace {

// Debian's dnsmasq-utils (scripts/install-deps).
constexpr const char* kDhcpReleasePath = "/usr/bin/dhcp_release";

std::string nat_cache_file(const std::string& name) { return network_run_dir(name) + "/nat.nft"; }

// A MAC of its own for the bridge (locally administered, from the name): without one the kernel
// gives the bridge its lowest port's MAC, and the gateway's MAC would change under the
// containers whenever one with a lower MAC joins.
MacAddress bridge_mac(const std::string& name) {
  uint64_t h = fnv1a("cove-bridge:" + name);
  MacAddress m;
  m.bytes[0] = 0x02;
  for (size_t i = 1; i < 6; ++i) m.bytes[i] = static_cast<uint8_t>(h >> (8 * (i - 1)));
  return m;
}

std::vector<IpPrefix> subnets_of(const ManagedNetwork& net) {
  std::vector<IpPrefix> out;
  for (const auto& p : {net.ipv4, net.ipv6})
    if (p) out.push_back(p->network());
  return out;
}

// The nft tables of the network: exactly `cove-n-NAME` (list_tables matches a prefix, and
// `cove-n-NAME2` is another network's).
Result<std::vector<NftTable>> nat_tables(const std::string& name) {
  auto tables = list_tables(network_table(name));
  if (!tables) return std::move(tables).error();
  std::vector<NftTable> out;
  for (auto& t : *tables)
    if (t.name == network_table(name)) out.push_back(std::move(t));
  return out;
}

Result<void> remove_nat(const std::string& name) {
  auto tables = nat_tables(name);
  if (!tables) return std::move(tables).error();
  if (!tables->empty()) {
    log::debug("network `{}`: delete nft table `{}`", name, network_table(name));
    if (auto r = delete_tables(*tables); !r) return std::move(r).error().context("delete the NAT table");
  }
  ::unlink(nat_cache_file(name).c_str());
  return {};
}

Result<void> set_sysctl_on(const std::string& key) {
  auto now = read_net_sysctl(-1, key);
  if (now && trim(*now) == "1") return {};
  log::debug("set net.{} = 1", key);
  return write_net_sysctl(-1, key, "1");
}

// --- reconcile -------------------------------------------------------------------------------

// The bridge's global addresses that the config does not have (link-local ones are the kernel's).
Result<void> drop_stray_addresses(NetlinkSocket& sock, const ManagedNetwork& net) {
  auto addrs = addresses_of(sock, net.bridge);
  if (!addrs) return std::move(addrs).error();
  for (const auto& a : *addrs) {
    bool link_local = !a.address.is_v4() && a.address.bytes[0] == 0xfe && (a.address.bytes[1] & 0xc0) == 0x80;
    if (link_local || a == net.ipv4 || a == net.ipv6) continue;
    log::debug("network `{}`: remove address `{}` the config does not have", net.name, a.str());
    if (auto r = delete_address(sock, net.bridge, a); !r) return r;
  }
  return {};
}

Result<void> reconcile_dnsmasq(const ManagedNetwork& net, bool bridge_exists) {
  auto files = dnsmasq_files(network_run_dir(net.name));
  auto pid = find_dnsmasq(files.pid_file);
  if (!pid) {
    ::unlink(files.pid_file.c_str());  // stale: its process is gone or is another one
    return {};
  }
  const char* why = !bridge_exists ? "its bridge is gone"
                    : !net.dhcp    ? "dhcp is off"
                    : process_args(*pid) != dnsmasq_args(net, files, dnsmasq_user()) ? "its options changed"
                                                                                      : nullptr;
  if (!why) return {};
  log::debug("network `{}`: stop dnsmasq {}: {}", net.name, *pid, why);
  return stop_dnsmasq(*pid, files.pid_file);
}

Result<void> reconcile_locked(const ManagedNetwork& net) {
  auto sock = NetlinkSocket::open();
  if (!sock) return std::move(sock).error();
  auto link = find_link(*sock, net.bridge);
  if (!link) return std::move(link).error();
  if (*link && (*link)->kind != "bridge")
    return Error(EEXIST, fmt::format("link `{}` exists and is a `{}`, not a bridge", net.bridge,
                                     (*link)->kind.empty() ? "device" : (*link)->kind));
  if (auto r = reconcile_dnsmasq(net, link->has_value()); !r) return r;
  if (*link) {
    if (auto r = drop_stray_addresses(*sock, net); !r) return r;
  }
  if (!net.nat || !*link) return remove_nat(net.name);
  return {};
}

// --- up ------------------------------------------------------------------------------------

Result<void> ensure_bridge(NetlinkSocket& sock, const ManagedNetwork& net) {
  auto link = find_link(sock, net.bridge);
  if (!link) return std::move(link).error();
  if (!*link) {
    log::debug("network `{}`: create bridge", net.name);
    if (auto r = create_bridge(sock, net.bridge); !r) return r;
    LinkChange mac;
    mac.mac = bridge_mac(net.name);
    if (auto r = change_link(sock, net.bridge, mac); !r) return r;
  }
  if (!*link || !(*link)->up) {
    LinkChange up;
    up.up = true;
    if (auto r = change_link(sock, net.bridge, up); !r) return r;
  }
  for (const auto& p : {net.ipv4, net.ipv6})
    if (p) {
      if (auto r = add_address(sock, net.bridge, *p); !r) return r;
    }
  return {};
}

// Loads the NAT table when it is missing or its rules changed (the loaded text is kept in the
// run dir: a second up with the same config does not touch nft).
Result<void> ensure_nat(const ManagedNetwork& net) {
  std::string rules = nat_rules(network_table(net.name), net.bridge, subnets_of(net));
  auto tables = nat_tables(net.name);
  if (!tables) return std::move(tables).error();
  auto cached = read_file(nat_cache_file(net.name));
  if (tables->empty() || !cached || *cached != rules) {
    log::debug("network `{}`: load nft table `{}`", net.name, network_table(net.name));
    if (auto r = run_nft(rules); !r) return std::move(r).error().context("load the NAT table");
    if (auto r = write_file_atomic(nat_cache_file(net.name), rules, 0644, Durability::kVolatile); !r) return r;
  }
  if (net.ipv4) {
    if (auto r = set_sysctl_on("ipv4/ip_forward"); !r) return r;
  }
  if (net.ipv6) {
    if (auto r = set_sysctl_on("ipv6/conf/all/forwarding"); !r) return r;
  }
  return {};
}

Result<void> ensure_dnsmasq(const ManagedNetwork& net) {
  auto files = dnsmasq_files(network_run_dir(net.name));
  if (!path_exists(files.hosts_file)) {
    if (auto r = write_file_atomic(files.hosts_file, format_hosts({}), 0644, Durability::kVolatile); !r) return r;
  }
  if (find_dnsmasq(files.pid_file)) return {};  // reconcile stopped it if its options were wrong
  auto pid = start_dnsmasq(dnsmasq_args(net, files, dnsmasq_user()), files);
  if (!pid) return std::move(pid).error();
  log::debug("network `{}`: dnsmasq {} started", net.name, *pid);
  return {};
}

// --- down ----------------------------------------------------------------------------------

Result<void> bring_down_locked(const std::string& name) {
  auto files = dnsmasq_files(network_run_dir(name));
  if (auto pid = find_dnsmasq(files.pid_file)) {
    if (auto r = stop_dnsmasq(*pid, files.pid_file); !r) return r;
  }
  if (auto r = remove_nat(name); !r) return r;
  auto sock = NetlinkSocket::open();
  if (!sock) return std::move(sock).error();
  auto link = find_link(*sock, name);
  if (!link) return std::move(link).error();
  if (*link && (*link)->kind != "bridge")
    return Error(EEXIST, fmt::format("link `{}` is a `{}`, not the network's bridge: left alone", name,
                                     (*link)->kind.empty() ? "device" : (*link)->kind));
  if (auto r = delete_link(*sock, name); !r) return r;
  if (auto r = remove_tree(network_run_dir(name)); !r && r.error().code() != ENOENT) return r;
  return {};
}

Result<std::vector<HostEntry>> read_hosts(const std::string& name) {
  auto text = read_file(dnsmasq_files(network_run_dir(name)).hosts_file);
  if (!text) {
    if (text.error().code() == ENOENT) return std::vector<HostEntry>{};
    return std::move(text).error();
  }
  return parse_hosts(*text);
}

Result<void> write_hosts(const std::string& name, const std::vector<HostEntry>& hosts) {
  auto files = dnsmasq_files(network_run_dir(name));
  if (auto r = write_file_atomic(files.hosts_file, format_hosts(hosts), 0644, Durability::kVolatile); !r) return r;
  // SIGHUP: dnsmasq re-reads its --addn-hosts files.
  if (auto pid = find_dnsmasq(files.pid_file)) {
    if (auto r = signal_dnsmasq(*pid, files.pid_file, SIGHUP); !r && r.error().code() != ESRCH) return r;
  }
  return {};
}

Result<void> require_network(const std::string& name) {
  if (auto r = validate_network_name(name); !r) return r;
  if (!is_managed_network(name)) return Error(ENOENT, fmt::format("no network `{}`", name));
  return {};
}

}  // namespace

Result<void> ensure_network_up_locked(const ManagedNetwork& in, const NetworkLock& lock) {
  ManagedNetwork net = in;
  net.bridge = net.name;  // always: the name is the bridge's
  auto err = [&](Error e) { return std::move(e).context(fmt::format("bring network `{}` up", net.name)); };
  if (lock.name() != net.name) return err(Error::invalid(fmt::format("holding the lock of `{}`", lock.name())));
  if (auto r = reconcile_locked(net); !r) return err(std::move(r).error());
  if (auto r = mkdir_p(network_run_dir(net.name), 0755); !r) return err(std::move(r).error());
  auto sock = NetlinkSocket::open();
  if (!sock) return err(std::move(sock).error());
  if (auto r = ensure_bridge(*sock, net); !r) return err(std::move(r).error());
  if (net.nat) {
    if (auto r = ensure_nat(net); !r) return err(std::move(r).error());
  }
  if (net.dhcp) {
    if (auto r = ensure_dnsmasq(net); !r) return err(std::move(r).error());
  }
  return {};
}

Result<void> ensure_network_up(const ManagedNetwork& net) {
  auto lock = NetworkLock::acquire(net.name);
  if (!lock) return std::move(lock).error();
  return ensure_network_up_locked(net, *lock);
}

Result<void> bring_network_down(const std::string& name) {
  auto lock = NetworkLock::acquire(name);
  if (!lock) return std::move(lock).error();
  if (auto r = bring_down_locked(name); !r) return std::move(r).error().context(fmt::format("bring network `{}` down", name));
  return {};
}

Result<void> reconcile_network(const std::string& name) {
  auto err = [&](Error e) { return std::move(e).context(fmt::format("reconcile network `{}`", name)); };
  auto lock = NetworkLock::acquire(name);
  if (!lock) return std::move(lock).error();
  if (!path_exists(network_file(name))) return bring_down_locked(name);  // its config is gone: nothing of it stays
  auto net = parse_network_file(network_file(name), name);
  if (!net) return err(std::move(net).error());
  if (auto r = reconcile_locked(*net); !r) return err(std::move(r).error());
  return {};
}

Result<void> register_host(const std::string& network, const std::string& hostname, const IpAddress& address) {
  auto err = [&](Error e) { return std::move(e).context(fmt::format("register `{}` on network `{}`", hostname, network)); };
  if (auto r = require_network(network); !r) return err(std::move(r).error());
  if (auto r = validate_hostname(hostname); !r) return err(std::move(r).error());
  auto lock = NetworkLock::acquire(network);
  if (!lock) return std::move(lock).error();
  auto hosts = read_hosts(network);
  if (!hosts) return err(std::move(hosts).error());
  std::erase_if(*hosts, [&](const HostEntry& h) { return h.hostname == hostname && h.address.family == address.family; });
  hosts->push_back({address, hostname});
  if (auto r = write_hosts(network, *hosts); !r) return err(std::move(r).error());
  return {};
}

Result<void> release_leases(const std::string& network, const MacAddress& mac) {
  auto files = dnsmasq_files(network_run_dir(network));
  auto text = read_file(files.lease_file);
  if (!text || !find_dnsmasq(files.pid_file)) return {};
  for (const auto& lease : parse_leases(*text)) {
    auto lease_mac = MacAddress::parse(lease.mac);
    auto addr = IpAddress::parse(lease.address);
    if (!lease_mac || *lease_mac != mac || !addr || !addr->is_v4()) continue;
    std::vector<std::string> argv = {kDhcpReleasePath, network, lease.address, lease.mac};
    auto child = process::spawn([&]() -> int {
      std::vector<char*> a;
      for (auto& x : argv) a.push_back(x.data());
      a.push_back(nullptr);
      ::execv(a[0], a.data());
      return 127;
    });
    if (!child) return std::move(child).error().context("release the lease of `" + lease.mac + "`");
    auto status = child->wait();
    if (!status || process::exit_code_of(*status) != 0)
      return Error(EIO, fmt::format("`{}` could not release {} of `{}` on `{}`", kDhcpReleasePath, lease.address,
                                    lease.mac, network));
  }
  return {};
}

Result<void> unregister_host(const std::string& network, const std::string& hostname) {
  auto err = [&](Error e) { return std::move(e).context(fmt::format("unregister `{}` on network `{}`", hostname, network)); };
  if (auto r = require_network(network); !r) return err(std::move(r).error());
  auto lock = NetworkLock::acquire(network);
  if (!lock) return std::move(lock).error();
  auto hosts = read_hosts(network);
  if (!hosts) return err(std::move(hosts).error());
  size_t removed = std::erase_if(*hosts, [&](const HostEntry& h) { return h.hostname == hostname; });
  if (removed == 0) return {};
  if (auto r = write_hosts(network, *hosts); !r) return err(std::move(r).error());
  return {};
}

Result<NetworkStatus> network_status(const ManagedNetwork& net) {
  NetworkStatus st;
  auto sock = NetlinkSocket::open();
  if (!sock) return std::move(sock).error();
  auto links = list_links(*sock);
  if (!links) return std::move(links).error();
  auto bridge = std::find_if(links->begin(), links->end(), [&](const LinkInfo& l) { return l.name == net.name; });
  if (bridge != links->end() && bridge->kind == "bridge") {
    st.up = bridge->up;
    for (const auto& l : *links)
      if (l.master_index == bridge->index) st.ports.push_back(l.name);
  }
  auto files = dnsmasq_files(network_run_dir(net.name));
  st.dnsmasq_pid = find_dnsmasq(files.pid_file);
  auto tables = nat_tables(net.name);
  st.nat_loaded = tables && !tables->empty();
  if (auto text = read_file(files.lease_file)) st.leases = parse_leases(*text);
  if (auto hosts = read_hosts(net.name)) st.hosts = *hosts;
  return st;
}

}  // namespace cove::network
