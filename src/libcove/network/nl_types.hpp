// Internal to network/: owning handles for libnl objects, conversions between cove's address
// types and libnl's nl_addr, and the by-name link lookup every call starts with. Not part of
// the module's interface: callers outside network/ never see a libnl type.
#pragma once

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/route/action.h>
#include <netlink/route/addr.h>
#include <netlink/route/class.h>
#include <netlink/route/classifier.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/route.h>

#include <memory>
#include <optional>
#include <string>

#include "base/ip_address.hpp"
#include "base/result.hpp"
#include "network/netlink.hpp"

namespace cove::network::nl {

template <typename T, void (*Put)(T*)>
struct Putter {
  void operator()(T* p) const { Put(p); }
};
template <typename T, void (*Put)(T*)>
using Ptr = std::unique_ptr<T, Putter<T, Put>>;

using Link = Ptr<rtnl_link, rtnl_link_put>;
using Addr = Ptr<nl_addr, nl_addr_put>;
using Cache = Ptr<nl_cache, nl_cache_free>;
using IfAddr = Ptr<rtnl_addr, rtnl_addr_put>;
using Route = Ptr<rtnl_route, rtnl_route_put>;
using Qdisc = Ptr<rtnl_qdisc, rtnl_qdisc_put>;
using Class = Ptr<rtnl_class, rtnl_class_put>;
using Cls = Ptr<rtnl_cls, rtnl_cls_put>;
using Act = Ptr<rtnl_act, rtnl_act_put>;

Addr to_addr(const IpAddress& ip, unsigned prefix);
Addr to_addr(const MacAddress& mac);
std::optional<IpAddress> ip_of(nl_addr* addr);  // nullopt unless AF_INET/AF_INET6
MacAddress mac_of(nl_addr* addr);               // zero unless 6 bytes

// The link `name` as the kernel has it now; ENODEV "no link `NAME`" when there is none.
Result<Link> get_link(NetlinkSocket& sock, const std::string& name);
// Its index, same errors.
Result<int> link_index(NetlinkSocket& sock, const std::string& name);

}  // namespace cove::network::nl
