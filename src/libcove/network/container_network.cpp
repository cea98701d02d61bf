#include "network/container_network.hpp"

#include <fcntl.h>
#include <sys/random.h>

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "base/log.hpp"
#include "network/address.hpp"
#include "network/managed_network.hpp"
#include "network/netlink.hpp"
#include "network/nft.hpp"

namespace cove::network {

namespace {

using config::NicConfig;
using config::NicGateway;
using config::NicType;

// 10 random hex digits: a veth host end is "cv" + them (12 characters, under IFNAMSIZ), its ifb
// "cb" + the same.
std::string random_suffix() {
  uint8_t b[5] = {};
  if (::getrandom(b, sizeof b, 0) != sizeof b)
    for (auto& x : b) x = static_cast<uint8_t>(std::rand());
  return fmt::format("{:02x}{:02x}{:02x}{:02x}{:02x}", b[0], b[1], b[2], b[3], b[4]);
}

template <typename T>
Result<T> in_context(Result<T> r, const std::string& what) {
  if (!r) return std::move(r).error().context(what);
  return r;
}

// The bridge a veth's host end joins: a managed network's (brought up now if it is down), or a
// bridge that exists on the host.
Result<void> resolve_link(NicRuntime& rt, NetlinkSocket& host) {
  const std::string& link = rt.nic.link;
  if (link.empty()) return {};
  if (is_managed_network(link)) {
    auto net = load_network(link);  // the default network is created on its first use
    if (!net) return std::move(net).error();
    if (auto r = ensure_network_up(*net); !r) return std::move(r).error().context("network `" + link + "`");
    rt.network = link;
    rt.bridge = net->bridge;
    for (auto* gw : {&rt.nic.ipv4_gateway, &rt.nic.ipv6_gateway}) {
      if (gw->mode != NicGateway::Mode::kAuto) continue;
      auto a = gateway_of(*net, gw == &rt.nic.ipv4_gateway ? AF_INET : AF_INET6);
      if (!a) return Error::invalid(fmt::format("gateway `auto`: network `{}` has no {} address", link,
                                                gw == &rt.nic.ipv4_gateway ? "IPv4" : "IPv6"));
      gw->mode = NicGateway::Mode::kAddress;
      gw->address = *a;
    }
    // The network's dnsmasq answers for container names: the default name server of a NIC on
    // it (also with DHCP, whose client may have no way to write resolv.conf: systemd-networkd
    // without systemd-resolved).
    if (rt.nic.dns.empty() && net->dhcp)
      if (auto a = gateway_of(*net, AF_INET)) rt.nic.dns.push_back(*a);
    return {};
  }
  auto found = find_link(host, link);
  if (!found) return std::move(found).error();
  if (!*found) return Error(ENOENT, fmt::format("link `{}` is neither a managed network (cove-network list) nor a bridge", link));
  if ((*found)->kind != "bridge") return Error::invalid(fmt::format("link `{}` is a {}, not a bridge", link, (*found)->kind.empty() ? "device" : (*found)->kind));
  rt.bridge = link;
  return {};
}

bool has_gateway(const NicGateway& g) { return g.mode == NicGateway::Mode::kAddress; }

}  // namespace

std::string container_rules_table(const std::string& key) { return container_table(key); }

ContainerNetwork::ContainerNetwork(std::vector<config::NicConfig> nics, std::string key, std::string hostname)
    : key_(std::move(key)), hostname_(std::move(hostname)) {
  for (auto& n : nics) planned_.push_back(plan_nic(n));
}

NicRuntime ContainerNetwork::plan_nic(const config::NicConfig& nic) const {
  NicRuntime rt;
  rt.nic = nic;
  if (!rt.nic.hwaddr && nic.type != NicType::kPhys) rt.nic.hwaddr = MacAddress::random();
  if (nic.type == NicType::kVeth) {
    std::string suffix = random_suffix();
    rt.host_ifname = "cv" + suffix;
    rt.ifb = "cb" + suffix;  // made only with a rate.egress, but named now so a later set-rate is recorded
  }
  if (nic.type == NicType::kPhys) rt.host_ifname = nic.link;
  return rt;
}

std::vector<std::string> ContainerNetwork::host_links() const {
  std::vector<std::string> out;
  for (const auto* list : {&made_, &planned_})
    for (const auto& rt : *list)
      if (rt.nic.type == NicType::kVeth) out.insert(out.end(), {rt.host_ifname, rt.ifb});
  return out;
}

Result<void> ContainerNetwork::prepare() {
  auto host = host_socket_or_error();
  if (!host) return std::move(host).error();
  for (auto& rt : planned_)
    if (rt.nic.type == NicType::kVeth)
      if (auto r = resolve_link(rt, *host); !r) return std::move(r).error().context("NIC `" + rt.nic.name + "`");
  return {};
}

std::string ContainerNetwork::resolv_conf() const {
  std::string text;
  bool managed = false;
  for (const auto* list : {&planned_, &made_})
    for (const auto& rt : *list) {
      for (const auto& a : rt.nic.dns) text += "nameserver " + a.str() + "\n";
      managed = managed || (!rt.network.empty() && !rt.nic.dns.empty());
    }
  if (text.empty()) return "";
  return std::string("# written by cove from the container's [network.*] dns\n") +
         (managed ? std::string("search ") + kNetworkDomain + "\n" : "") + text;
}

Result<void> ContainerNetwork::keep_netns(int netns_fd) {
  UniqueFd ns(::fcntl(netns_fd, F_DUPFD_CLOEXEC, 3));
  if (!ns) return Error::from_errno(errno, "keep the container's network namespace");
  netns_ = std::move(ns);
  return {};
}

Result<void> ContainerNetwork::setup(int netns_fd) {
  COVE_TRY(keep_netns(netns_fd));
  auto pending = std::move(planned_);
  planned_.clear();
  for (auto& rt : pending) {
    if (auto r = make_nic(rt); !r) {
      teardown();
      return std::move(r).error().context("NIC `" + rt.nic.name + "`");
    }
  }
  if (auto r = apply_rules(); !r) {
    teardown();
    return std::move(r).error().context("firewall rules");
  }
  return {};
}

Result<void> ContainerNetwork::make_nic(NicRuntime& rt) {
  auto host = host_socket_or_error();
  if (!host) return std::move(host).error();
  const NicConfig& n = rt.nic;
  switch (n.type) {
    case NicType::kVeth: {
      if (rt.bridge.empty()) COVE_TRY(resolve_link(rt, *host));  // attach: not prepared
      VethSpec spec{rt.host_ifname, n.name, netns_.get(), n.hwaddr, n.mtu};
      if (auto r = create_veth(*host, spec); !r) return std::move(r).error();
      made_.push_back(rt);  // from here on teardown removes it
      LinkChange up;
      up.up = true;
      if (!rt.bridge.empty()) up.master = rt.bridge;
      if (auto r = change_link(*host, rt.host_ifname, up); !r) return std::move(r).error().context("host end");
      COVE_TRY(apply_rates(made_.back()));
      break;
    }
    case NicType::kMacvlan:
    case NicType::kIpvlan: {
      SubLinkSpec spec;
      spec.kind = n.type == NicType::kMacvlan ? "macvlan" : "ipvlan";
      spec.parent = n.link;
      spec.name = n.name;
      spec.mode = n.type == NicType::kMacvlan ? n.macvlan_mode : "l2";
      spec.netns_fd = netns_.get();
      if (n.type == NicType::kMacvlan) spec.mac = n.hwaddr;
      spec.mtu = n.mtu;
      if (auto r = create_sublink(*host, spec); !r) return std::move(r).error();
      made_.push_back(rt);
      break;
    }
    case NicType::kPhys:
      if (auto r = move_link(*host, n.link, netns_.get(), n.name); !r) return std::move(r).error();
      made_.push_back(rt);
      break;
  }
  COVE_TRY(configure_inside(made_.back()));
  register_name(made_.back());
  return {};
}

// A static IPv4 on a managed network gets the container's name in its DNS (a DHCP client's
// name comes with its lease). A failure is a warning: the NIC works without it.
void ContainerNetwork::register_name(NicRuntime& rt) {
  const NicConfig& n = rt.nic;
  if (rt.network.empty() || !n.ipv4.is_static() || hostname_.empty()) return;
  if (auto r = register_host(rt.network, hostname_, n.ipv4.address.address); !r)
    log::warn("network `{}`: DNS name `{}`: {}", rt.network, hostname_, r.error().message());
  else rt.registered_host = true;
}

Result<NetlinkSocket> ContainerNetwork::host_socket_or_error() { return in_context(NetlinkSocket::open(), "netlink"); }

// Inside the container's namespace, from the host: MAC and MTU, up, static addresses, default
// routes. Init starts with all of it in place.
Result<void> ContainerNetwork::configure_inside(const NicRuntime& rt) {
  auto inside = in_context(NetlinkSocket::open_in(netns_.get()), "netlink in the container");
  if (!inside) return std::move(inside).error();
  const NicConfig& n = rt.nic;
  LinkChange ch;
  ch.up = true;
  if (n.type == NicType::kPhys) {
    if (n.hwaddr) ch.mac = n.hwaddr;
    if (n.mtu) ch.mtu = n.mtu;
  }
  if (auto r = change_link(*inside, n.name, ch); !r) return std::move(r).error().context("inside");
  for (const auto* a : {&n.ipv4, &n.ipv6})
    if (a->is_static())
      if (auto r = add_address(*inside, n.name, a->address); !r) return std::move(r).error().context("address");
  if (has_gateway(n.ipv4_gateway))
    if (auto r = set_default_route(*inside, n.name, n.ipv4_gateway.address); !r) return std::move(r).error().context("IPv4 default route");
  if (has_gateway(n.ipv6_gateway))
    if (auto r = set_default_route(*inside, n.name, n.ipv6_gateway.address); !r) return std::move(r).error().context("IPv6 default route");
  return {};
}

// rate.ingress shapes the host end's egress; rate.egress what arrives on the host end, through
// its ifb. Both live on the host, out of the container's reach.
Result<void> ContainerNetwork::apply_rates(NicRuntime& rt) {
  auto host = host_socket_or_error();
  if (!host) return std::move(host).error();
  const NicConfig& n = rt.nic;
  if (n.rate_ingress)
    if (auto r = set_egress_rate(*host, rt.host_ifname, n.rate_ingress); !r) return std::move(r).error().context("rate.ingress");
  if (n.rate_egress) {
    auto existing = find_link(*host, rt.ifb);
    if (!existing) return std::move(existing).error();
    if (!*existing) {
      if (auto r = create_ifb(*host, rt.ifb); !r) return std::move(r).error().context("rate.egress");
      LinkChange up;
      up.up = true;
      if (auto r = change_link(*host, rt.ifb, up); !r) return std::move(r).error().context("rate.egress");
    }
    if (auto r = set_egress_rate(*host, rt.ifb, n.rate_egress); !r) return std::move(r).error().context("rate.egress");
    if (auto r = redirect_ingress(*host, rt.host_ifname, rt.ifb); !r) return std::move(r).error().context("rate.egress");
  } else {
    if (auto r = clear_ingress(*host, rt.host_ifname); !r) return std::move(r).error().context("rate.egress");
    if (auto r = delete_link(*host, rt.ifb); !r) return std::move(r).error().context("rate.egress");
  }
  return {};
}

// One nft run for the container's table(s): anti-spoofing on its bridge ports, port forwards.
Result<void> ContainerNetwork::apply_rules() {
  std::vector<PortFilter> ports;
  std::vector<Forward> forwards;
  for (const auto& rt : made_) {
    const NicConfig& n = rt.nic;
    if (n.type == NicType::kVeth && !rt.bridge.empty() && (n.filters_mac() || n.filters_ip())) {
      PortFilter f;
      f.host_ifname = rt.host_ifname;
      f.mac = *n.hwaddr;
      f.filter_mac = n.filters_mac();
      f.filter_ip = n.filters_ip();
      if (n.ipv4.is_static()) f.ipv4.push_back(n.ipv4.address.address);
      if (n.ipv6.is_static()) f.ipv6.push_back(n.ipv6.address.address);
      ports.push_back(std::move(f));
    }
    for (const auto& fw : n.forwards)
      forwards.push_back(Forward{config::proto_name(fw.proto), fw.host_port, n.ipv4.address.address, fw.container_port});
  }
  // No filter, no forward, and no table loaded before: nothing to run (an nft run costs ~10 ms
  // of the start, more with many tables on the host). A stale table of a crashed monitor is
  // remove_leftovers' business.
  if (ports.empty() && forwards.empty() && !rules_loaded_) return {};
  std::string table = container_table(key_);
  std::string ruleset = delete_rules({{"bridge", table}, {"ip", table}});
  if (!ports.empty()) ruleset += antispoof_rules(table, ports);
  if (!forwards.empty()) ruleset += forward_rules(table, forwards);
  COVE_TRY(run_nft(ruleset));
  rules_loaded_ = !ports.empty() || !forwards.empty();
  return {};
}

void ContainerNetwork::remove_nic(NicRuntime& rt, bool keep_leases) {
  auto host = NetlinkSocket::open();
  if (!host) {
    log::warn("remove NIC `{}`: {}", rt.nic.name, host.error().message());
    return;
  }
  if (rt.registered_host)
    if (auto r = unregister_host(rt.network, hostname_); !r) log::warn("network `{}`: {}", rt.network, r.error().message());
  if (!rt.network.empty() && rt.nic.ipv4.mode == config::NicAddress::Mode::kDhcp && rt.nic.hwaddr && !keep_leases)
    if (auto r = release_leases(rt.network, *rt.nic.hwaddr); !r) log::warn("network `{}`: {}", rt.network, r.error().message());
  switch (rt.nic.type) {
    case NicType::kVeth:
      if (auto r = delete_link(*host, rt.host_ifname); !r) log::warn("remove `{}`: {}", rt.host_ifname, r.error().message());
      if (auto r = delete_link(*host, rt.ifb); !r) log::warn("remove `{}`: {}", rt.ifb, r.error().message());
      break;
    case NicType::kMacvlan:
    case NicType::kIpvlan:
      if (netns_)
        if (auto inside = NetlinkSocket::open_in(netns_.get()))
          (void)delete_link(*inside, rt.nic.name);
      break;
    case NicType::kPhys:
      // Back to the host under its own name (the kernel would return it on the namespace's end,
      // but with the container's name for it).
      if (netns_) {
        auto inside = NetlinkSocket::open_in(netns_.get());
        UniqueFd host_ns(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
        if (inside && host_ns)
          if (auto r = move_link(*inside, rt.nic.name, host_ns.get(), rt.nic.link); !r)
            log::warn("return `{}` to the host: {}", rt.nic.link, r.error().message());
      }
      break;
  }
}

void ContainerNetwork::teardown(bool keep_leases) {
  announcer_.stop();
  if (rules_loaded_) {
    rules_loaded_ = false;
    std::string table = container_table(key_);
    if (auto r = delete_tables({{"bridge", table}, {"ip", table}}); !r) log::warn("remove firewall rules: {}", r.error().message());
  }
  for (auto it = made_.rbegin(); it != made_.rend(); ++it) remove_nic(*it, keep_leases);
  made_.clear();
  netns_.reset();
}

std::vector<config::NicConfig> ContainerNetwork::planned_nics() const {
  std::vector<config::NicConfig> out;
  for (const auto& rt : planned_) out.push_back(rt.nic);
  return out;
}

std::vector<std::string> ContainerNetwork::criu_externals() const {
  std::vector<std::string> out;
  for (const auto& rt : planned_)
    if (rt.nic.type == NicType::kVeth)
      // No "@BRIDGE": adopt_restored joins the bridge while the network is still locked (CRIU
      // would try again at its end and fail with EBUSY).
      out.push_back("veth[" + rt.nic.name + "]:" + rt.host_ifname);
  return out;
}

Result<void> ContainerNetwork::adopt_restored(int netns_fd) {
  COVE_TRY(keep_netns(netns_fd));
  auto host = host_socket_or_error();
  if (!host) return std::move(host).error();
  auto pending = std::move(planned_);
  planned_.clear();
  for (auto& rt : pending) {
    if (rt.nic.type != NicType::kVeth) return Error(ENOTSUP, "NIC `" + rt.nic.name + "`: only veths are restored");
    made_.push_back(rt);
    LinkChange up;
    up.up = true;
    if (!rt.bridge.empty()) up.master = rt.bridge;
    if (auto r = change_link(*host, rt.host_ifname, up); !r) return std::move(r).error().context("NIC `" + rt.nic.name + "`");
    if (auto r = apply_rates(made_.back()); !r) return std::move(r).error().context("NIC `" + rt.nic.name + "`");
    register_name(made_.back());
  }
  return apply_rules();
}

// The addresses come from the interface, not the config: a DHCP lease restored with the
// container is announced too. The container's root chooses them, but it could send the same
// frames itself; the bridge filters (anti-spoofing) judge them as its own.
Result<void> ContainerNetwork::announce() {
  if (!netns_) return {};
  auto inside = NetlinkSocket::open_in(netns_.get());
  if (!inside) return std::move(inside).error();
  std::vector<Announcer::Target> targets;
  for (const auto& rt : made_) {
    if (rt.nic.type != NicType::kVeth || !rt.nic.hwaddr) continue;
    // One NIC that cannot be announced does not cost the others theirs.
    auto addrs = addresses_of(*inside, rt.nic.name);
    if (!addrs) {
      log::warn("announce NIC `{}`: {}", rt.nic.name, addrs.error().message());
      continue;
    }
    std::vector<IpAddress> own;
    for (const auto& a : *addrs) own.push_back(a.address);
    if (own.empty()) continue;
    auto sock = open_packet_socket(netns_.get(), rt.nic.name);
    if (!sock) {
      log::warn("announce NIC `{}`: {}", rt.nic.name, sock.error().message());
      continue;
    }
    targets.push_back({rt.nic.name, std::move(*sock), announcement_frames(*rt.nic.hwaddr, own)});
  }
  if (!targets.empty()) announcer_ = Announcer(std::move(targets));
  return {};
}

Result<void> ContainerNetwork::set_host_ends_up(bool up) {
  if (made_.empty()) return {};
  auto host = host_socket_or_error();
  if (!host) return std::move(host).error();
  for (const auto& rt : made_) {
    if (rt.nic.type != NicType::kVeth) continue;
    LinkChange c;
    c.up = up;
    if (auto r = change_link(*host, rt.host_ifname, c); !r) return std::move(r).error().context("NIC `" + rt.nic.name + "`");
  }
  return {};
}

Result<void> ContainerNetwork::set_rate(const std::string& nic, std::optional<uint64_t> ingress,
                                        std::optional<uint64_t> egress) {
  auto it = std::find_if(made_.begin(), made_.end(), [&](const NicRuntime& rt) { return rt.nic.name == nic; });
  if (it == made_.end()) return Error(ENOENT, fmt::format("no NIC `{}`", nic));
  if (it->nic.type != NicType::kVeth) return Error::invalid(fmt::format("NIC `{}` is a {}: only a veth has a host end to shape", nic, config::nic_type_name(it->nic.type)));
  NicRuntime changed = *it;
  if (ingress) changed.nic.rate_ingress = *ingress;
  if (egress) changed.nic.rate_egress = *egress;
  auto host = host_socket_or_error();
  if (!host) return std::move(host).error();
  if (ingress && !*ingress)
    if (auto r = set_egress_rate(*host, changed.host_ifname, 0); !r) return std::move(r).error();
  COVE_TRY(apply_rates(changed));
  *it = changed;
  return {};
}

Result<void> ContainerNetwork::attach(const config::NicConfig& nic,
                                      const std::function<void(const std::vector<std::string>&)>& record) {
  if (!netns_) return Error(ESRCH, "the container's network is not set up");
  if (std::any_of(made_.begin(), made_.end(), [&](const NicRuntime& rt) { return rt.nic.name == nic.name; }))
    return Error(EEXIST, fmt::format("the container has a NIC `{}` already", nic.name));
  NicRuntime rt = plan_nic(nic);
  planned_.push_back(rt);
  record(host_links());
  planned_.clear();
  size_t before = made_.size();
  if (auto r = make_nic(rt); !r) {
    if (made_.size() > before) {
      remove_nic(made_.back());
      made_.pop_back();
    }
    return r;
  }
  if (auto r = apply_rules(); !r) {
    remove_nic(made_.back());
    made_.pop_back();
    (void)apply_rules();
    return std::move(r).error().context("firewall rules");
  }
  return {};
}

Result<void> ContainerNetwork::detach(const std::string& nic) {
  auto it = std::find_if(made_.begin(), made_.end(), [&](const NicRuntime& rt) { return rt.nic.name == nic; });
  if (it == made_.end()) return Error(ENOENT, fmt::format("no NIC `{}`", nic));
  remove_nic(*it);
  made_.erase(it);
  return apply_rules();
}

Result<std::vector<NicStatus>> ContainerNetwork::status() {
  auto host = host_socket_or_error();
  if (!host) return std::move(host).error();
  std::vector<NicStatus> out;
  for (const auto& rt : made_) {
    NicStatus s;
    s.name = rt.nic.name;
    s.host_ifname = rt.host_ifname;
    s.bridge = rt.bridge;
    s.type = config::nic_type_name(rt.nic.type);
    if (rt.nic.hwaddr) s.mac = *rt.nic.hwaddr;
    s.rate_ingress = rt.nic.rate_ingress;
    s.rate_egress = rt.nic.rate_egress;
    if (netns_)
      if (auto inside = NetlinkSocket::open_in(netns_.get()))
        if (auto a = addresses_of(*inside, rt.nic.name)) s.addresses = *a;
    if (rt.nic.type == NicType::kVeth) {
      if (auto c = link_counters(*host, rt.host_ifname)) s.counters = *c;
      if (auto c = egress_counters(*host, rt.host_ifname)) s.ingress_shaper = *c;
      if (rt.nic.rate_egress)
        if (auto c = egress_counters(*host, rt.ifb)) s.egress_shaper = *c;
    }
    out.push_back(std::move(s));
  }
  return out;
}

namespace {
// Only names this module makes ("cv"/"cb" + 10 hex digits) are removed from a record.
bool is_our_link_name(const std::string& name) {
  if (name.size() != 12 || (name.compare(0, 2, "cv") != 0 && name.compare(0, 2, "cb") != 0)) return false;
  return std::all_of(name.begin() + 2, name.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}
}  // namespace

void remove_leftovers(const std::string& key, const std::vector<std::string>& host_links) {
  if (host_links.empty()) return;  // no veth: no tables either (filters and forwards need one)
  std::string table = container_table(key);
  if (auto r = delete_tables({{"bridge", table}, {"ip", table}}); !r) log::warn("remove stale firewall rules: {}", r.error().message());
  auto host = NetlinkSocket::open();
  if (!host) return;
  for (const auto& name : host_links)
    if (!is_our_link_name(name)) log::warn("stale state names link `{}`, which cove does not make: left alone", name);
    else if (auto r = delete_link(*host, name); !r) log::warn("remove stale link `{}`: {}", name, r.error().message());
}

}  // namespace cove::network
