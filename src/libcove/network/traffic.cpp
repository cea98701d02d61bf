#include "network/traffic.hpp"

#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/tc_act/tc_mirred.h>
#include <net/if.h>
#include <netlink/errno.h>
#include <netlink/route/act/mirred.h>
#include <netlink/route/cls/u32.h>
#include <netlink/route/qdisc/htb.h>
#include <netlink/route/tc.h>

#include <algorithm>
#include <cstring>

#include "base/strings.hpp"
#include "network/nl_types.hpp"

namespace cove::network {
namespace {

constexpr uint32_t kRootHandle = 0x00010000;     // 1:
constexpr uint32_t kClassMinor = 0x10;           // 1:10, the default class
constexpr uint32_t kClassHandle = kRootHandle | kClassMinor;
constexpr uint32_t kIngressHandle = 0xffff0000;  // ffff:
constexpr uint32_t kFilterPrio = 1;
constexpr uint32_t kFilterHandle = 0x80000800;   // 800::800, the u32 root table's first node

constexpr uint64_t kMinRate = 1000;
constexpr uint32_t kMinBurst = 4096;
constexpr uint32_t kMaxBurst = 1u << 30;

bool is_kind(rtnl_tc* tc, const char* kind) {
  const char* k = rtnl_tc_get_kind(tc);
  return k && std::strcmp(k, kind) == 0;
}

// The qdisc of `ifindex` under `parent` (TC_H_ROOT, TC_H_INGRESS) when it has `handle` and
// `kind`; null when there is none or another one (not ours: left alone).
Result<nl::Qdisc> find_qdisc(NetlinkSocket& sock, int ifindex, uint32_t parent, uint32_t handle, const char* kind) {
  nl_cache* raw = nullptr;
  int rc = rtnl_qdisc_alloc_cache(sock.get(), &raw);
  nl::Cache cache(raw);
  if (rc < 0) return sock.error(rc, "list qdiscs");
  nl::Qdisc q(rtnl_qdisc_get_by_parent(cache.get(), ifindex, parent));
  if (q && (rtnl_tc_get_handle(TC_CAST(q.get())) != handle || !is_kind(TC_CAST(q.get()), kind))) q.reset();
  return q;
}

nl::Qdisc new_qdisc(int ifindex, uint32_t parent, uint32_t handle, const char* kind) {
  nl::Qdisc q(rtnl_qdisc_alloc());
  if (!q) return q;
  rtnl_tc_set_ifindex(TC_CAST(q.get()), ifindex);
  rtnl_tc_set_parent(TC_CAST(q.get()), parent);
  rtnl_tc_set_handle(TC_CAST(q.get()), handle);
  rtnl_tc_set_kind(TC_CAST(q.get()), kind);
  return q;
}

// htb has no "change" for the qdisc itself, so an existing 1: htb is kept (with its class);
// anything else at the root is replaced.
Result<void> ensure_root_htb(NetlinkSocket& sock, int ifindex) {
  auto found = find_qdisc(sock, ifindex, TC_H_ROOT, kRootHandle, "htb");
  if (!found) return std::move(found).error();
  if (*found) return {};
  nl::Qdisc q = new_qdisc(ifindex, TC_H_ROOT, kRootHandle, "htb");
  if (!q) return Error(ENOMEM, "allocate a qdisc");
  rtnl_htb_set_defcls(q.get(), kClassMinor);
  if (int rc = rtnl_qdisc_add(sock.get(), q.get(), NLM_F_CREATE | NLM_F_REPLACE); rc < 0)
    return sock.error(rc, "add root qdisc htb 1:");
  return {};
}

// Creates class 1:10 or changes it in place (RTM_NEWTCLASS without NLM_F_EXCL).
Result<void> set_htb_class(NetlinkSocket& sock, int ifindex, const HtbParams& p) {
  nl::Class c(rtnl_class_alloc());
  if (!c) return Error(ENOMEM, "allocate a class");
  rtnl_tc_set_ifindex(TC_CAST(c.get()), ifindex);
  rtnl_tc_set_parent(TC_CAST(c.get()), kRootHandle);
  rtnl_tc_set_handle(TC_CAST(c.get()), kClassHandle);
  rtnl_tc_set_kind(TC_CAST(c.get()), "htb");
  // libnl adds TCA_HTB_RATE64/CEIL64 itself for rates that do not fit 32 bits.
  rtnl_htb_set_rate64(c.get(), p.rate_bytes);
  rtnl_htb_set_ceil64(c.get(), p.rate_bytes);
  rtnl_htb_set_rbuffer(c.get(), p.burst);
  rtnl_htb_set_cbuffer(c.get(), p.burst);
  rtnl_htb_set_quantum(c.get(), p.quantum);
  if (int rc = rtnl_class_add(sock.get(), c.get(), NLM_F_CREATE); rc < 0) return sock.error(rc, "set class htb 1:10");
  return {};
}

Result<void> delete_qdisc(NetlinkSocket& sock, int ifindex, uint32_t parent, uint32_t handle, const char* kind) {
  auto found = find_qdisc(sock, ifindex, parent, handle, kind);
  if (!found) return std::move(found).error();
  if (!*found) return {};
  int rc = rtnl_qdisc_delete(sock.get(), found->get());
  if (rc < 0 && rc != -NLE_OBJ_NOTFOUND) return sock.error(rc, std::string("delete qdisc ") + kind);
  return {};
}

Result<void> ensure_ingress(NetlinkSocket& sock, int ifindex) {
  auto found = find_qdisc(sock, ifindex, TC_H_INGRESS, kIngressHandle, "ingress");
  if (!found) return std::move(found).error();
  if (*found) return {};
  nl::Qdisc q = new_qdisc(ifindex, TC_H_INGRESS, kIngressHandle, "ingress");
  if (!q) return Error(ENOMEM, "allocate a qdisc");
  int rc = rtnl_qdisc_add(sock.get(), q.get(), NLM_F_CREATE);
  if (rc < 0 && rc != -NLE_EXIST) return sock.error(rc, "add qdisc ingress");
  return {};
}

Result<nl::Act> redirect_action(int ifb_index) {
  nl::Act act(rtnl_act_alloc());
  if (!act) return Error(ENOMEM, "allocate an action");
  rtnl_tc_set_kind(TC_CAST(act.get()), "mirred");
  rtnl_mirred_set_action(act.get(), TCA_EGRESS_REDIR);
  rtnl_mirred_set_policy(act.get(), TC_ACT_STOLEN);
  rtnl_mirred_set_ifindex(act.get(), static_cast<uint32_t>(ifb_index));
  return act;
}

// u32 "match u32 0 0" (everything) at prio 1, handle 800::800, action mirred egress redirect.
// A fixed handle makes NLM_F_REPLACE swap the node in place: no moment without the redirect.
Result<void> set_redirect_filter(NetlinkSocket& sock, int ifindex, int ifb_index) {
  nl::Cls f(rtnl_cls_alloc());
  auto act = redirect_action(ifb_index);
  if (!f) return Error(ENOMEM, "allocate a filter");
  if (!act) return std::move(act).error();
  rtnl_tc_set_ifindex(TC_CAST(f.get()), ifindex);
  rtnl_tc_set_parent(TC_CAST(f.get()), kIngressHandle);
  rtnl_tc_set_handle(TC_CAST(f.get()), kFilterHandle);
  rtnl_tc_set_kind(TC_CAST(f.get()), "u32");
  rtnl_cls_set_prio(f.get(), kFilterPrio);
  rtnl_cls_set_protocol(f.get(), ETH_P_ALL);
  rtnl_u32_add_key_uint32(f.get(), 0, 0, 0, 0);
  rtnl_u32_set_cls_terminal(f.get());  // u32 runs a node's actions only on a terminal match
  rtnl_u32_add_action(f.get(), act->get());
  if (int rc = rtnl_cls_add(sock.get(), f.get(), NLM_F_CREATE | NLM_F_REPLACE); rc < 0)
    return sock.error(rc, "add filter u32 with mirred redirect");
  return {};
}

Result<int> usable_ifb(NetlinkSocket& sock, const std::string& ifb) {
  auto link = nl::get_link(sock, ifb);
  if (!link) return std::move(link).error();
  const char* kind = rtnl_link_get_type(link->get());
  if (!kind || std::strcmp(kind, "ifb") != 0)
    return Error::invalid("`" + ifb + "` is a " + (kind ? kind : "physical") + " link, not an ifb");
  if (!(rtnl_link_get_flags(link->get()) & IFF_UP)) return Error::invalid("ifb `" + ifb + "` is down");
  return rtnl_link_get_ifindex(link->get());
}

void read_stats(rtnl_tc* tc, ShaperCounters& c) {
  c.bytes = rtnl_tc_get_stat(tc, RTNL_TC_BYTES);
  c.packets = rtnl_tc_get_stat(tc, RTNL_TC_PACKETS);
  c.drops = rtnl_tc_get_stat(tc, RTNL_TC_DROPS);
  c.overlimits = rtnl_tc_get_stat(tc, RTNL_TC_OVERLIMITS);
}

}  // namespace

Result<HtbParams> htb_params(uint64_t bits_per_s) {
  if (bits_per_s < kMinRate)
    return Error::invalid("rate `" + format_rate(bits_per_s) + "`: below the smallest rate " + format_rate(kMinRate));
  HtbParams p;
  p.rate_bytes = bits_per_s / 8;
  p.burst = static_cast<uint32_t>(std::clamp<uint64_t>(p.rate_bytes / 100, kMinBurst, kMaxBurst));
  p.quantum = static_cast<uint32_t>(std::clamp<uint64_t>(p.rate_bytes / 10, 1600, 200000));
  return p;
}

Result<void> set_egress_rate(NetlinkSocket& sock, const std::string& dev, uint64_t bits_per_s) {
  std::string what = "set egress rate of `" + dev + "` to " + (bits_per_s ? format_rate(bits_per_s) : "unlimited");
  auto index = nl::link_index(sock, dev);
  if (!index) return std::move(index).error().context(what);
  if (bits_per_s == 0) {
    if (auto r = delete_qdisc(sock, *index, TC_H_ROOT, kRootHandle, "htb"); !r) return std::move(r).error().context(what);
    return {};
  }
  auto params = htb_params(bits_per_s);
  if (!params) return std::move(params).error().context(what);
  if (auto r = ensure_root_htb(sock, *index); !r) return std::move(r).error().context(what);
  if (auto r = set_htb_class(sock, *index, *params); !r) return std::move(r).error().context(what);
  return {};
}

Result<void> redirect_ingress(NetlinkSocket& sock, const std::string& dev, const std::string& ifb) {
  std::string what = "redirect ingress of `" + dev + "` to `" + ifb + "`";
  auto index = nl::link_index(sock, dev);
  if (!index) return std::move(index).error().context(what);
  auto ifb_index = usable_ifb(sock, ifb);
  if (!ifb_index) return std::move(ifb_index).error().context(what);
  if (auto r = ensure_ingress(sock, *index); !r) return std::move(r).error().context(what);
  if (auto r = set_redirect_filter(sock, *index, *ifb_index); !r) return std::move(r).error().context(what);
  return {};
}

Result<void> clear_ingress(NetlinkSocket& sock, const std::string& dev) {
  std::string what = "clear ingress of `" + dev + "`";
  auto index = nl::link_index(sock, dev);
  if (!index) return std::move(index).error().context(what);
  if (auto r = delete_qdisc(sock, *index, TC_H_INGRESS, kIngressHandle, "ingress"); !r)
    return std::move(r).error().context(what);
  return {};
}

Result<ShaperCounters> egress_counters(NetlinkSocket& sock, const std::string& dev) {
  std::string what = "read the shaper of `" + dev + "`";
  auto index = nl::link_index(sock, dev);
  if (!index) return std::move(index).error().context(what);
  auto root = find_qdisc(sock, *index, TC_H_ROOT, kRootHandle, "htb");
  if (!root) return std::move(root).error().context(what);
  ShaperCounters c;
  if (!*root) return c;
  read_stats(TC_CAST(root->get()), c);
  nl_cache* raw = nullptr;
  int rc = rtnl_class_alloc_cache(sock.get(), *index, &raw);
  nl::Cache cache(raw);
  if (rc < 0) return sock.error(rc, what + ": list classes");
  nl::Class cls(rtnl_class_get(cache.get(), *index, kClassHandle));
  uint64_t rate_bytes = 0;
  if (cls && rtnl_htb_get_rate64(cls.get(), &rate_bytes) == 0) c.rate = rate_bytes * 8;
  return c;
}

}  // namespace cove::network
