#include "base/ip_address.hpp"

#include <arpa/inet.h>
#include <sys/random.h>

#include <algorithm>
#include <cstdio>

#include "base/strings.hpp"

namespace cove {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  std::string s(text);
  IpAddress a;
  if (s.find(':') == std::string::npos) {
    a.family = AF_INET;
    if (::inet_pton(AF_INET, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
  } else {
    a.family = AF_INET6;
    if (::inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
  }
  return a;
}

std::string IpAddress::str() const {
  char buf[INET6_ADDRSTRLEN];
  if (!::inet_ntop(family, bytes.data(), buf, sizeof buf)) return "?";
  return buf;
}

bool IpAddress::is_unspecified() const {
  return std::all_of(bytes.begin(), bytes.begin() + static_cast<long>(size()), [](uint8_t b) { return b == 0; });
}

std::optional<IpPrefix> IpPrefix::parse(std::string_view text, bool default_full) {
  size_t slash = text.find('/');
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  IpPrefix p{*addr, addr->max_prefix()};
  if (slash == std::string_view::npos) {
    if (!default_full) return std::nullopt;
    return p;
  }
  auto n = parse_uint(std::string(text.substr(slash + 1)));
  if (!n || *n > addr->max_prefix()) return std::nullopt;
  p.prefix = static_cast<unsigned>(*n);
  return p;
}

std::string IpPrefix::str() const { return address.str() + "/" + std::to_string(prefix); }

IpPrefix IpPrefix::network() const {
  IpPrefix n = *this;
  for (unsigned bit = prefix; bit < address.max_prefix(); ++bit) n.address.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  return n;
}

bool IpPrefix::contains(const IpAddress& a) const {
  if (a.family != address.family) return false;
  IpPrefix other{a, prefix};
  return other.network().address == network().address;
}

bool IpPrefix::overlaps(const IpPrefix& other) const {
  if (other.address.family != address.family) return false;
  return contains(other.address) || other.contains(address);
}

std::optional<IpAddress> IpPrefix::nth(uint64_t n) const {
  unsigned host_bits = address.max_prefix() - prefix;
  if (host_bits < 64 && n >= (uint64_t{1} << host_bits)) return std::nullopt;
  IpAddress a = network().address;
  size_t i = a.size();
  uint64_t carry = n;
  while (carry && i > 0) {
    --i;
    uint64_t sum = a.bytes[i] + (carry & 0xff);
    a.bytes[i] = static_cast<uint8_t>(sum);
    carry = (carry >> 8) + (sum >> 8);
  }
  return a;
}

std::optional<MacAddress> MacAddress::parse(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  MacAddress m;
  for (size_t i = 0; i < 6; ++i) {
    if (i > 0 && text[i * 3 - 1] != ':') return std::nullopt;
    unsigned v = 0;
    for (size_t j = 0; j < 2; ++j) {
      char c = text[i * 3 + j];
      int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
      if (d < 0) return std::nullopt;
      v = v * 16 + static_cast<unsigned>(d);
    }
    m.bytes[i] = static_cast<uint8_t>(v);
  }
  return m;
}

MacAddress MacAddress::random() {
  MacAddress m;
  if (::getrandom(m.bytes.data(), m.bytes.size(), 0) != static_cast<ssize_t>(m.bytes.size())) {
    for (auto& b : m.bytes) b = static_cast<uint8_t>(std::rand());
  }
  m.bytes[0] = 0x02;  // locally administered, unicast
  if (m.is_zero()) m.bytes[5] = 1;
  return m;
}

std::string MacAddress::str() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2], bytes[3], bytes[4],
                bytes[5]);
  return buf;
}

bool MacAddress::is_zero() const {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

}  // namespace cove
