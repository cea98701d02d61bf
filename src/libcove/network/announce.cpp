#include "network/announce.hpp"

#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <condition_variable>
#include <cstring>
#include <mutex>

#include "base/log.hpp"
#include "network/netlink.hpp"

namespace cove::network {

namespace {

constexpr MacAddress kBroadcast = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
constexpr MacAddress kAllNodesMac = {{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}};
constexpr std::array<uint8_t, 16> kAllNodes = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
constexpr size_t kNaLength = 24 + 8;  // the advertisement and one link-layer address option

void put16(Frame& f, uint16_t v) {
  f.push_back(static_cast<uint8_t>(v >> 8));
  f.push_back(static_cast<uint8_t>(v));
}
void put_bytes(Frame& f, const uint8_t* p, size_t n) { f.insert(f.end(), p, p + n); }
void put_mac(Frame& f, const MacAddress& m) { put_bytes(f, m.bytes.data(), m.bytes.size()); }

void put_ethernet(Frame& f, const MacAddress& dst, const MacAddress& src, uint16_t type) {
  put_mac(f, dst);
  put_mac(f, src);
  put16(f, type);
}

// The Internet checksum (RFC 1071) of the IPv6 pseudo-header and the ICMPv6 message.
uint16_t icmpv6_checksum(const uint8_t* src, const uint8_t* dst, const uint8_t* msg, size_t len) {
  uint32_t sum = 0;
  auto add = [&](const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | (i + 1 < n ? p[i + 1] : 0));
  };
  add(src, 16);
  add(dst, 16);
  sum += static_cast<uint32_t>(len);
  sum += IPPROTO_ICMPV6;
  add(msg, len);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

Frame neighbour_advert_message(const MacAddress& mac, const IpAddress& target) {
  Frame m = {ND_NEIGHBOR_ADVERT, 0, 0, 0, 0x20, 0, 0, 0};  // type, code, checksum, flags: O (override)
  put_bytes(m, target.bytes.data(), 16);
  m.push_back(ND_OPT_TARGET_LINKADDR);
  m.push_back(1);  // length in units of 8 bytes
  put_mac(m, mac);
  uint16_t sum = icmpv6_checksum(target.bytes.data(), kAllNodes.data(), m.data(), m.size());
  m[2] = static_cast<uint8_t>(sum >> 8);
  m[3] = static_cast<uint8_t>(sum);
  return m;
}

}  // namespace

Frame gratuitous_arp(const MacAddress& mac, const IpAddress& ipv4) {
  Frame f;
  put_ethernet(f, kBroadcast, mac, ETH_P_ARP);
  put16(f, 1);        // hardware: Ethernet
  put16(f, ETH_P_IP); // protocol: IPv4
  f.push_back(6);
  f.push_back(4);
  put16(f, 1);  // request
  put_mac(f, mac);
  put_bytes(f, ipv4.bytes.data(), 4);
  put_mac(f, MacAddress{});
  put_bytes(f, ipv4.bytes.data(), 4);
  return f;
}

Frame unsolicited_neighbour_advert(const MacAddress& mac, const IpAddress& ipv6) {
  Frame f;
  put_ethernet(f, kAllNodesMac, mac, ETH_P_IPV6);
  f.insert(f.end(), {0x60, 0, 0, 0});  // version 6, no traffic class, no flow label
  put16(f, kNaLength);
  f.push_back(IPPROTO_ICMPV6);
  f.push_back(255);  // hop limit: receivers drop NDP that crossed a router
  put_bytes(f, ipv6.bytes.data(), 16);
  put_bytes(f, kAllNodes.data(), 16);
  Frame msg = neighbour_advert_message(mac, ipv6);
  f.insert(f.end(), msg.begin(), msg.end());
  return f;
}

std::vector<Frame> announcement_frames(const MacAddress& mac, const std::vector<IpAddress>& addresses) {
  std::vector<Frame> out;
  for (const auto& a : addresses)
    out.push_back(a.is_v4() ? gratuitous_arp(mac, a) : unsolicited_neighbour_advert(mac, a));
  return out;
}

Result<UniqueFd> open_packet_socket(int netns_fd, const std::string& ifname) {
  UniqueFd sock;
  auto r = run_in_netns(netns_fd, [&]() -> Result<void> {
    // Protocol 0: the socket receives nothing; it only sends.
    sock.reset(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
    if (!sock) return Error::from_errno(errno, "AF_PACKET socket");
    sockaddr_ll ll = {};
    ll.sll_family = AF_PACKET;
    ll.sll_ifindex = static_cast<int>(::if_nametoindex(ifname.c_str()));
    if (ll.sll_ifindex == 0) return Error::from_errno(errno, "link `" + ifname + "`");
    if (::bind(sock.get(), reinterpret_cast<sockaddr*>(&ll), sizeof ll) < 0)
      return Error::from_errno(errno, "bind a packet socket to `" + ifname + "`");
    return {};
  });
  if (!r) return std::move(r).error();
  return sock;
}

Result<void> send_frames(int socket, const std::vector<Frame>& frames) {
  Result<void> result;
  for (const auto& f : frames)
    if (::send(socket, f.data(), f.size(), MSG_DONTWAIT) < 0 && result)
      result = Error::from_errno(errno, "send an announcement");
  return result;
}

// The monitor spawns children (CRIU, helpers) while this thread may run: on its normal path
// it takes no lock and allocates nothing (prebuilt frames, open sockets, send(2), a timed
// wait); only a failed send logs.
Announcer::Announcer(std::vector<Target> targets) {
  thread_ = std::jthread([targets = std::move(targets)](std::stop_token stop) {
    std::mutex m;
    std::condition_variable_any cv;
    auto start = std::chrono::steady_clock::now();
    for (auto at : kAnnounceRounds) {
      std::unique_lock lock(m);
      if (cv.wait_until(lock, stop, start + at, [] { return false; }) || stop.stop_requested()) return;
      for (const auto& t : targets)
        if (auto r = send_frames(t.socket.get(), t.frames); !r)
          log::warn("announce `{}`: {}", t.ifname, r.error().message());
    }
  });
}

void Announcer::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
}

}  // namespace cove::network
