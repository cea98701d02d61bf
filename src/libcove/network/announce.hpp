// Announcing where a NIC is now on its L2 segment, after a restore or a migration: a
// gratuitous ARP (an RFC 5227 "ARP announcement") per IPv4 address and an unsolicited neighbour
// advertisement with the override flag (RFC 4861 7.2.6) per IPv6 address, so that switches'
// forwarding tables and neighbours' caches learn the new port at once. The frames are built here
// and sent from the host through an AF_PACKET socket bound to the interface inside the
// container's namespace (opened by a short-lived thread that setns()es; nothing runs inside the
// container). An `Announcer` repeats them on a thread of its own, which never changes namespace.
// Mechanism only: the caller (ContainerNetwork) chooses the NICs and addresses.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "base/ip_address.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace cove::network {

using Frame = std::vector<uint8_t>;

// Ethernet broadcast, ARP request with sender = target = `ipv4`, target MAC zero (RFC 5227 2.3).
Frame gratuitous_arp(const MacAddress& mac, const IpAddress& ipv4);
// To ff02::1 (33:33:00:00:00:01) from `ipv6` itself, hop limit 255, flags: override only,
// with the target link-layer address option `mac`; the ICMPv6 checksum filled in.
Frame unsolicited_neighbour_advert(const MacAddress& mac, const IpAddress& ipv6);
// One frame per address, of its family's kind.
std::vector<Frame> announcement_frames(const MacAddress& mac, const std::vector<IpAddress>& addresses);

// A send-only packet socket bound to `ifname` in the network namespace `netns_fd`.
Result<UniqueFd> open_packet_socket(int netns_fd, const std::string& ifname);
// Writes every frame of `frames` on `socket`; the first failure is returned, the rest still sent.
Result<void> send_frames(int socket, const std::vector<Frame>& frames);

// When each round goes out, counted from the first. The first goes out at once: until it does,
// frames to the container go to its old place. The repeats cover a round lost while a port or
// a peer was not ready yet; all of it is over within 0.3 s, and stopping waits for none of it.
inline constexpr std::array<std::chrono::milliseconds, 3> kAnnounceRounds = {
    std::chrono::milliseconds(0), std::chrono::milliseconds(100), std::chrono::milliseconds(300)};

// Sends its targets' frames in the rounds of kAnnounceRounds on a thread of its own; the
// destructor (or stop()) ends it early and joins it.
class Announcer {
 public:
  struct Target {
    std::string ifname;  // for the log
    UniqueFd socket;     // open_packet_socket's
    std::vector<Frame> frames;
  };
  Announcer() = default;
  explicit Announcer(std::vector<Target> targets);
  Announcer(Announcer&&) = default;
  Announcer& operator=(Announcer&&) = default;
  ~Announcer() { stop(); }

  void stop();
  bool running() const { return thread_.joinable(); }

 private:
  std::jthread thread_;
};

}  // namespace cove::network
