// dnsmasq for one managed network: its command line (lxc-net's options: DHCP and DNS on the
// bridge's addresses only), its files in the network's run dir, the hosts and lease files'
// formats, and the process: found through its pid file (checked to be a dnsmasq started with
// that pid file: /proc/PID/exe and cmdline), started detached (dnsmasq forks into the background
// itself: its first process exits 0 once the daemon listens, or with an error and a message in
// the log), signalled and stopped through a pidfd. The pure parts are unit-tested.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "base/ip_address.hpp"
#include "base/result.hpp"
#include "network/managed_network.hpp"

namespace cove::network {

inline constexpr const char* kDnsmasqPath = "/usr/sbin/dnsmasq";

struct DnsmasqFiles {
  std::string pid_file, lease_file, hosts_file, log_file;
};
DnsmasqFiles dnsmasq_files(const std::string& network_run_dir);

// The DHCPv4 pool: every host address of the subnet but the bridge's (the larger side of it;
// for the usual .1 that is .2 to the last before the broadcast). nullopt when none is left.
struct Ipv4Range {
  IpAddress first, last;
  bool operator==(const Ipv4Range&) const = default;
};
std::optional<Ipv4Range> dhcp_range_v4(const IpPrefix& bridge_address);
// dnsmasq's IPv6 range: router advertisements for SLAAC on the /64 plus stateless DHCPv6 (DNS),
// "fd42::,ra-stateless,ra-names,64".
std::string dhcp_range_v6(const IpPrefix& bridge_address);

// The whole argv (argv[0] = kDnsmasqPath). `user`: who dnsmasq runs as after binding.
std::vector<std::string> dnsmasq_args(const ManagedNetwork& net, const DnsmasqFiles& files, const std::string& user);
// `dnsmasq` when that user exists (Debian's dnsmasq-base makes it), else `nobody`, as lxc-net.
std::string dnsmasq_user();

// Hosts file lines "ADDRESS HOSTNAME"; comments, blank and malformed lines are dropped.
std::vector<HostEntry> parse_hosts(const std::string& text);
std::string format_hosts(const std::vector<HostEntry>& hosts);
// A DNS label: 1-63 of [A-Za-z0-9-], not starting or ending with '-'.
Result<void> validate_hostname(const std::string& hostname);
// dnsmasq's lease file: "EXPIRY MAC ADDRESS HOSTNAME CLIENTID" ('*' = none); DHCPv6 lines
// ("duid ..." and IAID-keyed ones) are kept with their fields as they are.
std::vector<DhcpLease> parse_leases(const std::string& text);

// Our dnsmasq for `pid_file`: the pid in the file when that process is dnsmasq running with
// `--pid-file=PID_FILE`; else such a process found in /proc (a pid file lost or stale); nullopt
// when none runs.
std::optional<pid_t> find_dnsmasq(const std::string& pid_file);
// Its command line, argv[0] included (empty when it has gone).
std::vector<std::string> process_args(pid_t pid);
// Starts it, detached, and returns the daemon's pid (from the pid file it wrote).
Result<pid_t> start_dnsmasq(const std::vector<std::string>& args, const DnsmasqFiles& files);
// Sends `sig` to `pid` if it still is our dnsmasq for `pid_file` (through a pidfd: no pid reuse
// race); ESRCH when it is not.
Result<void> signal_dnsmasq(pid_t pid, const std::string& pid_file, int sig);
// SIGTERM, up to 5 s, then SIGKILL; waits until it is gone. Gone already = success.
Result<void> stop_dnsmasq(pid_t pid, const std::string& pid_file);

}  // namespace cove::network
