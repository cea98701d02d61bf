#include "network/address.hpp"

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/route/nexthop.h>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "network/nl_types.hpp"

namespace cove::network {
namespace {

Result<nl::IfAddr> make_addr(int ifindex, const IpPrefix& address) {
  if (address.prefix > address.address.max_prefix() || address.address.is_unspecified())
    return Error::invalid("address `" + address.str() + "`: not a usable interface address");
  nl::IfAddr addr(rtnl_addr_alloc());
  nl::Addr local = nl::to_addr(address.address, address.prefix);
  if (!addr || !local) return Error(ENOMEM, "allocate an address");
  rtnl_addr_set_ifindex(addr.get(), ifindex);
  rtnl_addr_set_family(addr.get(), address.address.family);
  if (int rc = rtnl_addr_set_local(addr.get(), local.get()); rc < 0) return nl_error(rc, "set address");
  rtnl_addr_set_prefixlen(addr.get(), static_cast<int>(address.prefix));
  // Without duplicate address detection an IPv6 address is usable at once, not "tentative".
  if (!address.address.is_v4()) rtnl_addr_set_flags(addr.get(), IFA_F_NODAD);
  return addr;
}

Result<nl::IfAddr> addr_on(NetlinkSocket& sock, const std::string& ifname, const IpPrefix& address) {
  auto index = nl::link_index(sock, ifname);
  if (!index) return std::move(index).error();
  return make_addr(*index, address);
}

Result<nl::Route> default_route(int ifindex, const IpAddress& gateway) {
  nl::Route route(rtnl_route_alloc());
  nl::Addr any(nl_addr_build(gateway.family, nullptr, 0));  // "default": prefix length 0
  nl::Addr via = nl::to_addr(gateway, gateway.max_prefix());
  rtnl_nexthop* hop = rtnl_route_nh_alloc();
  if (!route || !any || !via || !hop) {
    if (hop) rtnl_route_nh_free(hop);
    return Error(ENOMEM, "allocate a route");
  }
  rtnl_route_set_family(route.get(), static_cast<uint8_t>(gateway.family));
  rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
  rtnl_route_set_protocol(route.get(), RTPROT_STATIC);
  rtnl_route_set_scope(route.get(), RT_SCOPE_UNIVERSE);
  rtnl_route_set_type(route.get(), RTN_UNICAST);
  if (int rc = rtnl_route_set_dst(route.get(), any.get()); rc < 0) {
    rtnl_route_nh_free(hop);
    return nl_error(rc, "set route destination");
  }
  rtnl_route_nh_set_ifindex(hop, ifindex);
  rtnl_route_nh_set_gateway(hop, via.get());
  rtnl_route_add_nexthop(route.get(), hop);  // the route owns it now
  return route;
}

Result<void> check_sysctl_key(const std::string& key) {
  for (const auto& part : split(key, '/')) {
    if (part.empty() || part == "." || part == "..")
      return Error::invalid("net sysctl `" + key + "`: not a relative path below /proc/sys/net");
  }
  return {};
}

}  // namespace

Result<void> add_address(NetlinkSocket& sock, const std::string& ifname, const IpPrefix& address) {
  std::string what = "add address `" + address.str() + "` to `" + ifname + "`";
  auto addr = addr_on(sock, ifname, address);
  if (!addr) return std::move(addr).error().context(what);
  int rc = rtnl_addr_add(sock.get(), addr->get(), 0);  // no NLM_F_EXCL|REPLACE: EEXIST when there
  if (rc == -NLE_EXIST) return {};
  if (rc < 0) return sock.error(rc, what);
  return {};
}

Result<void> delete_address(NetlinkSocket& sock, const std::string& ifname, const IpPrefix& address) {
  std::string what = "delete address `" + address.str() + "` from `" + ifname + "`";
  auto addr = addr_on(sock, ifname, address);
  if (!addr) return std::move(addr).error().context(what);
  int rc = rtnl_addr_delete(sock.get(), addr->get(), 0);
  if (rc == -NLE_NOADDR || rc == -NLE_OBJ_NOTFOUND) return {};
  if (rc < 0) return sock.error(rc, what);
  return {};
}

Result<std::vector<IpPrefix>> addresses_of(NetlinkSocket& sock, const std::string& ifname) {
  auto index = nl::link_index(sock, ifname);
  if (!index) return std::move(index).error().context("list addresses");
  nl_cache* raw = nullptr;
  int rc = rtnl_addr_alloc_cache(sock.get(), &raw);
  nl::Cache cache(raw);
  if (rc < 0) return sock.error(rc, "list addresses of `" + ifname + "`");
  std::vector<IpPrefix> out;
  for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o)) {
    auto* addr = reinterpret_cast<rtnl_addr*>(o);
    if (rtnl_addr_get_ifindex(addr) != *index) continue;
    if (auto ip = nl::ip_of(rtnl_addr_get_local(addr)))
      out.push_back({*ip, static_cast<unsigned>(rtnl_addr_get_prefixlen(addr))});
  }
  return out;
}

Result<void> set_default_route(NetlinkSocket& sock, const std::string& ifname, const IpAddress& gateway) {
  std::string what = "set default route via `" + gateway.str() + "` dev `" + ifname + "`";
  if (gateway.is_unspecified()) return Error::invalid(what + ": the gateway is an unspecified address");
  auto index = nl::link_index(sock, ifname);
  if (!index) return std::move(index).error().context(what);
  auto route = default_route(*index, gateway);
  if (!route) return std::move(route).error().context(what);
  if (int rc = rtnl_route_add(sock.get(), route->get(), NLM_F_REPLACE); rc < 0) return sock.error(rc, what);
  return {};
}

// /proc/sys/net shows the namespace of the thread that opens it, hence run_in_netns.
Result<void> write_net_sysctl(int netns_fd, const std::string& key, const std::string& value) {
  COVE_TRY(check_sysctl_key(key));
  return run_in_netns(netns_fd, [&] { return write_existing("/proc/sys/net/" + key, value); });
}

Result<std::string> read_net_sysctl(int netns_fd, const std::string& key) {
  COVE_TRY(check_sysctl_key(key));
  std::string value;
  auto r = run_in_netns(netns_fd, [&]() -> Result<void> {
    auto text = read_file("/proc/sys/net/" + key);
    if (!text) return std::move(text).error();
    value = std::string(trim(*text));
    return {};
  });
  if (!r) return std::move(r).error();
  return value;
}

}  // namespace cove::network
