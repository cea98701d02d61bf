#include "network/nl_types.hpp"

#include <netlink/errno.h>
#include <sys/socket.h>

#include <cstring>

namespace cove::network::nl {

Addr to_addr(const IpAddress& ip, unsigned prefix) {
  Addr a(nl_addr_build(ip.family, ip.bytes.data(), ip.size()));
  if (a) nl_addr_set_prefixlen(a.get(), static_cast<int>(prefix));
  return a;
}

Addr to_addr(const MacAddress& mac) { return Addr(nl_addr_build(AF_LLC, mac.bytes.data(), mac.bytes.size())); }

std::optional<IpAddress> ip_of(nl_addr* addr) {
  if (!addr) return std::nullopt;
  IpAddress ip;
  ip.family = nl_addr_get_family(addr);
  if ((ip.family != AF_INET && ip.family != AF_INET6) || nl_addr_get_len(addr) != ip.size()) return std::nullopt;
  std::memcpy(ip.bytes.data(), nl_addr_get_binary_addr(addr), ip.size());
  return ip;
}

MacAddress mac_of(nl_addr* addr) {
  MacAddress mac;
  if (addr && nl_addr_get_len(addr) == mac.bytes.size())
    std::memcpy(mac.bytes.data(), nl_addr_get_binary_addr(addr), mac.bytes.size());
  return mac;
}

Result<Link> get_link(NetlinkSocket& sock, const std::string& name) {
  rtnl_link* raw = nullptr;
  int rc = rtnl_link_get_kernel(sock.get(), 0, name.c_str(), &raw);
  Link link(raw);
  if (rc == -NLE_NODEV || rc == -NLE_OBJ_NOTFOUND) return Error(ENODEV, "no link `" + name + "`");
  if (rc < 0) return sock.error(rc, "look up link `" + name + "`");
  return link;
}

Result<int> link_index(NetlinkSocket& sock, const std::string& name) {
  auto link = get_link(sock, name);
  if (!link) return std::move(link).error();
  return rtnl_link_get_ifindex(link->get());
}

}  // namespace cove::network::nl
