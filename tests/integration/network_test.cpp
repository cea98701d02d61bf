// Container networks end to end ([network.NAME] sections, cove-network): real bridges, veths,
// macvlan, dnsmasq, nftables and tc, driven through the cove-* tools. Every test makes its own
// bridge or managed network, namespaces standing for "the outside", and subnets under 10.2xx
// that it checks are free; traffic goes only to addresses on links the test made. TearDown
// removes the containers first (their monitors remove their host side), then the test's own
// links and namespaces, and checks that the containers' recorded host links are gone.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>

#include <atomic>
#include <future>
#include <mutex>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "support.hpp"

namespace cove::test {
namespace {

bool link_exists(const std::string& name) { return ::access(("/sys/class/net/" + name).c_str(), F_OK) == 0; }

RunResult ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_cmd(argv, 20);
}

// Runs argv inside the network namespace of `pid` only (a host tool, e.g. iperf3, on the
// container's interfaces).
RunResult in_netns_of(pid_t pid, const std::vector<std::string>& argv, int timeout_s = 30) {
  std::vector<std::string> a = {"nsenter", "--net=/proc/" + std::to_string(pid) + "/ns/net", "--"};
  a.insert(a.end(), argv.begin(), argv.end());
  return run_cmd(a, timeout_s);
}

// A /24 of 10.2XX.Y.0 that no host address or route touches.
std::string free_subnet(int first_octet2) {
  std::string routes = ip({"-4", "route", "show", "table", "all"}).out + ip({"-4", "addr"}).out;
  for (int y = (::getpid() % 200) + 20; y < 255; ++y) {
    std::string net = "10." + std::to_string(first_octet2) + "." + std::to_string(y) + ".";
    if (routes.find(net) == std::string::npos) return net;
  }
  return "";
}

// One TCP connection: connect (with a timeout), send `msg`, read until EOF. "" on failure.
std::string tcp_exchange(const std::string& addr, int port, const std::string& msg = "", int timeout_ms = 3000) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
  std::string out;
  int r = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  pollfd p{fd, POLLOUT, 0};
  int64_t deadline = now_ms() + timeout_ms;
  if (r < 0 && errno == EINPROGRESS && ::poll(&p, 1, timeout_ms) == 1) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    r = err ? -1 : 0;
  }
  if (r == 0) {
    if (!msg.empty()) (void)::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL);
    char buf[4096];
    while (now_ms() < deadline) {
      p = {fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(deadline - now_ms())) != 1) break;
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

// A TCP listener bound to `addr` that answers each connection with "host\n" and remembers the
// peers' addresses; in the network namespace /run/netns/NETNS when one is named (its thread
// joins it: the socket belongs to the namespace it is made in).
class HostListener {
 public:
  HostListener(const std::string& addr, int port, const std::string& netns = "") {
    std::promise<bool> ready;
    auto made = ready.get_future();
    thread_ = std::thread([this, addr, port, netns, &ready] {
      if (!netns.empty()) {
        int ns = ::open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
        bool in = ns >= 0 && ::setns(ns, CLONE_NEWNET) == 0;
        if (ns >= 0) ::close(ns);
        if (!in) {
          ready.set_value(false);
          return;
        }
      }
      fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      int one = 1;
      ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(static_cast<uint16_t>(port));
      ::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
      bool ok = ::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 && ::listen(fd_, 8) == 0;
      ready.set_value(ok);
      if (ok) serve();
    });
    ok_ = made.get();
  }
  ~HostListener() {
    stop_ = true;
    thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return ok_; }
  std::vector<std::string> peers() {
    std::lock_guard<std::mutex> g(mu_);
    return peers_;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) != 1) continue;
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      int c = ::accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
      if (c < 0) continue;
      char buf[INET_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET, &peer.sin_addr, buf, sizeof buf);
      {
        std::lock_guard<std::mutex> g(mu_);
        peers_.push_back(buf);
      }
      (void)::send(c, "host\n", 5, MSG_NOSIGNAL);
      ::close(c);
    }
  }
  int fd_ = -1;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> peers_;
};

class NetworkTest : public ContainerTest {
 protected:
  void SetUp() override {
    ContainerTest::SetUp();
    if (IsSkipped()) return;
    tag_ = std::to_string(::getpid() % 100000);
    // Outside the cove path, which ContainerTest::TearDown removes before the networks go.
    std::string tmpl = scratch_dir() + "/cove-net-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    net_root_ = tmpl;
    // dnsmasq re-reads its hosts file as the unprivileged `dnsmasq` user (as under /run/cove).
    ASSERT_EQ(::chmod(net_root_.c_str(), 0755), 0);
    net_dir_ = net_root_ + "/networks";
    run_dir_ = net_root_ + "/run";
    ::setenv("COVE_NETWORK_DIR", net_dir_.c_str(), 1);
    ::setenv("COVE_NETWORK_RUNDIR", run_dir_.c_str(), 1);
    forward_was_ = trim_str(read_text("/proc/sys/net/ipv4/ip_forward"));
  }

  void TearDown() override {
    // The containers' host links, as their monitors recorded them, for the leftover check.
    std::vector<std::string> recorded;
    for (const auto& n : names_) {
      auto st = nlohmann::json::parse(read_text(runtime_dir(n) + "/state"), nullptr, false);
      if (st.is_object())
        for (const auto& l : st.value("host_links", std::vector<std::string>{})) recorded.push_back(l);
    }
    ContainerTest::TearDown();
    for (const auto& n : managed_) {
      auto d = run_tool("cove-network", {"delete", n, "--force"});
      EXPECT_EQ(d.status, 0) << d.err;
    }
    if (!net_root_.empty()) run_cmd({"rm", "-rf", "--one-file-system", net_root_});
    for (const auto& l : links_) ip({"link", "del", l});
    for (const auto& ns : netns_) ip({"netns", "del", ns});
    for (const auto& l : recorded) EXPECT_FALSE(link_exists(l)) << "left over: " << l;
    std::string tables = run_cmd({"nft", "list", "tables"}).out;
    for (const auto& n : names_) EXPECT_EQ(tables.find("cove-c-" + n + "-"), std::string::npos) << "left over table of " << n;
    for (const auto& n : managed_) EXPECT_FALSE(link_exists(n)) << "left over bridge: " << n;
    if (!forward_was_.empty()) {
      std::ofstream f("/proc/sys/net/ipv4/ip_forward");
      f << forward_was_;
    }
    ::unsetenv("COVE_NETWORK_DIR");
    ::unsetenv("COVE_NETWORK_RUNDIR");
  }

  // A host bridge with `prefix`.1/24 (a plain bridge, not a managed network).
  std::string make_bridge(const std::string& prefix) {
    std::string br = "cvtb" + tag_;
    EXPECT_EQ(ip({"link", "add", br, "type", "bridge"}).status, 0);
    links_.push_back(br);
    EXPECT_EQ(ip({"addr", "add", prefix + "1/24", "dev", br}).status, 0);
    EXPECT_EQ(ip({"link", "set", br, "up"}).status, 0);
    return br;
  }

  // A namespace "outside" the host, joined to it by a veth: host side `prefix`.1/30, outside
  // `prefix`.2/30. Returns the namespace's name.
  std::string make_outside(const std::string& prefix) {
    std::string ns = "cvto" + tag_;
    std::string host_end = "cvtoh" + tag_;
    EXPECT_EQ(ip({"netns", "add", ns}).status, 0);
    netns_.push_back(ns);
    EXPECT_EQ(ip({"link", "add", host_end, "type", "veth", "peer", "name", "out0", "netns", ns}).status, 0);
    links_.push_back(host_end);
    EXPECT_EQ(ip({"addr", "add", prefix + "1/30", "dev", host_end}).status, 0);
    EXPECT_EQ(ip({"link", "set", host_end, "up"}).status, 0);
    EXPECT_EQ(ip({"-n", ns, "addr", "add", prefix + "2/30", "dev", "out0"}).status, 0);
    EXPECT_EQ(ip({"-n", ns, "link", "set", "out0", "up"}).status, 0);
    EXPECT_EQ(ip({"-n", ns, "link", "set", "lo", "up"}).status, 0);
    return ns;
  }

  void start(const std::string& name) {
    auto r = cove("cove-start", name);
    ASSERT_EQ(r.status, 0) << r.err;
  }
  // A TCP server in the container answering "NAME\n" on `port`, until the container stops.
  void serve_in(const std::string& name, int port) {
    auto r = cove("cove-attach", name,
                  {"--", "/bin/sh", "-c", "nc -ll -p " + std::to_string(port) + " -e echo " + name + " >/dev/null 2>&1 &"});
    ASSERT_EQ(r.status, 0) << r.err;
  }
  std::string inside(const std::string& name, const std::string& shell) {
    auto r = cove("cove-attach", name, {"--", "/bin/sh", "-c", shell});
    return r.out + r.err;
  }
  std::string config_text(const std::string& name) { return read_text(path_ + "/" + name + "/config"); }

  std::string tag_, net_root_, net_dir_, run_dir_, forward_was_;
  std::vector<std::string> links_, netns_, managed_;
};

#define COVE_REQUIRE_NET_TOOLS()                                                       \
  do {                                                                                 \
    COVE_REQUIRE_ROOT();                                                               \
    if (::access("/usr/sbin/dnsmasq", X_OK) != 0 || ::access("/usr/bin/iperf3", X_OK) != 0) \
      GTEST_SKIP() << "dnsmasq-base and iperf3 are needed (scripts/install-deps)";      \
  } while (0)

TEST_F(NetworkTest, StaticVethOnABridgeIsSetBeforeInitAndReachesTheHost) {
  COVE_REQUIRE_NET_TOOLS();
  std::string p = free_subnet(251);
  ASSERT_FALSE(p.empty());
  std::string br = make_bridge(p);
  create_busybox("n1", "[network.eth0]\nlink = " + br + "\nipv4 = " + p + "2/24\nipv4.gateway = " + p +
                           "1\nmtu = 1400\n");
  start("n1");
  // hwaddr was generated once and written into the config.
  std::string cfg = config_text("n1");
  auto at = cfg.find("hwaddr = ");
  ASSERT_NE(at, std::string::npos) << cfg;
  std::string mac = cfg.substr(at + 9, 17);
  std::string link = inside("n1", "ip -o link show eth0; ip -o -4 addr show eth0; ip route");
  EXPECT_NE(link.find(mac), std::string::npos) << link;
  EXPECT_NE(link.find("mtu 1400"), std::string::npos) << link;
  EXPECT_NE(link.find(p + "2/24"), std::string::npos) << link;
  EXPECT_NE(link.find("default via " + p + "1"), std::string::npos) << link;
  // Host -> container and container -> host.
  serve_in("n1", 7001);
  EXPECT_TRUE(eventually([&] { return tcp_exchange(p + "2", 7001) == "n1\n"; }, 5000));
  HostListener host(p + "1", 7002);
  ASSERT_TRUE(host.ok());
  EXPECT_NE(inside("n1", "nc " + p + "1 7002 </dev/null").find("host"), std::string::npos);
  EXPECT_EQ(host.peers(), std::vector<std::string>{p + "2"});
  // The MAC survives a restart.
  ASSERT_EQ(cove("cove-stop", "n1").status, 0);
  start("n1");
  EXPECT_NE(inside("n1", "ip -o link show eth0").find(mac), std::string::npos);
  // cove-info shows the NIC with its counters.
  auto info = cove("cove-info", "n1");
  EXPECT_NE(info.out.find("NIC eth0:"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find(p + "2/24"), std::string::npos) << info.out;
}

// A TCP exchange over IPv6 (the host connects to `addr` on `port` and reads what comes back).
std::string tcp6_exchange(const std::string& addr, int port) {
  int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET6, addr.c_str(), &sa.sin6_addr);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
    char buf[256];
    pollfd p{fd, POLLIN, 0};
    while (::poll(&p, 1, 2000) == 1) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, size_t(n));
    }
  }
  ::close(fd);
  return out;
}

TEST_F(NetworkTest, StaticIpv6AndItsDefaultRoute) {
  COVE_REQUIRE_NET_TOOLS();
  std::string p = free_subnet(251);
  std::string br = make_bridge(p);
  char group[8];
  std::snprintf(group, sizeof group, "%x", static_cast<unsigned>(::getpid()) & 0xffff);  // one IPv6 group
  std::string v6 = "fd42:" + std::string(group) + "::";
  ASSERT_EQ(ip({"-6", "addr", "add", v6 + "1/64", "dev", br, "nodad"}).status, 0);
  create_busybox("n6", "[network.eth0]\nlink = " + br + "\nipv6 = " + v6 + "2/64\nipv6.gateway = " + v6 + "1\n");
  start("n6");
  std::string addrs = inside("n6", "ip -o -6 addr show eth0; ip -6 route");
  EXPECT_NE(addrs.find(v6 + "2/64"), std::string::npos) << addrs;
  EXPECT_NE(addrs.find("default via " + v6 + "1"), std::string::npos) << addrs;
  serve_in("n6", 7012);
  EXPECT_TRUE(eventually([&] { return tcp6_exchange(v6 + "2", 7012) == "n6\n"; }, 5000));
}

TEST_F(NetworkTest, TwoContainersOnOneBridgeTalk) {
  COVE_REQUIRE_NET_TOOLS();
  std::string p = free_subnet(251);
  std::string br = make_bridge(p);
  create_busybox("na", "[network.eth0]\nlink = " + br + "\nipv4 = " + p + "10/24\n");
  create_busybox("nb", "[network.eth0]\nlink = " + br + "\nipv4 = " + p + "11/24\n");
  start("na");
  start("nb");
  serve_in("nb", 7003);
  EXPECT_TRUE(eventually([&] { return inside("na", "nc " + p + "11 7003 </dev/null").find("nb") != std::string::npos; }, 5000));
}

TEST_F(NetworkTest, PrivilegedContainerGetsTheSameNic) {
  COVE_REQUIRE_NET_TOOLS();
  std::string p = free_subnet(251);
  std::string br = make_bridge(p);
  create_busybox("np", "[container]\nprivileged = true\n[network.eth0]\nlink = " + br + "\nipv4 = " + p + "2/24\n");
  start("np");
  serve_in("np", 7004);
  EXPECT_TRUE(eventually([&] { return tcp_exchange(p + "2", 7004) == "np\n"; }, 5000));
}

TEST_F(NetworkTest, SpoofedSourceAddressAndMacAreDropped) {
  COVE_REQUIRE_NET_TOOLS();
  std::string p = free_subnet(251);
  std::string br = make_bridge(p);
  create_busybox("ns1", "[network.eth0]\nlink = " + br + "\nipv4 = " + p + "2/24\n");
  start("ns1");
  HostListener host(p + "1", 7005);
  ASSERT_TRUE(host.ok());
  auto reach = [&] { return inside("ns1", "nc -w 2 " + p + "1 7005 </dev/null").find("host") != std::string::npos; };
  ASSERT_TRUE(reach());
  // The container's root takes another address: its packets are dropped on the host end.
  inside("ns1", "ip addr del " + p + "2/24 dev eth0; ip addr add " + p + "99/24 dev eth0");
  EXPECT_FALSE(reach());
  inside("ns1", "ip addr del " + p + "99/24 dev eth0; ip addr add " + p + "2/24 dev eth0");
  EXPECT_TRUE(eventually(reach, 5000));
  // ... or another MAC.
  inside("ns1", "ip link set eth0 down; ip link set eth0 address 02:00:00:00:be:ef; ip link set eth0 up");
  EXPECT_FALSE(reach());
  auto peers = host.peers();
  EXPECT_EQ(std::count(peers.begin(), peers.end(), p + "99"), 0);
}

TEST_F(NetworkTest, WithoutIpFilteringASpoofedAddressPasses) {
  COVE_REQUIRE_NET_TOOLS();
  std::string p = free_subnet(251);
  std::string br = make_bridge(p);
  create_busybox("ns2", "[network.eth0]\nlink = " + br + "\nipv4 = " + p + "2/24\nsecurity.ip_filtering = false\n");
  start("ns2");
  HostListener host(p + "1", 7006);
  ASSERT_TRUE(host.ok());
  inside("ns2", "ip addr del " + p + "2/24 dev eth0; ip addr add " + p + "99/24 dev eth0");
  EXPECT_TRUE(eventually([&] { return inside("ns2", "nc -w 2 " + p + "1 7006 </dev/null").find("host") != std::string::npos; }, 5000));
}

TEST_F(NetworkTest, ManagedNetworkGivesDhcpDnsAndNatTowardsTheOutside) {
  COVE_REQUIRE_NET_TOOLS();
  std::string p = free_subnet(252);
  std::string o = free_subnet(253);
  ASSERT_FALSE(p.empty());
  ASSERT_FALSE(o.empty());
  std::string net = "cvtn" + tag_;
  managed_.push_back(net);
  auto c = run_tool("cove-network", {"create", net, "--ipv4", p + "1/24", "--nat", "--dhcp"});
  ASSERT_EQ(c.status, 0) << c.err;
  std::string outside = make_outside(o);
  // A DHCP client and a static container with gateway `auto`.
  create_busybox("nd", "[network.eth0]\nlink = " + net + "\nipv4 = dhcp\n");
  create_busybox("nst", "[network.eth0]\nlink = " + net + "\nipv4 = " + p + "50/24\nipv4.gateway = auto\n");
  start("nd");
  start("nst");
  EXPECT_TRUE(link_exists(net));
  std::string lease = inside("nd", "udhcpc -i eth0 -n -q -t 5 -x hostname:nd -s /bin/true 2>&1");
  EXPECT_NE(lease.find("obtained"), std::string::npos) << lease;
  // dnsmasq knows both names: the DHCP client's and the static one's.
  std::string looked_up;
  EXPECT_TRUE(eventually([&] {
    looked_up = inside("nst", "nslookup nst.cove " + p + "1");
    return looked_up.find(p + "50") != std::string::npos;
  }, 5000, 100)) << looked_up << read_text(run_dir_ + "/" + net + "/dnsmasq.hosts");
  std::string show = run_tool("cove-network", {"show", net}).out;
  EXPECT_NE(show.find("nd"), std::string::npos) << show;
  // resolv.conf of the static container names the bridge.
  EXPECT_NE(inside("nst", "cat /etc/resolv.conf").find("nameserver " + p + "1"), std::string::npos);
  // NAT: the outside sees the host's address on its link, not the container's.
  HostListener out(o + "2", 7007, outside);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(eventually([&] { return inside("nst", "nc -w 2 " + o + "2 7007 </dev/null").find("host") != std::string::npos; },
                         8000, 200));
  auto peers = out.peers();
  ASSERT_FALSE(peers.empty());
  EXPECT_EQ(peers[0], o + "1") << "masqueraded to the host's address";
  // A stopped container's lease is released: no DHCP lease is left behind.
  std::string leases = run_dir_ + "/" + net + "/dnsmasq.leases";
  EXPECT_NE(read_text(leases).find(" nd "), std::string::npos) << read_text(leases);
  ASSERT_EQ(cove("cove-stop", "nd").status, 0);
  EXPECT_TRUE(eventually([&] { return read_text(leases).find(" nd ") == std::string::npos; }, 5000)) << read_text(leases);
  auto rules = run_cmd({"nft", "list", "table", "inet", "cove-n-" + net}).out;
  EXPECT_NE(rules.find("masquerade"), std::string::npos) << rules;
  EXPECT_EQ(trim_str(read_text("/proc/sys/net/ipv4/ip_forward")), "1");
}

TEST_F(NetworkTest, PortForwardReachesTheContainerFromTheHostAndFromOutside) {
  COVE_REQUIRE_NET_TOOLS();
  std::string p = free_subnet(251);
  std::string o = free_subnet(253);
  std::string br = make_bridge(p);
  std::string outside = make_outside(o);
  ::system("echo 1 > /proc/sys/net/ipv4/ip_forward");
  int port = 20000 + (::getpid() % 20000);
  create_busybox("nf", "[network.eth0]\nlink = " + br + "\nipv4 = " + p + "2/24\nipv4.gateway = " + p +
                           "1\nforward = tcp:" + std::to_string(port) + ":7008\n");
  start("nf");
  serve_in("nf", 7008);
  // From the host itself, to its own addresses (127.0.0.1 is not forwarded: that needs
  // route_localnet on the bridge, which would open the host's loopback services to every
  // container on it; doc/design/network.md).
  EXPECT_TRUE(eventually([&] { return tcp_exchange(p + "1", port) == "nf\n"; }, 5000));
  EXPECT_EQ(tcp_exchange(o + "1", port), "nf\n");
  // From the outside namespace, to the host's address on its link.
  auto r = run_cmd({"ip", "netns", "exec", outside, "busybox", "nc", "-w", "3", o + "1", std::to_string(port)}, 10);
  EXPECT_NE(r.out.find("nf"), std::string::npos) << r.out << r.err;
  ASSERT_EQ(cove("cove-stop", "nf").status, 0);
  EXPECT_EQ(run_cmd({"nft", "list", "tables"}).out.find("cove-c-nf"), std::string::npos);
  EXPECT_EQ(tcp_exchange(p + "1", port, "", 1000), "");
}

// iperf3 from the container's namespace to a server on the host's bridge address: the host
// side shapes both directions; a live change takes effect.
TEST_F(NetworkTest, RateLimitsHoldBothWaysAndChangeLive) {
  COVE_REQUIRE_NET_TOOLS();
  std::string p = free_subnet(251);
  std::string br = make_bridge(p);
  create_busybox("nr", "[network.eth0]\nlink = " + br + "\nipv4 = " + p + "2/24\nrate.ingress = 20mbit\nrate.egress = 10mbit\n");
  start("nr");
  int port = 30000 + (::getpid() % 20000);
  auto server = run_cmd({"iperf3", "-s", "-D", "-B", p + "1", "-p", std::to_string(port), "--pidfile", path_ + "/iperf.pid"});
  ASSERT_EQ(server.status, 0) << server.err;
  struct Kill {
    std::string f;
    ~Kill() {
      auto pid = std::atoi(read_text(f).c_str());
      if (pid > 0) ::kill(pid, SIGTERM);
    }
  } kill_server{path_ + "/iperf.pid"};
  pid_t init = init_pid("nr");
  auto measure = [&](bool reverse) {
    std::vector<std::string> a = {"iperf3", "-c", p + "1", "-p", std::to_string(port), "-t", "3", "-J"};
    if (reverse) a.push_back("-R");
    auto r = in_netns_of(init, a, 30);
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    if (!j.is_object() || !j.contains("end")) return -1.0;
    return j["end"]["sum_received"].value("bits_per_second", -1.0) / 1e6;
  };
  double out = measure(false);  // container -> host: rate.egress
  double in = measure(true);    // host -> container: rate.ingress
  EXPECT_NEAR(out, 10, 2) << "egress";
  EXPECT_NEAR(in, 20, 4) << "ingress";
  auto set = run_tool("cove-network", {"set-rate", "-P", path_, "-n", "nr", "eth0", "--egress", "30mbit"});
  ASSERT_EQ(set.status, 0) << set.err;
  EXPECT_NEAR(measure(false), 30, 6) << "egress after the live change";
  auto info = cove("cove-info", "nr", {"--json"});
  auto j = nlohmann::json::parse(info.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << info.out;
  EXPECT_EQ(j["nics"][0].value("rate_egress_bps", 0ull), 30000000ull);
  EXPECT_GT(j["nics"][0].value("rx_bytes", 0ull), 10ull * 1000 * 1000);
}

TEST_F(NetworkTest, HotPlugAddsAndRemovesANic) {
  COVE_REQUIRE_NET_TOOLS();
  std::string p = free_subnet(251);
  std::string br = make_bridge(p);
  create_busybox("nh");
  start("nh");
  EXPECT_EQ(inside("nh", "ip -o link show eth1 2>&1").find("eth1:"), std::string::npos);
  auto a = run_tool("cove-network", {"attach", "-P", path_, "-n", "nh", "eth1", "link=" + br, "ipv4=" + p + "2/24"});
  ASSERT_EQ(a.status, 0) << a.err;
  EXPECT_NE(inside("nh", "ip -o -4 addr show eth1").find(p + "2/24"), std::string::npos);
  serve_in("nh", 7009);
  EXPECT_TRUE(eventually([&] { return tcp_exchange(p + "2", 7009) == "nh\n"; }, 5000));
  auto state = nlohmann::json::parse(read_text(runtime_dir("nh") + "/state"), nullptr, false);
  auto links = state.value("host_links", std::vector<std::string>{});
  ASSERT_FALSE(links.empty());
  auto d = run_tool("cove-network", {"detach", "-P", path_, "-n", "nh", "eth1"});
  ASSERT_EQ(d.status, 0) << d.err;
  EXPECT_EQ(inside("nh", "ip -o link show eth1 2>&1").find("eth1:"), std::string::npos);
  EXPECT_FALSE(link_exists(links[0]));
  // A stopped container: a live change is refused, --persist writes the config only.
  ASSERT_EQ(cove("cove-stop", "nh").status, 0);
  auto live = run_tool("cove-network", {"set-rate", "-P", path_, "-n", "nh", "eth0", "--egress", "5mbit"});
  EXPECT_EQ(live.status, 1);
  EXPECT_NE(live.err.find("is not running"), std::string::npos) << live.err;
  auto kept = run_tool("cove-network", {"attach", "-P", path_, "-n", "nh", "eth2", "link=" + br, "--persist"});
  ASSERT_EQ(kept.status, 0) << kept.err;
  EXPECT_NE(config_text("nh").find("[network.eth2]\nlink = " + br), std::string::npos) << config_text("nh");
}

TEST_F(NetworkTest, MacvlanOnAVethParent) {
  COVE_REQUIRE_NET_TOOLS();
  std::string p = free_subnet(251);
  std::string outside = "cvtm" + tag_;
  std::string parent = "cvtp" + tag_;
  ASSERT_EQ(ip({"netns", "add", outside}).status, 0);
  netns_.push_back(outside);
  ASSERT_EQ(ip({"link", "add", parent, "type", "veth", "peer", "name", "out0", "netns", outside}).status, 0);
  links_.push_back(parent);
  ip({"link", "set", parent, "up"});
  ip({"-n", outside, "addr", "add", p + "1/24", "dev", "out0"});
  ip({"-n", outside, "link", "set", "out0", "up"});
  create_busybox("nm", "[network.eth0]\ntype = macvlan\nlink = " + parent + "\nipv4 = " + p + "2/24\n");
  start("nm");
  EXPECT_NE(in_netns_of(init_pid("nm"), {"ip", "-d", "link", "show", "eth0"}).out.find("macvlan"), std::string::npos);
  serve_in("nm", 7010);
  EXPECT_TRUE(eventually([&] {
    auto r = run_cmd({"ip", "netns", "exec", outside, "busybox", "nc", "-w", "2", p + "2", "7010"}, 10);
    return r.out.find("nm") != std::string::npos;
  }, 5000));
  // Only veths can be checkpointed: said by --check and before a dump changes anything.
  if (criu_backend_built()) {
    auto check = cove("cove-checkpoint", "nm", {"--check"});
    EXPECT_NE(check.out.find("only veth NICs can be checkpointed"), std::string::npos) << check.out << check.err;
    auto dump = cove("cove-checkpoint", "nm", {"-D", path_ + "/img", "--stop"});
    EXPECT_NE(dump.status, 0);
    EXPECT_NE(dump.err.find("NIC `eth0` is a macvlan"), std::string::npos) << dump.err;
    EXPECT_EQ(trim_str(cove("cove-info", "nm", {"-s"}).out), "RUNNING");
  }
}

TEST_F(NetworkTest, IpvlanSaysTheKernelLacksIt) {
  COVE_REQUIRE_NET_TOOLS();
  if (link_exists("ipvlan0") || ::access("/sys/module/ipvlan", F_OK) == 0) GTEST_SKIP() << "this kernel has ipvlan";
  create_busybox("ni", "[network.eth0]\ntype = ipvlan\nlink = lo\n");
  auto r = cove("cove-start", "ni");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("ipvlan is not built into this kernel"), std::string::npos) << r.err;
}

TEST_F(NetworkTest, AFailedStartLeavesNoLinkOrRule) {
  COVE_REQUIRE_NET_TOOLS();
  create_busybox("nx", "[network.eth0]\nlink = cvtnobridge\nipv4 = 10.254.0.2/24\nrate.egress = 1mbit\n");
  auto before = ip({"-o", "link"}).out;
  auto r = cove("cove-start", "nx");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("link `cvtnobridge` is neither a managed network"), std::string::npos) << r.err;
  auto after = ip({"-o", "link"}).out;
  EXPECT_EQ(std::count(before.begin(), before.end(), '\n'), std::count(after.begin(), after.end(), '\n'));
  EXPECT_EQ(run_cmd({"nft", "list", "tables"}).out.find("cove-c-nx"), std::string::npos);
}

TEST_F(NetworkTest, AKilledMonitorsLinksAreRemovedByTheNextStart) {
  COVE_REQUIRE_NET_TOOLS();
  std::string p = free_subnet(251);
  std::string br = make_bridge(p);
  create_busybox("nk", "[network.eth0]\nlink = " + br + "\nipv4 = " + p + "2/24\nrate.egress = 5mbit\n");
  start("nk");
  auto state = nlohmann::json::parse(read_text(runtime_dir("nk") + "/state"), nullptr, false);
  auto links = state.value("host_links", std::vector<std::string>{});
  ASSERT_EQ(links.size(), 2u);
  ASSERT_TRUE(link_exists(links[1])) << "the ifb";
  ASSERT_EQ(::kill(monitor_pid("nk"), SIGKILL), 0);
  EXPECT_TRUE(eventually([&] { return !link_exists(links[0]); }, 5000)) << "the veth goes with the namespace";
  start("nk");  // cleans up the dead monitor's leftovers first
  EXPECT_FALSE(link_exists(links[1])) << "the old ifb";
  serve_in("nk", 7011);
  EXPECT_TRUE(eventually([&] { return tcp_exchange(p + "2", 7011) == "nk\n"; }, 5000));
}

TEST_F(NetworkTest, RebootBringsTheNicBack) {
  COVE_REQUIRE_NET_TOOLS();
  std::string p = free_subnet(251);
  std::string br = make_bridge(p);
  create_busybox("nbt", "[network.eth0]\nlink = " + br + "\nipv4 = " + p + "2/24\n");
  start("nbt");
  pid_t before = init_pid("nbt");
  ASSERT_EQ(cove("cove-stop", "nbt", {"-r"}).status, 0);
  EXPECT_NE(init_pid("nbt"), before);
  EXPECT_NE(inside("nbt", "ip -o -4 addr show eth0").find(p + "2/24"), std::string::npos);
}

// An established TCP connection from the host into the container, and one between two
// containers, carry on across `cove-checkpoint --stop` + `cove-restore`: the NIC comes back with
// its name, MAC, address and rate limit, and neither peer sees a reset.
TEST_F(NetworkTest, TcpConnectionsSurviveCheckpointAndRestore) {
  COVE_REQUIRE_NET_TOOLS();
  COVE_REQUIRE_CRIU();
  std::string p = free_subnet(251);
  std::string br = make_bridge(p);
  create_busybox("ncr", "[network.eth0]\nlink = " + br + "\nipv4 = " + p + "2/24\nrate.ingress = 50mbit\n");
  create_busybox("npeer", "[network.eth0]\nlink = " + br + "\nipv4 = " + p + "3/24\n");
  start("ncr");
  start("npeer");
  // An echo server in ncr (cat over nc, one per connection); npeer keeps a connection open to it
  // and writes what comes back into a file.
  ASSERT_EQ(cove("cove-attach", "ncr", {"--", "/bin/sh", "-c", "nc -ll -p 7020 -e cat >/dev/null 2>&1 &"}).status, 0);
  ASSERT_EQ(cove("cove-attach", "npeer", {"--", "/bin/sh", "-c",
                                          "mkfifo /tmp/in; (nc " + p + "2 7020 </tmp/in >/tmp/out 2>&1 &); "
                                          "exec 3>/tmp/in; echo before >&3; sleep 1000 3>/tmp/in >/dev/null 2>&1 &"}).status, 0);
  // The host's connection.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(7020);
  ::inet_pton(AF_INET, (p + "2").c_str(), &sa.sin_addr);
  ASSERT_TRUE(eventually([&] { return ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0; }, 5000));
  auto echo = [&](const std::string& msg) {
    if (::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL) != ssize_t(msg.size())) return std::string("send failed");
    std::string got;
    char buf[256];
    pollfd pf{fd, POLLIN, 0};
    while (got.size() < msg.size() && ::poll(&pf, 1, 5000) == 1) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return got + "<closed>";
      got.append(buf, size_t(n));
    }
    return got;
  };
  EXPECT_EQ(echo("one\n"), "one\n");
  std::string mac = inside("ncr", "cat /sys/class/net/eth0/address");
  auto ck = cove("cove-checkpoint", "ncr", {"-D", path_ + "/img", "--stop"}, 60);
  ASSERT_EQ(ck.status, 0) << ck.err;
  auto rs = cove("cove-restore", "ncr", {"-D", path_ + "/img"}, 60);
  ASSERT_EQ(rs.status, 0) << rs.err;
  EXPECT_EQ(echo("two\n"), "two\n") << "the host's connection after the restore";
  EXPECT_EQ(inside("ncr", "cat /sys/class/net/eth0/address"), mac);
  EXPECT_NE(inside("ncr", "ip -o -4 addr show eth0").find(p + "2/24"), std::string::npos);
  auto info = nlohmann::json::parse(cove("cove-info", "ncr", {"--json"}).out, nullptr, false);
  ASSERT_TRUE(info.is_object());
  EXPECT_EQ(info["nics"][0].value("rate_ingress_bps", 0ull), 50000000ull);
  // The container-to-container connection: npeer writes, ncr echoes, npeer's file gets it.
  ASSERT_EQ(cove("cove-attach", "npeer", {"--", "/bin/sh", "-c", "echo after > /proc/$(pidof sleep)/fd/3"}).status, 0);
  EXPECT_TRUE(eventually([&] { return inside("npeer", "cat /tmp/out").find("after") != std::string::npos; }, 5000))
      << inside("npeer", "cat /tmp/out");
  ::close(fd);
}

}  // namespace
}  // namespace cove::test
