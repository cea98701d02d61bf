// Two "hosts" on this machine for migration tests: two network namespaces (named per run under
// /run/netns) linked by a veth pair with an address each, each with its own sshd (started here
// inside its namespace with nsenter, killed by pid), its own cove path, id-range registry and
// network dirs (the sshd's SetEnv gives them to every session), so that every byte of a
// migration crosses the veth. One client key and a known_hosts file with both host keys live
// in the fixture's temp dir. The destructor removes everything: containers on both hosts,
// the sshds, the namespaces (and with them the veths), the temp dir.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "netns_support.hpp"
#include "support.hpp"

namespace cove::test {

struct TestHost {
  std::string label;     // "a" / "b"
  std::string netns;     // under /run/netns
  std::string addr;      // on its end of the veth
  std::string ifname;    // its end of the veth
  std::string dir;       // its private files: host config (cove.conf), sshd config, host key, state/
  std::string path;      // its cove path
  std::string registry;  // COVE_IDMAP_REGISTRY
  pid_t sshd = 0;
  std::vector<std::string> env() const;  // what its sessions get
};

// An L2 segment spanning both hosts: a bridge of one name in each host's netns, and a "switch"
// namespace whose bridge `sw` is joined to each host's bridge by a veth trunk (switch ports `ta`
// and `tb`) and to a peer namespace standing for the outside (port `tp`; the peer's `eth0` holds
// `peer_v4`/24 and `peer_v6`/64). The switch and the peer are held by fds only: destroying the
// Segment removes them with the trunks and the peer's sockets' namespace; the hosts' bridges go
// with the hosts.
struct Segment {
  std::string bridge;
  std::string peer_v4, peer_v6;
  TestNetns sw, peer;
  std::string error;  // empty when it is up
  // `bridge fdb show br sw` in the switch: the port the switch forwards `mac` to ("" = none).
  std::string switch_port_of(const std::string& mac) const;
};

class TwoHosts {
 public:
  TwoHosts();
  ~TwoHosts();
  TwoHosts(const TwoHosts&) = delete;
  TwoHosts& operator=(const TwoHosts&) = delete;

  // Empty when both hosts are up; else what failed.
  const std::string& error() const { return error_; }
  TestHost a, b;

  // A cove tool of the build tree run "on" host `h`: in its netns, with its environment.
  RunResult cove(const TestHost& h, const std::string& tool, const std::string& name,
                 const std::vector<std::string>& args = {}, int timeout_s = 60,
                 const std::vector<std::string>& extra_env = {});
  // cove-migrate -n NAME on `from` to `to` (ssh://root@ADDR/PATH), with the test's ssh key.
  RunResult migrate(const TestHost& from, const std::string& name, const TestHost& to,
                    const std::vector<std::string>& args = {}, const std::vector<std::string>& extra_env = {});
  // The segment of bridge `bridge` on both hosts, the peer at `peer_v4` and `peer_v6`.
  std::unique_ptr<Segment> make_segment(const std::string& bridge, const std::string& peer_v4,
                                        const std::string& peer_v6);
  // Remembered for the cleanup: destroyed on both hosts at the end.
  void track(const std::string& name) { names_.push_back(name); }
  void kill_sshd(TestHost& h);
  // Restarts `h`'s sshd with `extra` (VAR=VALUE) added to what its sessions get.
  std::string restart_sshd(TestHost& h, const std::vector<std::string>& extra);
  // `ip link set down` of both ends of the veth.
  void cut_link();
  // Names of the containers in `h`'s cove path (directories).
  std::vector<std::string> containers(const TestHost& h) const;
  // Lines of `h`'s registry that name a container (comments aside).
  std::vector<std::string> registry_entries(const TestHost& h) const;

 private:
  std::string setup(TestHost& h, const std::string& label, const std::string& addr);
  bool write_sshd_config(const TestHost& h, const std::vector<std::string>& extra_env);
  std::string start_sshd(TestHost& h);
  void destroy_containers(const TestHost& h);
  std::string dir_, key_, known_hosts_, veth_a_, veth_b_;
  std::vector<std::string> names_;
  std::string error_;
};

}  // namespace cove::test
