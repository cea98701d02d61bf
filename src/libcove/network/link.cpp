#include "network/link.hpp"

#include <linux/if_link.h>
#include <net/if.h>
#include <netlink/errno.h>
#include <netlink/route/link/ipvlan.h>
#include <netlink/route/link/macvlan.h>
#include <netlink/route/link/veth.h>

#include <cctype>

#include "network/nl_types.hpp"

namespace cove::network {
namespace {

struct Mode {
  const char* name;
  uint32_t value;
};
constexpr Mode kMacvlanModes[] = {{"bridge", MACVLAN_MODE_BRIDGE},
                                  {"vepa", MACVLAN_MODE_VEPA},
                                  {"private", MACVLAN_MODE_PRIVATE},
                                  {"passthru", MACVLAN_MODE_PASSTHRU}};
constexpr Mode kIpvlanModes[] = {{"l2", IPVLAN_MODE_L2}, {"l3", IPVLAN_MODE_L3}, {"l3s", IPVLAN_MODE_L3S}};

template <size_t N>
Result<uint32_t> find_mode(const Mode (&modes)[N], const std::string& kind, const std::string& mode) {
  std::string allowed;
  for (const auto& m : modes) {
    if (mode == m.name) return m.value;
    allowed += (allowed.empty() ? "" : ", ") + std::string(m.name);
  }
  return Error::invalid(kind + " mode `" + mode + "`: not one of " + allowed);
}

Result<void> set_mac(rtnl_link* link, const MacAddress& mac) {
  if (mac.is_zero() || !mac.is_unicast())
    return Error::invalid("MAC address `" + mac.str() + "`: not a unicast address");
  nl::Addr addr = nl::to_addr(mac);
  if (!addr) return Error(ENOMEM, "allocate a MAC address");
  rtnl_link_set_addr(link, addr.get());
  return {};
}

Result<void> add_link(NetlinkSocket& sock, rtnl_link* link, const std::string& what) {
  if (int rc = rtnl_link_add(sock.get(), link, NLM_F_CREATE | NLM_F_EXCL); rc < 0) return sock.error(rc, what);
  return {};
}

Result<void> create_typed(NetlinkSocket& sock, const std::string& kind, const std::string& name) {
  COVE_TRY(check_ifname(name));
  nl::Link link(rtnl_link_alloc());
  if (!link) return Error(ENOMEM, "allocate a link");
  if (int rc = rtnl_link_set_type(link.get(), kind.c_str()); rc < 0) return nl_error(rc, "set link kind `" + kind + "`");
  rtnl_link_set_name(link.get(), name.c_str());
  return add_link(sock, link.get(), "create " + kind + " `" + name + "`");
}

// A macvlan or ipvlan object with its mode, not yet named or placed.
Result<nl::Link> alloc_sublink(const SubLinkSpec& spec) {
  bool macvlan = spec.kind == "macvlan";
  if (!macvlan && spec.kind != "ipvlan") return Error::invalid("link kind `" + spec.kind + "`: not macvlan or ipvlan");
  if (!macvlan && spec.mac) return Error::invalid("an ipvlan has its parent's MAC address: do not give one");
  auto mode = macvlan ? find_mode(kMacvlanModes, spec.kind, spec.mode) : find_mode(kIpvlanModes, spec.kind, spec.mode);
  if (!mode) return std::move(mode).error();
  nl::Link link(macvlan ? rtnl_link_macvlan_alloc() : rtnl_link_ipvlan_alloc());
  if (!link) return Error(ENOMEM, "allocate a " + spec.kind + " link");
  if (macvlan) rtnl_link_macvlan_set_mode(link.get(), *mode);
  else rtnl_link_ipvlan_set_mode(link.get(), static_cast<uint16_t>(*mode));
  if (spec.mac) COVE_TRY(set_mac(link.get(), *spec.mac));
  return link;
}

// A kernel without the link kind's driver answers EOPNOTSUPP with "Unknown device type" in
// the extended ack (older kernels: ENOENT from the failed module request). A plain EOPNOTSUPP
// is the driver itself refusing (an ipvlan on a loopback parent).
Error sublink_error(NetlinkSocket& sock, int rc, const std::string& kind, const std::string& what) {
  Error e = sock.error(rc, what);
  bool unknown_kind = e.code() == ENOENT ||
                      (e.code() == EOPNOTSUPP && e.message().find("Unknown device type") != std::string::npos);
  if (!unknown_kind) return e;
  std::string config = kind;
  for (auto& c : config) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return Error(EOPNOTSUPP, what + ": " + kind + " is not built into this kernel (CONFIG_" + config + ")");
}

LinkInfo info_of(rtnl_link* link) {
  LinkInfo info;
  info.index = rtnl_link_get_ifindex(link);
  info.name = rtnl_link_get_name(link) ? rtnl_link_get_name(link) : "";
  info.kind = rtnl_link_get_type(link) ? rtnl_link_get_type(link) : "";
  info.mac = nl::mac_of(rtnl_link_get_addr(link));
  info.mtu = rtnl_link_get_mtu(link);
  info.up = (rtnl_link_get_flags(link) & IFF_UP) != 0;
  info.master_index = rtnl_link_get_master(link);
  return info;
}

// The changes of `change` that go into one RTM_NEWLINK, in `ch`.
Result<void> fill_change(NetlinkSocket& sock, rtnl_link* ch, const LinkChange& change) {
  if (change.up) *change.up ? rtnl_link_set_flags(ch, IFF_UP) : rtnl_link_unset_flags(ch, IFF_UP);
  if (change.mtu) rtnl_link_set_mtu(ch, *change.mtu);
  if (change.mac) COVE_TRY(set_mac(ch, *change.mac));
  if (change.name) {
    COVE_TRY(check_ifname(*change.name));
    rtnl_link_set_name(ch, change.name->c_str());
  }
  if (!change.master) return {};
  if (change.master->empty()) {
    rtnl_link_set_master(ch, 0);  // IFLA_MASTER 0: leave the bridge
    return {};
  }
  auto master = nl::link_index(sock, *change.master);
  if (!master) return std::move(master).error().context("set master");
  rtnl_link_set_master(ch, *master);
  return {};
}

}  // namespace

Result<void> check_ifname(const std::string& name) {
  if (name.empty()) return Error::invalid("empty interface name");
  if (name.size() >= IFNAMSIZ)
    return Error::invalid("interface name `" + name + "`: longer than " + std::to_string(IFNAMSIZ - 1) + " bytes");
  if (name == "." || name == "..") return Error::invalid("interface name `" + name + "`: not allowed");
  for (unsigned char c : name) {
    if (c == '/' || c == ':' || std::isspace(c) || !std::isprint(c))
      return Error::invalid("interface name `" + name + "`: no `/`, `:`, whitespace or control characters allowed");
  }
  return {};
}

Result<void> create_veth(NetlinkSocket& host, const VethSpec& spec) {
  COVE_TRY(check_ifname(spec.host_name));
  COVE_TRY(check_ifname(spec.peer_name));
  std::string what = "create veth `" + spec.host_name + "` with peer `" + spec.peer_name + "`";
  nl::Link link(rtnl_link_veth_alloc());
  if (!link) return Error(ENOMEM, what);
  nl::Link peer(rtnl_link_veth_get_peer(link.get()));
  rtnl_link_set_name(link.get(), spec.host_name.c_str());
  rtnl_link_set_name(peer.get(), spec.peer_name.c_str());
  // IFLA_NET_NS_FD inside the peer's info: the kernel creates the peer right there.
  if (spec.peer_netns_fd >= 0) rtnl_link_set_ns_fd(peer.get(), spec.peer_netns_fd);
  if (spec.mtu) {
    rtnl_link_set_mtu(link.get(), spec.mtu);
    rtnl_link_set_mtu(peer.get(), spec.mtu);
  }
  if (spec.peer_mac) {
    if (auto r = set_mac(peer.get(), *spec.peer_mac); !r) return std::move(r).error().context(what);
  }
  return add_link(host, link.get(), what);
}

Result<void> create_sublink(NetlinkSocket& host, const SubLinkSpec& spec) {
  std::string what = "create " + spec.kind + " `" + spec.name + "` on `" + spec.parent + "`";
  COVE_TRY(check_ifname(spec.name));
  auto link = alloc_sublink(spec);
  if (!link) return std::move(link).error().context(what);
  auto parent = nl::link_index(host, spec.parent);
  if (!parent) return std::move(parent).error().context(what);
  rtnl_link_set_link(link->get(), *parent);  // IFLA_LINK: an index in the socket's namespace
  rtnl_link_set_name(link->get(), spec.name.c_str());
  if (spec.netns_fd >= 0) rtnl_link_set_ns_fd(link->get(), spec.netns_fd);
  if (spec.mtu) rtnl_link_set_mtu(link->get(), spec.mtu);
  if (int rc = rtnl_link_add(host.get(), link->get(), NLM_F_CREATE | NLM_F_EXCL); rc < 0)
    return sublink_error(host, rc, spec.kind, what);
  return {};
}

Result<void> create_bridge(NetlinkSocket& sock, const std::string& name) { return create_typed(sock, "bridge", name); }

Result<void> create_ifb(NetlinkSocket& sock, const std::string& name) { return create_typed(sock, "ifb", name); }

Result<void> move_link(NetlinkSocket& sock, const std::string& name, int netns_fd, const std::string& new_name) {
  COVE_TRY(check_ifname(new_name));
  if (netns_fd < 0) return Error::invalid("move link `" + name + "`: no target network namespace");
  std::string what = "move link `" + name + "` to namespace fd " + std::to_string(netns_fd) + " as `" + new_name + "`";
  auto orig = nl::get_link(sock, name);
  if (!orig) return std::move(orig).error().context(what);
  nl::Link change(rtnl_link_alloc());
  if (!change) return Error(ENOMEM, what);
  // With IFLA_IFNAME next to IFLA_NET_NS_FD the kernel names the link in the target namespace.
  rtnl_link_set_ns_fd(change.get(), netns_fd);
  rtnl_link_set_name(change.get(), new_name.c_str());
  if (int rc = rtnl_link_change(sock.get(), orig->get(), change.get(), 0); rc < 0) return sock.error(rc, what);
  return {};
}

Result<void> change_link(NetlinkSocket& sock, const std::string& name, const LinkChange& change) {
  std::string what = "change link `" + name + "`";
  auto orig = nl::get_link(sock, name);
  if (!orig) return std::move(orig).error().context(what);
  nl::Link ch(rtnl_link_alloc());
  if (!ch) return Error(ENOMEM, what);
  if (auto r = fill_change(sock, ch.get(), change); !r) return std::move(r).error().context(what);
  if (int rc = rtnl_link_change(sock.get(), orig->get(), ch.get(), 0); rc < 0) {
    Error e = sock.error(rc, what);
    if (e.code() == EBUSY && change.name) return std::move(e).context("a link is renamed only while down");
    return e;
  }
  return {};
}

Result<void> delete_link(NetlinkSocket& sock, const std::string& name) {
  COVE_TRY(check_ifname(name));
  nl::Link link(rtnl_link_alloc());
  if (!link) return Error(ENOMEM, "allocate a link");
  rtnl_link_set_name(link.get(), name.c_str());
  int rc = rtnl_link_delete(sock.get(), link.get());
  if (rc == -NLE_NODEV || rc == -NLE_OBJ_NOTFOUND) return {};
  if (rc < 0) return sock.error(rc, "delete link `" + name + "`");
  return {};
}

Result<std::optional<LinkInfo>> find_link(NetlinkSocket& sock, const std::string& name) {
  COVE_TRY(check_ifname(name));
  auto link = nl::get_link(sock, name);
  if (!link && link.error().code() == ENODEV) return std::optional<LinkInfo>();
  if (!link) return std::move(link).error();
  return std::optional<LinkInfo>(info_of(link->get()));
}

Result<std::vector<LinkInfo>> list_links(NetlinkSocket& sock) {
  nl_cache* raw = nullptr;
  int rc = rtnl_link_alloc_cache(sock.get(), AF_UNSPEC, &raw);
  nl::Cache cache(raw);
  if (rc < 0) return sock.error(rc, "list links");
  std::vector<LinkInfo> links;
  for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o))
    links.push_back(info_of(reinterpret_cast<rtnl_link*>(o)));
  return links;
}

Result<LinkCounters> link_counters(NetlinkSocket& sock, const std::string& name) {
  COVE_TRY(check_ifname(name));
  auto link = nl::get_link(sock, name);
  if (!link) return std::move(link).error().context("read counters");
  rtnl_link* l = link->get();
  LinkCounters c;
  c.rx_bytes = rtnl_link_get_stat(l, RTNL_LINK_RX_BYTES);
  c.tx_bytes = rtnl_link_get_stat(l, RTNL_LINK_TX_BYTES);
  c.rx_packets = rtnl_link_get_stat(l, RTNL_LINK_RX_PACKETS);
  c.tx_packets = rtnl_link_get_stat(l, RTNL_LINK_TX_PACKETS);
  c.rx_dropped = rtnl_link_get_stat(l, RTNL_LINK_RX_DROPPED);
  c.tx_dropped = rtnl_link_get_stat(l, RTNL_LINK_TX_DROPPED);
  return c;
}

}  // namespace cove::network
