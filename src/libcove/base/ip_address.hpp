// IpAddress and IpPrefix: IPv4/IPv6 addresses as values (network byte order), parsed from and
// printed as text ("10.0.3.5", "fd42::1", "10.0.3.5/24"), and MacAddress ("02:ab:..").
// Mechanism only: no container or config knowledge. Used by config/ (typed NIC keys) and
// network/ (netlink and nftables).
#pragma once

#include <netinet/in.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cove {

struct IpAddress {
  int family = AF_INET;                // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes = {};  // network order; IPv4 uses the first 4

  static std::optional<IpAddress> parse(std::string_view text);  // either family
  std::string str() const;
  size_t size() const { return family == AF_INET ? 4 : 16; }
  unsigned max_prefix() const { return family == AF_INET ? 32 : 128; }
  bool is_v4() const { return family == AF_INET; }
  bool is_unspecified() const;
  bool operator==(const IpAddress&) const = default;
};

// An address with a prefix length: an interface address ("10.0.3.5/24") or a network.
struct IpPrefix {
  IpAddress address;
  unsigned prefix = 32;

  // "ADDR/LEN"; without "/LEN" only when `default_full` (then /32 or /128).
  static std::optional<IpPrefix> parse(std::string_view text, bool default_full = false);
  std::string str() const;                 // "10.0.3.5/24"
  IpPrefix network() const;                // host bits cleared: "10.0.3.0/24"
  bool contains(const IpAddress& a) const; // same family and same network bits
  bool overlaps(const IpPrefix& other) const;
  // The n-th address of the network (n = 1: "10.0.3.1"); nullopt past its end.
  std::optional<IpAddress> nth(uint64_t n) const;
  bool operator==(const IpPrefix&) const = default;
};

struct MacAddress {
  std::array<uint8_t, 6> bytes = {};

  static std::optional<MacAddress> parse(std::string_view text);  // "02:ab:cd:00:11:22"
  // A random locally administered unicast address (first byte 0x02), as a NIC's `hwaddr`.
  static MacAddress random();
  std::string str() const;
  bool is_unicast() const { return (bytes[0] & 1) == 0; }
  bool is_zero() const;
  bool operator==(const MacAddress&) const = default;
};

}  // namespace cove
