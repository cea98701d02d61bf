// Rate limits with the kernel's traffic control, set on the host side of a container's NIC where
// the container's root (CAP_NET_ADMIN only in its own namespace) cannot reach them. This kernel
// has no police action and no fq/fq_codel (../notes/host.md), so:
//  - traffic INTO the container leaves the host-side link: an htb root qdisc with one class at
//    the rate on that link (set_egress_rate);
//  - traffic OUT OF the container enters the host-side link: an ingress qdisc with a u32
//    match-all filter and a mirred redirect to an ifb device, whose egress is shaped like above
//    (redirect_ingress + set_egress_rate on the ifb).
// Rates are bits per second; 0 removes the limit. Setting a rate again changes it in place
// (live, no packet loss beyond what the new rate implies). Mechanism only.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.hpp"
#include "network/netlink.hpp"

namespace cove::network {

// The shaper on `dev`: root qdisc htb 1: whose default class 1:10 has rate = ceil = the rate.
// Rates from 1kbit up; above 4 Gbit/s the kernel's 64-bit rate attributes carry it. Like tc,
// a rate counts whole frames (Ethernet header included): a bulk TCP stream of 1500-byte
// packets carries about 95.5% of it as payload (1448 of 1514 bytes).
Result<void> set_egress_rate(NetlinkSocket& sock, const std::string& dev, uint64_t bits_per_s);

// What set_egress_rate gives class 1:10 for a rate (pure): bytes per second, the burst (10 ms
// at the rate, at least 4 KiB: what the class may send at once after a pause) and the quantum
// (rate/10 kept within the kernel's 1600..200000 without its warnings). EINVAL below 1kbit.
struct HtbParams {
  uint64_t rate_bytes = 0;
  uint32_t burst = 0;
  uint32_t quantum = 0;
};
Result<HtbParams> htb_params(uint64_t bits_per_s);
// Redirects everything arriving on `dev` to `ifb` (which must exist and be up). Idempotent.
Result<void> redirect_ingress(NetlinkSocket& sock, const std::string& dev, const std::string& ifb);
Result<void> clear_ingress(NetlinkSocket& sock, const std::string& dev);  // none there = success

struct ShaperCounters {
  uint64_t rate = 0;     // bits/s configured, 0 = no shaper
  uint64_t bytes = 0;    // sent through the shaper
  uint64_t packets = 0;
  uint64_t drops = 0;
  uint64_t overlimits = 0;
};
Result<ShaperCounters> egress_counters(NetlinkSocket& sock, const std::string& dev);

// Rate text ("100mbit") is parsed by base/strings.hpp's parse_rate / format_rate.

}  // namespace cove::network
