// Network namespaces a test makes, and traffic inside them. A TestNetns is held by an fd only
// (no /run/netns entry, no process): when the test ends, closing it (and the sockets made in
// it) destroys the namespace with its links, nft tables and routes, even after a failed
// assertion. Topologies are built with iproute2 run inside (`nsenter --net`); sockets are made
// inside by a short-lived thread that joins the namespace, so the test itself sends, receives,
// connects and accepts from its own thread with plain socket calls. Raw frames (ARP, a DHCP
// client's 0.0.0.0 packet) go out through AF_PACKET.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/ip_address.hpp"
#include "base/unique_fd.hpp"
#include "support.hpp"

namespace cove::test {

class TestNetns {
 public:
  TestNetns();  // a new, empty namespace with `lo` up; valid() tells whether that worked
  bool valid() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  // A path other processes can open to reach it: /proc/<this pid>/fd/<fd>.
  std::string path() const;
  // `sh -c cmd` inside the namespace.
  RunResult sh(const std::string& cmd) const;
  // A socket created inside the namespace (bound to it for life); invalid on failure.
  UniqueFd socket(int domain, int type, int protocol = 0) const;
  // The index and MAC of a link in this namespace (0 / zero MAC when absent).
  int ifindex(const std::string& ifname) const;
  MacAddress mac_of(const std::string& ifname) const;
  // `ip neigh show ADDR dev IFNAME`'s lladdr ("" when none).
  std::string neighbour_mac(const std::string& addr, const std::string& ifname) const;

 private:
  UniqueFd fd_;
};

// Runs `cmd` inside `ns` and fails the test (fatally) when it does not exit 0.
#define ASSERT_SH(ns, cmd)                                                                     \
  do {                                                                                         \
    auto cove_sh_ = (ns).sh(cmd);                                                              \
    ASSERT_EQ(cove_sh_.status, 0) << "`" << (cmd) << "`: " << cove_sh_.err << cove_sh_.out;    \
  } while (0)

// A veth pair: `name` in `a` and `peer` made directly in `b` (a different namespace).
RunResult add_veth(const TestNetns& a, const std::string& name, const TestNetns& b, const std::string& peer);

// A UDP socket bound to ADDR:PORT in `ns` (ADDR may be "0.0.0.0", "::", or carry a device with
// `dev`), collecting datagrams.
class UdpReceiver {
 public:
  UdpReceiver(const TestNetns& ns, const std::string& addr, uint16_t port, const std::string& dev = "");
  bool valid() const { return fd_.valid(); }
  // The source address of the first datagram carrying exactly `payload` within `timeout_ms`
  // (others are skipped), nullopt when none came.
  std::optional<std::string> source_of(const std::string& payload, int timeout_ms = 1500);

 private:
  UniqueFd fd_;
};

// Sends `payload` from SRC (bound, any port; "" = the kernel's choice) to DST:PORT inside `ns`.
// A link-local DST goes out of `dev`. Returns "" or what failed.
std::string send_udp(const TestNetns& ns, const std::string& src, const std::string& dst, uint16_t port,
                     const std::string& payload, const std::string& dev = "");

// A TCP listener on ADDR:PORT in `ns`.
class TcpListener {
 public:
  TcpListener(const TestNetns& ns, const std::string& addr, uint16_t port);
  bool valid() const { return fd_.valid(); }
  // The peer address of the next connection accepted within `timeout_ms`, nullopt if none.
  std::optional<std::string> accept_peer(int timeout_ms = 2000);

 private:
  UniqueFd fd_;
};

// Connects to DST:PORT from inside `ns` within `timeout_ms`: "" when connected, else what failed.
std::string tcp_connect(const TestNetns& ns, const std::string& dst, uint16_t port, int timeout_ms = 1500);

// Raw Ethernet frames.
using Frame = std::vector<uint8_t>;
Frame arp_frame(uint16_t op, const MacAddress& eth_src, const MacAddress& eth_dst, const MacAddress& sha,
                const std::string& spa, const MacAddress& tha, const std::string& tpa);
// An IPv4 UDP packet in a frame (UDP checksum 0, which IPv4 allows).
Frame ipv4_udp_frame(const MacAddress& eth_src, const MacAddress& eth_dst, const std::string& src,
                     const std::string& dst, uint16_t sport, uint16_t dport, const std::string& payload);
// `frame` with an 802.1Q tag for VLAN `vid` after its MAC addresses.
Frame vlan_tagged(const Frame& frame, uint16_t vid);
// Sends `frame` out of `ifname` in `ns` through AF_PACKET: "" or what failed.
std::string send_frame(const TestNetns& ns, const std::string& ifname, const Frame& frame);

// Captures the frames arriving at (or sent from) `ifname` in `ns` (AF_PACKET, ETH_P_ALL). A
// VLAN tag the kernel moved out of the frame is not in the captured bytes.
class FrameCapture {
 public:
  FrameCapture(const TestNetns& ns, const std::string& ifname);
  bool valid() const { return fd_.valid(); }
  // Whether a frame containing `marker` arrives within `timeout_ms`.
  bool saw(const std::string& marker, int timeout_ms = 1500);
  // Whether an ARP reply with sender IP `spa` arrives within `timeout_ms`.
  bool arp_reply_from(const std::string& spa, int timeout_ms = 1500);
  // How many gratuitous ARPs (sender = target = `ipv4`, from `mac`) and how many neighbour
  // advertisements with the override flag for `ipv6` from `mac` arrive within `window_ms`
  // (frames already queued count; the capture's buffer holds 16 MiB).
  std::pair<int, int> count_announcements(const std::string& ipv4, const std::string& ipv6, const MacAddress& mac,
                                          int window_ms);

 private:
  bool wait_for(const std::function<bool(const uint8_t*, size_t)>& match, int timeout_ms);
  UniqueFd fd_;
};

// Sends an unsolicited neighbour advertisement (override flag, target link-layer option `mac`)
// for `target` to ff02::1 out of `ifname` in `ns`: "" or what failed.
std::string send_neighbour_advert(const TestNetns& ns, const std::string& ifname, const std::string& target,
                                  const MacAddress& mac);

}  // namespace cove::test
