#include "network/host_prefixes.hpp"

#include <linux/rtnetlink.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include <cstring>
#include <memory>

#include <fmt/format.h>

namespace cove::network {
namespace {

struct CacheFree {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
using CachePtr = std::unique_ptr<nl_cache, CacheFree>;

std::optional<IpPrefix> prefix_of(nl_addr* a, unsigned prefixlen) {
  if (!a) return std::nullopt;
  IpPrefix p;
  int family = nl_addr_get_family(a);
  size_t len = nl_addr_get_len(a);
  if (family == AF_INET && len == 4) p.address.family = AF_INET;
  else if (family == AF_INET6 && len == 16) p.address.family = AF_INET6;
  else return std::nullopt;
  std::memcpy(p.address.bytes.data(), nl_addr_get_binary_addr(a), len);
  p.prefix = prefixlen;
  return p.network();
}

bool is_link_local_or_multicast(const IpPrefix& p) {
  const auto& b = p.address.bytes;
  if (p.address.is_v4()) return (b[0] == 169 && b[1] == 254 && p.prefix >= 16) || (b[0] >= 224 && p.prefix >= 4);
  return (b[0] == 0xfe && (b[1] & 0xc0) == 0x80 && p.prefix >= 10) || (b[0] == 0xff && p.prefix >= 8);
}

std::string link_name(nl_cache* links, int ifindex) {
  char buf[64];
  if (ifindex > 0 && rtnl_link_i2name(links, ifindex, buf, sizeof buf)) return buf;
  return ifindex > 0 ? "#" + std::to_string(ifindex) : "?";
}

Result<CachePtr> alloc_cache(NetlinkSocket& sock, int (*alloc)(nl_sock*, nl_cache**), const char* what) {
  nl_cache* c = nullptr;
  if (int err = alloc(sock.get(), &c); err < 0) return sock.error(err, fmt::format("dump {}", what));
  return CachePtr(c);
}

int alloc_links(nl_sock* s, nl_cache** c) { return rtnl_link_alloc_cache(s, AF_UNSPEC, c); }
int alloc_addrs(nl_sock* s, nl_cache** c) { return rtnl_addr_alloc_cache(s, c); }
int alloc_routes(nl_sock* s, nl_cache** c) { return rtnl_route_alloc_cache(s, AF_UNSPEC, 0, c); }

void add_addresses(nl_cache* addrs, nl_cache* links, std::vector<TakenPrefix>& out) {
  for (nl_object* o = nl_cache_get_first(addrs); o; o = nl_cache_get_next(o)) {
    auto* a = reinterpret_cast<rtnl_addr*>(o);
    auto p = prefix_of(rtnl_addr_get_local(a), static_cast<unsigned>(rtnl_addr_get_prefixlen(a)));
    if (!p || is_link_local_or_multicast(*p)) continue;
    IpPrefix shown = *p;
    std::memcpy(shown.address.bytes.data(), nl_addr_get_binary_addr(rtnl_addr_get_local(a)), p->address.size());
    out.push_back({*p, fmt::format("address `{}` of `{}`", shown.str(), link_name(links, rtnl_addr_get_ifindex(a)))});
  }
}

void add_routes(nl_cache* routes, nl_cache* links, std::vector<TakenPrefix>& out) {
  for (nl_object* o = nl_cache_get_first(routes); o; o = nl_cache_get_next(o)) {
    auto* r = reinterpret_cast<rtnl_route*>(o);
    if (rtnl_route_get_table(r) == RT_TABLE_LOCAL) continue;
    uint8_t type = rtnl_route_get_type(r);
    if (type == RTN_LOCAL || type == RTN_BROADCAST || type == RTN_MULTICAST || type == RTN_ANYCAST) continue;
    nl_addr* dst = rtnl_route_get_dst(r);
    if (!dst || nl_addr_get_prefixlen(dst) == 0) continue;  // default routes
    auto p = prefix_of(dst, nl_addr_get_prefixlen(dst));
    if (!p || is_link_local_or_multicast(*p)) continue;
    rtnl_nexthop* nh = rtnl_route_get_nnexthops(r) > 0 ? rtnl_route_nexthop_n(r, 0) : nullptr;
    std::string via = nh ? fmt::format(" via `{}`", link_name(links, rtnl_route_nh_get_ifindex(nh))) : "";
    uint32_t table = rtnl_route_get_table(r);
    std::string in_table = table == RT_TABLE_MAIN ? "" : fmt::format(" in table {}", table);
    out.push_back({*p, fmt::format("route `{}`{}{}", p->str(), via, in_table)});
  }
}

}  // namespace

Result<std::vector<TakenPrefix>> host_prefixes(NetlinkSocket& sock) {
  auto links = alloc_cache(sock, alloc_links, "links");
  if (!links) return std::move(links).error();
  auto addrs = alloc_cache(sock, alloc_addrs, "addresses");
  if (!addrs) return std::move(addrs).error();
  auto routes = alloc_cache(sock, alloc_routes, "routes");
  if (!routes) return std::move(routes).error();
  std::vector<TakenPrefix> out;
  add_addresses(addrs->get(), links->get(), out);
  add_routes(routes->get(), links->get(), out);
  return out;
}

const TakenPrefix* find_overlap(const IpPrefix& subnet, const std::vector<TakenPrefix>& taken) {
  for (const auto& t : taken)
    if (t.prefix.overlaps(subnet.network())) return &t;
  return nullptr;
}

std::optional<IpPrefix> choose_default_subnet(const std::vector<TakenPrefix>& taken) {
  for (unsigned n = 3; n <= 254; ++n) {
    IpPrefix subnet{*IpAddress::parse(fmt::format("10.0.{}.1", n)), 24};
    if (!find_overlap(subnet, taken)) return subnet;
  }
  return std::nullopt;
}

}  // namespace cove::network
