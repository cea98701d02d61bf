#include "netns_support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

namespace cove::test {
namespace {

// Socket addresses from text; a link-local IPv6 address gets `scope` (an ifindex).
socklen_t make_sockaddr(const std::string& addr, uint16_t port, int scope, sockaddr_storage* ss) {
  std::memset(ss, 0, sizeof *ss);
  auto a = IpAddress::parse(addr);
  if (!a) return 0;
  if (a->is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, a->bytes.data(), 4);
    return sizeof *sin;
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  std::memcpy(&sin6->sin6_addr, a->bytes.data(), 16);
  bool link_scope = (a->bytes[0] == 0xfe && (a->bytes[1] & 0xc0) == 0x80) || (a->bytes[0] == 0xff && (a->bytes[1] & 0x0f) == 2);
  if (link_scope) sin6->sin6_scope_id = static_cast<uint32_t>(scope);
  return sizeof *sin6;
}

std::string address_of(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET)
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
  else
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, buf, sizeof buf);
  return buf;
}

int family_of(const std::string& addr) {
  auto a = IpAddress::parse(addr);
  return a ? a->family : AF_INET;
}

bool readable(int fd, int timeout_ms) {
  struct pollfd p = {fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) > 0;
}

std::string err(const std::string& what) { return what + ": " + std::strerror(errno); }

int ifindex_via(int sock, const std::string& ifname) {
  struct ifreq ifr = {};
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  return ::ioctl(sock, SIOCGIFINDEX, &ifr) < 0 ? 0 : ifr.ifr_ifindex;
}

void put16(Frame& f, uint16_t v) {
  f.push_back(static_cast<uint8_t>(v >> 8));
  f.push_back(static_cast<uint8_t>(v));
}
void put_mac(Frame& f, const MacAddress& m) { f.insert(f.end(), m.bytes.begin(), m.bytes.end()); }
void put_ip4(Frame& f, const std::string& a) {
  auto ip = IpAddress::parse(a);
  f.insert(f.end(), ip->bytes.begin(), ip->bytes.begin() + 4);
}

uint16_t ip_checksum(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

}  // namespace

TestNetns::TestNetns() {
  // unshare() in a thread changes that thread only; its namespace lives on through the fd.
  std::thread([this] {
    if (::unshare(CLONE_NEWNET) == 0) fd_.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  }).join();
  if (valid() && sh("ip link set lo up").status != 0) fd_.reset();
}

std::string TestNetns::path() const {
  return "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(fd_.get());
}

RunResult TestNetns::sh(const std::string& cmd) const {
  return run_cmd({"nsenter", "--net=" + path(), "sh", "-c", cmd}, 30);
}

UniqueFd TestNetns::socket(int domain, int type, int protocol) const {
  UniqueFd s;
  std::thread([&] {
    if (::setns(fd_.get(), CLONE_NEWNET) == 0) s.reset(::socket(domain, type | SOCK_CLOEXEC, protocol));
  }).join();
  return s;
}

int TestNetns::ifindex(const std::string& ifname) const {
  UniqueFd s = socket(AF_INET, SOCK_DGRAM);
  return s ? ifindex_via(s.get(), ifname) : 0;
}

MacAddress TestNetns::mac_of(const std::string& ifname) const {
  MacAddress m;
  UniqueFd s = socket(AF_INET, SOCK_DGRAM);
  struct ifreq ifr = {};
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  if (s && ::ioctl(s.get(), SIOCGIFHWADDR, &ifr) == 0) std::memcpy(m.bytes.data(), ifr.ifr_hwaddr.sa_data, 6);
  return m;
}

std::string TestNetns::neighbour_mac(const std::string& addr, const std::string& ifname) const {
  std::string out = sh("ip neigh show " + addr + " dev " + ifname).out;
  size_t p = out.find("lladdr ");
  return p == std::string::npos ? "" : out.substr(p + 7, 17);
}

RunResult add_veth(const TestNetns& a, const std::string& name, const TestNetns& b, const std::string& peer) {
  return a.sh("ip link add " + name + " type veth peer name " + peer + " netns " + b.path());
}

UdpReceiver::UdpReceiver(const TestNetns& ns, const std::string& addr, uint16_t port, const std::string& dev) {
  UniqueFd s = ns.socket(family_of(addr), SOCK_DGRAM);
  if (!s) return;
  int one = 1;
  ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (!dev.empty() && ::setsockopt(s.get(), SOL_SOCKET, SO_BINDTODEVICE, dev.c_str(), static_cast<socklen_t>(dev.size())) < 0)
    return;
  sockaddr_storage ss;
  socklen_t len = make_sockaddr(addr, port, 0, &ss);
  if (len == 0 || ::bind(s.get(), reinterpret_cast<sockaddr*>(&ss), len) < 0) return;
  fd_ = std::move(s);
}

std::optional<std::string> UdpReceiver::source_of(const std::string& payload, int timeout_ms) {
  for (int64_t end = now_ms() + timeout_ms; now_ms() < end;) {
    if (!readable(fd_.get(), static_cast<int>(end - now_ms()))) break;
    char buf[2048];
    sockaddr_storage from;
    socklen_t flen = sizeof from;
    ssize_t n = ::recvfrom(fd_.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
    if (n >= 0 && std::string(buf, static_cast<size_t>(n)) == payload) return address_of(from);
  }
  return std::nullopt;
}

std::string send_udp(const TestNetns& ns, const std::string& src, const std::string& dst, uint16_t port,
                     const std::string& payload, const std::string& dev) {
  UniqueFd s = ns.socket(family_of(dst), SOCK_DGRAM);
  if (!s) return err("socket");
  int scope = dev.empty() ? 0 : ifindex_via(s.get(), dev);
  int one = 1;
  ::setsockopt(s.get(), SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
  sockaddr_storage ss;
  if (!src.empty()) {
    socklen_t len = make_sockaddr(src, 0, scope, &ss);
    if (len == 0 || ::bind(s.get(), reinterpret_cast<sockaddr*>(&ss), len) < 0) return err("bind `" + src + "`");
  }
  socklen_t len = make_sockaddr(dst, port, scope, &ss);
  if (len == 0) return "bad address `" + dst + "`";
  if (::sendto(s.get(), payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&ss), len) < 0)
    return err("send to `" + dst + "`");
  return "";
}

TcpListener::TcpListener(const TestNetns& ns, const std::string& addr, uint16_t port) {
  UniqueFd s = ns.socket(family_of(addr), SOCK_STREAM);
  if (!s) return;
  int one = 1;
  ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage ss;
  socklen_t len = make_sockaddr(addr, port, 0, &ss);
  if (len == 0 || ::bind(s.get(), reinterpret_cast<sockaddr*>(&ss), len) < 0 || ::listen(s.get(), 8) < 0) return;
  fd_ = std::move(s);
}

std::optional<std::string> TcpListener::accept_peer(int timeout_ms) {
  if (!readable(fd_.get(), timeout_ms)) return std::nullopt;
  sockaddr_storage from;
  socklen_t flen = sizeof from;
  UniqueFd c(::accept4(fd_.get(), reinterpret_cast<sockaddr*>(&from), &flen, SOCK_CLOEXEC));
  if (!c) return std::nullopt;
  return address_of(from);
}

std::string tcp_connect(const TestNetns& ns, const std::string& dst, uint16_t port, int timeout_ms) {
  UniqueFd s = ns.socket(family_of(dst), SOCK_STREAM | SOCK_NONBLOCK);
  if (!s) return err("socket");
  sockaddr_storage ss;
  socklen_t len = make_sockaddr(dst, port, 0, &ss);
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&ss), len) == 0) return "";
  if (errno != EINPROGRESS) return err("connect");
  struct pollfd p = {s.get(), POLLOUT, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return "connect: no answer within " + std::to_string(timeout_ms) + " ms";
  int so_error = 0;
  socklen_t sl = sizeof so_error;
  ::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &so_error, &sl);
  return so_error == 0 ? "" : std::string("connect: ") + std::strerror(so_error);
}

Frame arp_frame(uint16_t op, const MacAddress& eth_src, const MacAddress& eth_dst, const MacAddress& sha,
                const std::string& spa, const MacAddress& tha, const std::string& tpa) {
  Frame f;
  put_mac(f, eth_dst);
  put_mac(f, eth_src);
  put16(f, ETH_P_ARP);
  put16(f, 1);  // Ethernet
  put16(f, ETH_P_IP);
  f.push_back(6);
  f.push_back(4);
  put16(f, op);
  put_mac(f, sha);
  put_ip4(f, spa);
  put_mac(f, tha);
  put_ip4(f, tpa);
  return f;
}

Frame ipv4_udp_frame(const MacAddress& eth_src, const MacAddress& eth_dst, const std::string& src,
                     const std::string& dst, uint16_t sport, uint16_t dport, const std::string& payload) {
  Frame f;
  put_mac(f, eth_dst);
  put_mac(f, eth_src);
  put16(f, ETH_P_IP);
  size_t ip = f.size();
  f.push_back(0x45);
  f.push_back(0);
  put16(f, static_cast<uint16_t>(20 + 8 + payload.size()));
  put16(f, 0);
  put16(f, 0x4000);  // DF
  f.push_back(64);
  f.push_back(IPPROTO_UDP);
  put16(f, 0);
  put_ip4(f, src);
  put_ip4(f, dst);
  uint16_t sum = ip_checksum(&f[ip], 20);
  f[ip + 10] = static_cast<uint8_t>(sum >> 8);
  f[ip + 11] = static_cast<uint8_t>(sum);
  put16(f, sport);
  put16(f, dport);
  put16(f, static_cast<uint16_t>(8 + payload.size()));
  put16(f, 0);
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

Frame vlan_tagged(const Frame& frame, uint16_t vid) {
  Frame f(frame.begin(), frame.begin() + 12);
  put16(f, ETH_P_8021Q);
  put16(f, vid);
  f.insert(f.end(), frame.begin() + 12, frame.end());
  return f;
}

std::string send_frame(const TestNetns& ns, const std::string& ifname, const Frame& frame) {
  UniqueFd s = ns.socket(AF_PACKET, SOCK_RAW, 0);
  if (!s) return err("AF_PACKET socket");
  struct sockaddr_ll ll = {};
  ll.sll_family = AF_PACKET;
  ll.sll_ifindex = ifindex_via(s.get(), ifname);
  ll.sll_halen = 6;
  std::memcpy(ll.sll_addr, frame.data(), 6);
  if (ll.sll_ifindex == 0) return "no link `" + ifname + "`";
  if (::sendto(s.get(), frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&ll), sizeof ll) < 0)
    return err("send frame on `" + ifname + "`");
  return "";
}

FrameCapture::FrameCapture(const TestNetns& ns, const std::string& ifname) {
  UniqueFd s = ns.socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  if (!s) return;
  struct sockaddr_ll ll = {};
  ll.sll_family = AF_PACKET;
  ll.sll_protocol = htons(ETH_P_ALL);
  ll.sll_ifindex = ifindex_via(s.get(), ifname);
  if (ll.sll_ifindex == 0 || ::bind(s.get(), reinterpret_cast<sockaddr*>(&ll), sizeof ll) < 0) return;
  int size = 16 << 20;  // a capture read only at the end of a busy test keeps every frame
  (void)::setsockopt(s.get(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
  fd_ = std::move(s);
}

bool FrameCapture::wait_for(const std::function<bool(const uint8_t*, size_t)>& match, int timeout_ms) {
  for (int64_t end = now_ms() + timeout_ms; now_ms() < end;) {
    if (!readable(fd_.get(), static_cast<int>(end - now_ms()))) break;
    uint8_t buf[2048];
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n > 0 && match(buf, static_cast<size_t>(n))) return true;
  }
  return false;
}

bool FrameCapture::saw(const std::string& marker, int timeout_ms) {
  return wait_for([&](const uint8_t* p, size_t n) {
    return std::string_view(reinterpret_cast<const char*>(p), n).find(marker) != std::string_view::npos;
  }, timeout_ms);
}

bool FrameCapture::arp_reply_from(const std::string& spa, int timeout_ms) {
  auto want = IpAddress::parse(spa);
  // Ethernet (14) + ARP: op at 14+6, sender IP at 14+14.
  return wait_for([&](const uint8_t* p, size_t n) {
    return n >= 42 && p[12] == 0x08 && p[13] == 0x06 && p[20] == 0 && p[21] == 2 &&
           std::memcmp(p + 28, want->bytes.data(), 4) == 0;
  }, timeout_ms);
}

std::pair<int, int> FrameCapture::count_announcements(const std::string& ipv4, const std::string& ipv6,
                                                     const MacAddress& mac, int window_ms) {
  auto v4 = IpAddress::parse(ipv4);
  auto v6 = IpAddress::parse(ipv6);
  if (!v4 || !v6) return {-1, -1};
  auto garp = [&](const uint8_t* p, size_t n) {
    return n >= 42 && p[12] == 0x08 && p[13] == 0x06 && std::memcmp(p + 22, mac.bytes.data(), 6) == 0 &&
           std::memcmp(p + 28, v4->bytes.data(), 4) == 0 && std::memcmp(p + 38, v4->bytes.data(), 4) == 0;
  };
  // Ethernet (14), IPv6 (40), then the advertisement: type 136, flags at +4, target at +8.
  auto na = [&](const uint8_t* p, size_t n) {
    const uint8_t* m = p + 54;
    return n >= 78 && p[12] == 0x86 && p[13] == 0xdd && p[20] == IPPROTO_ICMPV6 && m[0] == ND_NEIGHBOR_ADVERT &&
           (m[4] & 0x20) && std::memcmp(m + 8, v6->bytes.data(), 16) == 0;
  };
  std::pair<int, int> count{0, 0};
  wait_for([&](const uint8_t* p, size_t n) {
    if (n < 14 || std::memcmp(p + 6, mac.bytes.data(), 6) != 0) return false;
    if (garp(p, n)) ++count.first;
    if (na(p, n)) ++count.second;
    return false;
  }, window_ms);
  return count;
}

std::string send_neighbour_advert(const TestNetns& ns, const std::string& ifname, const std::string& target,
                                  const MacAddress& mac) {
  UniqueFd s = ns.socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
  if (!s) return err("raw ICMPv6 socket");
  int index = ifindex_via(s.get(), ifname), hops = 255;
  if (::setsockopt(s.get(), IPPROTO_IPV6, IPV6_MULTICAST_IF, &index, sizeof index) < 0 ||
      ::setsockopt(s.get(), IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) < 0)
    return err("set multicast options");
  Frame msg = {ND_NEIGHBOR_ADVERT, 0, 0, 0, 0x20, 0, 0, 0};  // type, code, checksum (the kernel's), flags: O
  auto t = IpAddress::parse(target);
  msg.insert(msg.end(), t->bytes.begin(), t->bytes.end());
  msg.push_back(ND_OPT_TARGET_LINKADDR);
  msg.push_back(1);
  put_mac(msg, mac);
  sockaddr_storage ss;
  socklen_t len = make_sockaddr("ff02::1", 0, index, &ss);
  if (::sendto(s.get(), msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&ss), len) < 0)
    return err("send neighbour advertisement");
  return "";
}

}  // namespace cove::test
