// NicReport: one NIC of a running container as its monitor reports it (the `net-status`
// request of monitor/protocol.hpp); plain data, also what the façade's info() returns.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cove::monitor {

// The container's NICs as the monitor sees them (cove-info, cove-network show).
struct NicReport {
  std::string name, type, host_ifname, bridge, mac;
  std::vector<std::string> addresses;  // inside, "ADDR/PREFIX"
  uint64_t rate_ingress = 0, rate_egress = 0;  // bits/s, 0 = unlimited
  uint64_t rx_bytes = 0, tx_bytes = 0, rx_packets = 0, tx_packets = 0;  // the host end's: rx = from the container
  uint64_t ingress_drops = 0, egress_drops = 0;  // dropped by the shapers
  bool operator==(const NicReport&) const = default;
};
}  // namespace cove::monitor
