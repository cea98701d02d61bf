// Managed networks, the config side: paths, names, the locks, and the config files (load,
// create with its clash checks, the default network, delete, list). The host side (up, down,
// reconcile, hosts, status) is in network_runtime.cpp.
#include "network/managed_network.hpp"

#include <sys/file.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "base/clock.hpp"
#include "base/dir.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "host_config.hpp"
#include "network/host_prefixes.hpp"
#include "network/link.hpp"
#include "network/netlink.hpp"
#include "network/network_file.hpp"

namespace cove::network {
namespace {

constexpr int kLockTimeoutMs = 30000;

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

Result<UniqueFd> lock_config_files() { return lock_removable_file(network_rundir() + "/.lock", "the network configs", kLockTimeoutMs); }

std::optional<IpPrefix> subnet_of(const std::optional<IpPrefix>& p) {
  if (!p) return std::nullopt;
  return p->network();
}

// The subnets of every other managed network, as taken prefixes. A file that does not parse is
// skipped with a warning: its subnet is unknown, and it must not block every other create.
std::vector<TakenPrefix> other_networks(const std::string& except) {
  std::vector<TakenPrefix> out;
  auto names = list_networks();
  if (!names) return out;
  for (const auto& n : *names) {
    if (n == except) continue;
    auto net = parse_network_file(network_file(n), n);
    if (!net) {
      log::warn("network `{}`: {}", n, net.error().message());
      continue;
    }
    for (const auto& p : {net->ipv4, net->ipv6})
      if (p) out.push_back({p->network(), fmt::format("network `{}` (`{}`)", n, p->str())});
  }
  return out;
}

Result<std::vector<TakenPrefix>> taken_prefixes(const std::string& except) {
  auto sock = NetlinkSocket::open();
  if (!sock) return std::move(sock).error();
  auto host = host_prefixes(*sock);
  if (!host) return std::move(host).error().context("read the host's addresses and routes");
  auto taken = other_networks(except);
  taken.insert(taken.end(), host->begin(), host->end());
  return taken;
}

// The checks of create_network that need the host: the name and the subnets are free.
Result<void> check_free(const ManagedNetwork& net) {
  if (path_exists(network_file(net.name))) return Error(EEXIST, fmt::format("network `{}` exists", net.name));
  auto sock = NetlinkSocket::open();
  if (!sock) return std::move(sock).error();
  auto link = find_link(*sock, net.name);
  if (!link) return std::move(link).error();
  if (*link) return Error(EEXIST, fmt::format("a link named `{}` exists on the host", net.name));
  auto taken = taken_prefixes(net.name);
  if (!taken) return std::move(taken).error();
  for (const auto& [key, p] : {std::pair{"ipv4", net.ipv4}, std::pair{"ipv6", net.ipv6}}) {
    if (!p) continue;
    if (const TakenPrefix* t = find_overlap(*p, *taken))
      return Error(EADDRINUSE, fmt::format("{} `{}` (subnet `{}`) overlaps {}", key, p->str(), subnet_of(p)->str(),
                                           t->owner));
  }
  return {};
}

Result<void> write_network_file(const ManagedNetwork& net) {
  if (auto r = mkdir_p(network_dir(), 0755); !r) return std::move(r).error();
  if (auto r = write_file_atomic(network_file(net.name), format_network(net), 0644); !r)
    return std::move(r).error().context(fmt::format("write network `{}`", net.name));
  log::debug("network `{}` created: {}", net.name, network_file(net.name));
  return {};
}

Result<void> check_new(const ManagedNetwork& net) {
  if (auto r = validate_network_name(net.name); !r) return r;
  if (!net.bridge.empty() && net.bridge != net.name)
    return Error::invalid(fmt::format("bridge `{}` must be the network's name `{}`", net.bridge, net.name));
  if (auto rules = check_network(net); !rules.empty())
    return Error(EINVAL, join(rules, "; "));
  return {};
}

}  // namespace

std::string network_dir() { return env_or("COVE_NETWORK_DIR", host_config().network_dir); }
std::string network_rundir() { return env_or("COVE_NETWORK_RUNDIR", host_config().runtime_dir + "/networks"); }
std::string network_file(const std::string& name) { return network_dir() + "/" + name + ".conf"; }
std::string network_run_dir(const std::string& name) { return network_rundir() + "/" + name; }

Result<void> validate_network_name(const std::string& name) {
  if (name.empty() || name.size() > 15)
    return Error::invalid(fmt::format("network name `{}` must have 1 to 15 characters (a bridge name)", printable(name)));
  if (name[0] == '-') return Error::invalid(fmt::format("network name `{}` must not start with '-'", name));
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok)
      return Error::invalid(fmt::format("network name `{}` has character `{}` (allowed: letters, digits, _ -)",
                                        printable(name), printable(std::string(1, c))));
  }
  return {};
}

Result<NetworkLock> NetworkLock::acquire(const std::string& name) {
  if (auto r = validate_network_name(name); !r) return std::move(r).error();
  auto fd = lock_removable_file(network_run_dir(name) + "/lock", fmt::format("network `{}`", name), kLockTimeoutMs);
  if (!fd) return std::move(fd).error();
  return NetworkLock(name, std::move(*fd));
}

Result<ManagedNetwork> load_network(const std::string& name) {
  if (auto r = validate_network_name(name); !r) return std::move(r).error();
  std::string path = network_file(name);
  if (!path_exists(path)) {
    if (name == kDefaultNetwork) return create_default_network(name);
    return Error(ENOENT, fmt::format("no network `{}` (no `{}`)", name, path));
  }
  return parse_network_file(path, name);
}

bool is_managed_network(const std::string& name) {
  if (!validate_network_name(name)) return false;
  return name == kDefaultNetwork || path_exists(network_file(name));
}

Result<void> create_network(const ManagedNetwork& in) {
  ManagedNetwork net = in;
  net.bridge = net.name;
  if (auto r = check_new(in); !r) return std::move(r).error().context(fmt::format("create network `{}`", in.name));
  auto lock = lock_config_files();
  if (!lock) return std::move(lock).error();
  if (auto r = check_free(net); !r) return std::move(r).error().context(fmt::format("create network `{}`", net.name));
  return write_network_file(net);
}

Result<ManagedNetwork> create_network_auto_ipv4(const ManagedNetwork& in) {
  auto err = [&](Error e) { return std::move(e).context(fmt::format("create network `{}`", in.name)); };
  ManagedNetwork net = in;
  net.bridge = net.name;
  net.ipv4 = IpPrefix{*IpAddress::parse("10.0.3.1"), 24};  // a stand-in for the checks of the other keys
  if (auto r = check_new(net); !r) return err(std::move(r).error());
  auto lock = lock_config_files();
  if (!lock) return std::move(lock).error();
  auto taken = taken_prefixes(net.name);
  if (!taken) return err(std::move(taken).error());
  net.ipv4 = choose_default_subnet(*taken);
  if (!net.ipv4) return err(Error(EADDRNOTAVAIL, "every 10.0.N.0/24 (N = 3..254) overlaps the host or a network"));
  if (auto r = check_free(net); !r) return err(std::move(r).error());
  if (auto r = write_network_file(net); !r) return std::move(r).error();
  return net;
}

Result<ManagedNetwork> create_default_network(const std::string& name) {
  {
    auto lock = lock_config_files();
    if (!lock) return std::move(lock).error();
    if (path_exists(network_file(name))) return parse_network_file(network_file(name), name);
  }
  ManagedNetwork net;
  net.name = name;
  auto made = create_network_auto_ipv4(net);
  if (!made && made.error().code() == EEXIST && path_exists(network_file(name)))  // created in between
    return parse_network_file(network_file(name), name);
  return made;
}

Result<void> delete_network(const std::string& name, bool force) {
  auto err = [&](Error e) { return std::move(e).context(fmt::format("delete network `{}`", name)); };
  if (auto r = validate_network_name(name); !r) return err(std::move(r).error());
  // Checked before the lock too: deleting a network that never existed makes no run directory.
  if (!path_exists(network_file(name))) return err(Error(ENOENT, fmt::format("no network `{}`", name)));
  auto lock = lock_config_files();
  if (!lock) return std::move(lock).error();
  if (!path_exists(network_file(name))) return err(Error(ENOENT, fmt::format("no network `{}`", name)));
  if (!force) {
    auto status = network_status(ManagedNetwork{name, name, {}, {}, false, false});
    if (!status) return err(std::move(status).error());
    if (!status->ports.empty())
      return err(Error(EBUSY, fmt::format("bridge `{}` has ports `{}` (containers on the network; force deletes it "
                                          "anyway)", name, join(status->ports, "`, `"))));
  }
  if (auto r = bring_network_down(name); !r) return err(std::move(r).error());
  if (::unlink(network_file(name).c_str()) < 0 && errno != ENOENT)
    return err(Error::from_errno(errno, "remove `" + network_file(name) + "`"));
  return {};
}

Result<std::vector<std::string>> list_networks() {
  std::vector<std::string> names;
  if (!is_directory(network_dir())) return names;
  auto d = Dir::open(network_dir());
  if (!d) return std::move(d).error().context("list networks");
  for (const DirEntry& ent : *d) {
    std::string n(ent.name);
    if (n.size() <= 5 || n.substr(n.size() - 5) != ".conf") continue;
    n.resize(n.size() - 5);
    if (validate_network_name(n)) names.push_back(n);
  }
  if (d->error()) return Error::from_errno(d->error(), "list networks: read `" + network_dir() + "`");
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<IpAddress> gateway_of(const ManagedNetwork& net, int family) {
  const auto& p = family == AF_INET6 ? net.ipv6 : net.ipv4;
  if (!p) return std::nullopt;
  return p->address;
}

}  // namespace cove::network
