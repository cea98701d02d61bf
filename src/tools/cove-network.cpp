// cove-network: managed networks (a bridge with an address, NAT, DHCP and DNS): create, delete,
// list, show, up, down; and a running container's NICs: attach, detach, set-rate. One verb per call, dispatched through a table; each verb names the
// options it takes, so that `--force` on `create` is a usage error instead of being ignored.
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <set>

#include <fmt/format.h>

#include "base/strings.hpp"
#include "container.hpp"
#include "network/managed_network.hpp"
#include "network/network_file.hpp"
#include "tools/common/tool_main.hpp"
#include "tools/common/table.hpp"
#include "tools/common/verbs.hpp"

using namespace cove;
using namespace cove::network;
using namespace cove::tools;

namespace {

using Call = VerbCall;

// The options a verb did not list, given on the command line anyway.
const std::set<std::string> kVerbOptions = {"ipv4",  "ipv6",    "nat",    "no-nat", "dhcp",
                                            "no-dhcp", "force", "ingress", "egress", "persist"};

Result<int> do_create(const Call& c) {
  ManagedNetwork net;
  net.name = net.bridge = c.args[0];
  if (auto r = validate_network_name(net.name); !r) return usage_error(r.error().message());
  if (c.flag("nat") && c.flag("no-nat")) return usage_error("--nat and --no-nat exclude each other");
  if (c.flag("dhcp") && c.flag("no-dhcp")) return usage_error("--dhcp and --no-dhcp exclude each other");
  std::string v4 = c.given("ipv4") ? c.text("ipv4") : "auto";
  bool auto_v4 = v4 == "auto";
  if (!auto_v4) {
    auto p = parse_network_address(v4, AF_INET);
    if (!p) return usage_error("--ipv4: " + p.error().message() + " (allowed: ADDRESS/PREFIX, auto, none)");
    net.ipv4 = *p;
  }
  if (c.given("ipv6")) {
    auto p = parse_network_address(c.text("ipv6"), AF_INET6);
    if (!p) return usage_error("--ipv6: " + p.error().message() + " (allowed: ADDRESS/PREFIX, none)");
    net.ipv6 = *p;
  }
  // Without any address, NAT and DHCP have nothing to serve: off unless asked for (then an error).
  bool any = auto_v4 || net.ipv4 || net.ipv6;
  net.nat = c.flag("nat") || (!c.flag("no-nat") && any);
  net.dhcp = c.flag("dhcp") || (!c.flag("no-dhcp") && any);
  if (auto_v4) {
    auto made = create_network_auto_ipv4(net);
    if (!made) return std::move(made).error();
    std::printf("%s: ipv4 %s\n", net.name.c_str(), made->ipv4->str().c_str());
    return 0;
  }
  COVE_TRY(create_network(net));
  return 0;
}

Result<int> do_delete(const Call& c) {
  COVE_TRY(delete_network(c.args[0], c.flag("force")));
  return 0;
}

Result<int> do_up(const Call& c) {
  auto net = load_network(c.args[0]);
  if (!net) return std::move(net).error();
  COVE_TRY(ensure_network_up(*net));
  return 0;
}

Result<int> do_down(const Call& c) {
  if (auto r = validate_network_name(c.args[0]); !r) return usage_error(r.error().message());
  COVE_TRY(bring_network_down(c.args[0]));
  return 0;
}

std::string or_none(const std::optional<IpPrefix>& p) { return p ? p->str() : "none"; }

Result<int> do_list(const Call&) {
  auto names = list_networks();
  if (!names) return std::move(names).error();
  std::vector<std::vector<std::string>> rows = {{"NAME", "BRIDGE", "IPV4", "IPV6", "STATE", "PORTS"}};
  int status = 0;
  for (const auto& n : *names) {
    auto net = load_network(n);
    if (!net) {  // one broken file must not hide the others
      report("cove-network", std::move(net).error().context(fmt::format("network `{}`", n)));
      status = 1;
      continue;
    }
    auto st = network_status(*net);
    if (!st) return std::move(st).error();
    rows.push_back({n, net->bridge, or_none(net->ipv4), or_none(net->ipv6), st->up ? "up" : "down",
                    st->ports.empty() ? "-" : join(st->ports, ",")});
  }
  print_table(rows);
  return status;
}

std::string expiry_text(int64_t t) {
  if (t == 0) return "never";
  time_t tt = static_cast<time_t>(t);
  struct tm tm;
  char buf[32];
  ::localtime_r(&tt, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

Result<int> do_show(const Call& c) {
  auto net = load_network(c.args[0]);
  if (!net) return std::move(net).error();
  auto st = network_status(*net);
  if (!st) return std::move(st).error();
  std::printf("name: %s\nconfig: %s\nbridge: %s\nipv4: %s\nipv6: %s\nnat: %s\ndhcp: %s\n", net->name.c_str(),
              network_file(net->name).c_str(), net->bridge.c_str(), or_none(net->ipv4).c_str(),
              or_none(net->ipv6).c_str(), net->nat ? "true" : "false", net->dhcp ? "true" : "false");
  std::printf("domain: %s\nstate: %s\nports: %s\nnat table: %s\ndnsmasq: %s\n", kNetworkDomain,
              st->up ? "up" : "down", st->ports.empty() ? "-" : join(st->ports, ", ").c_str(),
              st->nat_loaded ? "loaded" : "absent",
              st->dnsmasq_pid ? std::to_string(*st->dnsmasq_pid).c_str() : "not running");
  std::printf("leases:%s\n", st->leases.empty() ? " -" : "");
  for (const auto& l : st->leases)
    std::printf("  %s %s %s expires %s\n", l.address.c_str(), l.mac.c_str(),
                l.hostname.empty() ? "-" : printable(l.hostname).c_str(), expiry_text(l.expiry).c_str());
  std::printf("hosts:%s\n", st->hosts.empty() ? " -" : "");
  for (const auto& h : st->hosts) std::printf("  %s %s\n", h.address.str().c_str(), h.hostname.c_str());
  return 0;
}

// --- A running container's NICs (-n NAME [-P PATH]), through its monitor ---------------------

Result<Container> container_of(const Call& c) {
  if (c.common.name.empty()) return usage_error("this verb needs the container: -n NAME");
  return Container(c.common.lxcpath, c.common.name);
}

Result<int> do_attach(const Call& c) {
  auto ct = container_of(c);
  if (!ct) return std::move(ct).error();
  std::vector<std::string> lines;
  for (size_t i = 1; i < c.args.size(); ++i) {
    auto eq = c.args[i].find('=');
    if (eq == std::string::npos) return usage_error("`" + c.args[i] + "` is not KEY=VALUE (keys: see cove.conf(5), [network.NAME])");
    lines.push_back(c.args[i].substr(0, eq) + " = " + c.args[i].substr(eq + 1));
  }
  COVE_TRY(ct->net_attach(c.args[0], lines, c.flag("persist")));
  return 0;
}

Result<int> do_detach(const Call& c) {
  auto ct = container_of(c);
  if (!ct) return std::move(ct).error();
  COVE_TRY(ct->net_detach(c.args[0], c.flag("persist")));
  return 0;
}

Result<int> do_set_rate(const Call& c) {
  auto ct = container_of(c);
  if (!ct) return std::move(ct).error();
  if (!c.given("ingress") && !c.given("egress")) return usage_error("set-rate needs --ingress RATE and/or --egress RATE");
  for (const char* dir : {"ingress", "egress"})
    if (c.given(dir)) COVE_TRY(ct->net_set(c.args[0], std::string("rate.") + dir, c.text(dir), c.flag("persist")));
  return 0;
}

// The verbs: one row each.
const std::vector<Verb>& verbs() {
  static const std::vector<Verb> kVerbs = {
      {"create", "NAME [--ipv4 CIDR|auto|none] [--ipv6 CIDR|none] [--nat|--no-nat] [--dhcp|--no-dhcp]", 1, 1,
       {"ipv4", "ipv6", "nat", "no-nat", "dhcp", "no-dhcp"}, do_create},
      {"delete", "NAME [--force]", 1, 1, {"force"}, do_delete},
      {"list", "", 0, 0, {}, do_list},
      {"show", "NAME", 1, 1, {}, do_show},
      {"up", "NAME", 1, 1, {}, do_up},
      {"down", "NAME", 1, 1, {}, do_down},
      {"attach", "-n CONTAINER NIC [KEY=VALUE...] [--persist]", 1, 64, {"persist"}, do_attach},
      {"detach", "-n CONTAINER NIC [--persist]", 1, 1, {"persist"}, do_detach},
      {"set-rate", "-n CONTAINER NIC [--ingress RATE|unlimited] [--egress RATE|unlimited] [--persist]", 1, 1,
       {"ingress", "egress", "persist"}, do_set_rate},
  };
  return kVerbs;
}

Result<int> dispatch(const Common& common, const po::variables_map& vm) {
  std::vector<std::string> args;
  auto v = pick_verb("cove-network", verbs(), kVerbOptions, vm, args);
  if (!v) return std::move(v).error();
  return (*v)->run(VerbCall{args, vm, common});
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description o("cove-network options");
  o.add_options()("ipv4", po::value<std::string>(), "create: the bridge's address CIDR, `auto` (default) or `none`")(
      "ipv6", po::value<std::string>(), "create: the bridge's IPv6 address CIDR or `none` (default)")(
      "nat", po::bool_switch(), "create: masquerade the subnets (default with an address)")(
      "no-nat", po::bool_switch(), "create: no NAT")("dhcp", po::bool_switch(),
                                                      "create: run dnsmasq for DHCP and DNS (default with an address)")(
      "no-dhcp", po::bool_switch(), "create: no dnsmasq")("force", po::bool_switch(),
                                                          "delete: even while containers are on the bridge")(
      "ingress", po::value<std::string>(), "set-rate: the NIC's rate.ingress (into the container)")(
      "egress", po::value<std::string>(), "set-rate: the NIC's rate.egress (out of the container)")(
      "persist", po::bool_switch(), "attach, detach, set-rate: also change the container's config")(
      "words", po::value<std::vector<std::string>>(), "VERB and its arguments (positional)");
  static const std::string syn = verb_synopsis("cove-network", verbs());
  ToolSpec spec{"cove-network", syn.c_str(),
                "Manage cove's managed networks: a bridge with an address, NAT, and dnsmasq for DHCP and DNS.", false};
  spec.positional = "words";
  spec.optional_name = true;  // the container of attach, detach, set-rate
  return tool_main(argc, argv, spec, o,
                   [&](const Common& c, const po::variables_map& vm) -> Result<int> { return dispatch(c, vm); });
}
