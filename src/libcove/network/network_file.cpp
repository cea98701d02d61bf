#include "network/network_file.hpp"

#include <fmt/format.h>

#include "base/strings.hpp"
#include "config/ini_reader.hpp"

namespace cove::network {
namespace {

constexpr const char* kSection = "network";
constexpr const char* kKeys = "ipv4, ipv6, nat, dhcp";

// The checks of one address of the bridge; "" when it is usable.
std::string address_problem(const IpPrefix& p) {
  if (p.address.is_v4()) {
    if (p.prefix < 8 || p.prefix > 30) return fmt::format("prefix /{} is outside /8../30", p.prefix);
    IpPrefix net = p.network();
    if (p.address == net.address) return fmt::format("`{}` is the network address of `{}`", p.address.str(), net.str());
    auto last = net.nth((uint64_t{1} << (32 - p.prefix)) - 1);
    if (last && p.address == *last) return fmt::format("`{}` is the broadcast address of `{}`", p.address.str(), net.str());
    if (p.address.bytes[0] == 127 || p.address.bytes[0] >= 224)
      return fmt::format("`{}` is not a unicast address for a link", p.address.str());
    return "";
  }
  if (p.prefix < 8 || p.prefix > 126) return fmt::format("prefix /{} is outside /8../126", p.prefix);
  if (p.address == p.network().address)
    return fmt::format("`{}` is the subnet-router anycast address of `{}`", p.address.str(), p.network().str());
  if (p.address.bytes[0] == 0xff || (p.address.bytes[0] == 0xfe && (p.address.bytes[1] & 0xc0) == 0x80) ||
      p.address.is_unspecified())
    return fmt::format("`{}` is not a global or unique local address", p.address.str());
  return "";
}

struct KeyUse {
  const char* allowed;
  Result<void> (*apply)(ManagedNetwork&, const std::string&);
};

Result<void> apply_bool(bool& field, const std::string& value) {
  auto b = parse_bool(value);
  if (!b) return Error::invalid(fmt::format("`{}` is not a boolean", value));
  field = *b;
  return {};
}

const KeyUse* find_key(const std::string& key) {
  static const KeyUse kIpv4{"ADDRESS/PREFIX (prefix 8..30), none",
                            [](ManagedNetwork& n, const std::string& v) -> Result<void> {
                              auto a = parse_network_address(v, AF_INET);
                              if (!a) return std::move(a).error();
                              n.ipv4 = *a;
                              return {};
                            }};
  static const KeyUse kIpv6{"ADDRESS/PREFIX (prefix 8..126), none",
                            [](ManagedNetwork& n, const std::string& v) -> Result<void> {
                              auto a = parse_network_address(v, AF_INET6);
                              if (!a) return std::move(a).error();
                              n.ipv6 = *a;
                              return {};
                            }};
  static const KeyUse kNat{"true, false", [](ManagedNetwork& n, const std::string& v) { return apply_bool(n.nat, v); }};
  static const KeyUse kDhcp{"true, false",
                            [](ManagedNetwork& n, const std::string& v) { return apply_bool(n.dhcp, v); }};
  if (key == "ipv4") return &kIpv4;
  if (key == "ipv6") return &kIpv6;
  if (key == "nat") return &kNat;
  if (key == "dhcp") return &kDhcp;
  return nullptr;
}

void apply_item(ManagedNetwork& net, const config::IniItem& it, std::vector<std::string>& errors) {
  std::string at = it.where() + ": ";
  if (it.is_section_header()) {
    if (it.section != kSection) errors.push_back(at + "unknown section `[" + it.section + "]` (allowed: [network])");
    return;
  }
  if (it.section.empty()) {
    errors.push_back(at + "key `" + it.key + "` is outside any section (put it under `[network]`)");
    return;
  }
  if (it.section != kSection) return;  // reported at the header
  const KeyUse* use = find_key(it.key);
  if (!use) {
    errors.push_back(at + "unknown key `" + it.key + "` in [network] (allowed: " + kKeys + ", include)");
    return;
  }
  if (auto r = use->apply(net, it.value); !r)
    errors.push_back(at + "[network] " + it.key + ": " + r.error().message() + " (allowed: " + use->allowed + ")");
}

Result<ManagedNetwork> build(const config::IniDocument& doc, const std::string& file_label, const std::string& name) {
  ManagedNetwork net;
  net.name = name;
  net.bridge = name;
  std::vector<std::string> errors;
  config::apply_items(doc, errors, [&](const config::IniItem& item, std::vector<std::string>& errs) {
    apply_item(net, item, errs);
  });
  if (errors.empty())
    for (const auto& rule : check_network(net)) errors.push_back(file_label + ": " + rule);
  if (!errors.empty()) return Error(EINVAL, join(errors, "\n"));
  return net;
}

}  // namespace

Result<std::optional<IpPrefix>> parse_network_address(const std::string& value, int family) {
  if (value == "none") return std::optional<IpPrefix>{};
  auto p = IpPrefix::parse(value);
  if (!p) return Error::invalid(fmt::format("`{}` is not an address with a prefix", value));
  if (p->address.family != family)
    return Error::invalid(fmt::format("`{}` is not an {} address", value, family == AF_INET ? "IPv4" : "IPv6"));
  if (auto why = address_problem(*p); !why.empty()) return Error::invalid(why);
  return std::optional<IpPrefix>{*p};
}

std::vector<std::string> check_network(const ManagedNetwork& net) {
  std::vector<std::string> out;
  bool any = net.ipv4 || net.ipv6;
  if (net.dhcp && !any) out.push_back("dhcp needs an ipv4 or ipv6 address (or `dhcp = false`)");
  if (net.nat && !any) out.push_back("nat needs an ipv4 or ipv6 address (or `nat = false`)");
  if (net.dhcp && net.ipv6 && net.ipv6->prefix != 64)
    out.push_back(fmt::format("ipv6 `{}` with dhcp needs a /64 (SLAAC), or `dhcp = false`", net.ipv6->str()));
  return out;
}

Result<ManagedNetwork> parse_network_text(const std::string& text, const std::string& file_label,
                                          const std::string& name) {
  return build(config::read_ini_string(text, file_label), file_label, name);
}

Result<ManagedNetwork> parse_network_file(const std::string& path, const std::string& name) {
  auto doc = config::read_ini_file(path);
  if (!doc) return std::move(doc).error();
  return build(*doc, path, name);
}

std::string format_network(const ManagedNetwork& net) {
  return fmt::format("# The managed network `{}` (cove-network(1)).\n[network]\nipv4 = {}\nipv6 = {}\nnat = {}\ndhcp = {}\n",
                     net.name, net.ipv4 ? net.ipv4->str() : "none", net.ipv6 ? net.ipv6->str() : "none",
                     net.nat ? "true" : "false", net.dhcp ? "true" : "false");
}

}  // namespace cove::network
