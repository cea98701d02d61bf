// Managed networks on the real host: a bridge with an address, NAT through nftables, dnsmasq for
// DHCP and DNS. The "containers" are network namespaces this test makes, each with a veth into
// the bridge; "the outside" is another namespace behind a veth with a test-chosen /30 (only that
// /30 is routed: nothing is ever sent to any other address). Every test has its own config and
// run dirs (COVE_NETWORK_DIR, COVE_NETWORK_RUNDIR), names with this process's pid, subnets from
// 10.250.0.0/16 checked against the host's addresses and routes, and restores ip_forward.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "base/fs.hpp"
#include "base/proc_stat.hpp"
#include "base/strings.hpp"
#include "base/syscalls.hpp"
#include "network/address.hpp"
#include "network/dnsmasq.hpp"
#include "network/host_prefixes.hpp"
#include "network/link.hpp"
#include "network/managed_network.hpp"
#include "network/netlink.hpp"
#include "network/nft.hpp"
#include "process/child_process.hpp"
#include "support.hpp"

using namespace cove;
using namespace cove::network;
using namespace cove::test;

namespace {

#define ASSERT_OK(expr)                                                         \
  do {                                                                          \
    auto&& r_ = (expr);                                                         \
    ASSERT_TRUE(r_.has_value()) << #expr << ": " << r_.error().message();       \
  } while (0)

// The DHCP client's event script: applies the lease to the interface (busybox udhcpc calls it
// with `bound`, the lease in the environment).
constexpr const char* kUdhcpcScript = R"(#!/bin/sh
case "$1" in
bound|renew)
  ip addr add "$ip/$subnet" dev "$interface"
  [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
  ;;
esac
exit 0
)";

int g_test_number = 0;

bool ok(const RunResult& r) { return r.status == 0; }

class ManagedNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    COVE_REQUIRE_ROOT();
    if (!path_exists(kDnsmasqPath)) GTEST_SKIP() << "no " << kDnsmasqPath << " (Debian: dnsmasq-base)";
    if (!path_exists("/usr/bin/busybox")) GTEST_SKIP() << "no /usr/bin/busybox (Debian: busybox-static)";
    std::string tmpl = scratch_dir() + "/cove-mnet.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    ::chmod(dir_.c_str(), 0755);  // dnsmasq reads the hosts file as its own user
    ::setenv("COVE_NETWORK_DIR", (dir_ + "/conf").c_str(), 1);
    ::setenv("COVE_NETWORK_RUNDIR", (dir_ + "/run").c_str(), 1);
    tag_ = std::to_string(::getpid()) + static_cast<char>('a' + (g_test_number++ % 26));
    auto fwd = read_net_sysctl(-1, "ipv4/ip_forward");
    ASSERT_TRUE(fwd.has_value());
    saved_forward_ = trim_str(*fwd);
    ASSERT_OK(write_file(dir_ + "/udhcpc.sh", kUdhcpcScript, 0755));
  }

  void TearDown() override {
    for (const auto& n : networks_) {
      auto r = bring_network_down(n);
      EXPECT_TRUE(r.has_value()) << "down `" << n << "`: " << r.error().message();
    }
    for (const auto& l : links_) run_cmd({"ip", "link", "del", l});
    for (const auto& ns : netns_) run_cmd({"ip", "netns", "del", ns});
    if (!saved_forward_.empty()) (void)write_net_sysctl(-1, "ipv4/ip_forward", saved_forward_);
    ::unsetenv("COVE_NETWORK_DIR");
    ::unsetenv("COVE_NETWORK_RUNDIR");
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  // A name of this test: "cvt" + pid + test letter + `suffix` (at most 15 characters).
  std::string name(const std::string& suffix = "") { return "cvt" + tag_ + suffix; }

  std::vector<TakenPrefix> host_taken() {
    auto sock = NetlinkSocket::open();
    EXPECT_TRUE(sock.has_value());
    if (!sock) return {};
    auto t = host_prefixes(*sock);
    EXPECT_TRUE(t.has_value()) << t.error().message();
    return t ? *t : std::vector<TakenPrefix>{};
  }

  // A 10.250.X.0/24 that overlaps no address or route of the host and was not handed out
  // before in this test; returned as the bridge address 10.250.X.1/24.
  IpPrefix free_subnet() {
    auto taken = host_taken();
    for (int i = 0; i < 250; ++i) {
      int x = static_cast<int>((::getpid() * 7 + g_test_number * 13 + i) % 250) + 1;
      IpPrefix p = *IpPrefix::parse("10.250." + std::to_string(x) + ".1/24");
      if (used_.count(x) || find_overlap(p, taken)) continue;
      used_.insert(x);
      return p;
    }
    ADD_FAILURE() << "no free 10.250.X.0/24 on this host";
    return *IpPrefix::parse("10.250.250.1/24");
  }

  // Creates and records the network (brought down in TearDown).
  ManagedNetwork make_network(const std::string& n, std::optional<IpPrefix> v4, std::optional<IpPrefix> v6 = {},
                              bool nat = true, bool dhcp = true) {
    ManagedNetwork net{n, n, v4, v6, nat, dhcp};
    auto r = create_network(net);
    EXPECT_TRUE(r.has_value()) << r.error().message();
    networks_.push_back(n);
    return net;
  }

  std::string make_netns(const std::string& ns) {
    EXPECT_TRUE(ok(run_cmd({"ip", "netns", "add", ns}))) << "ip netns add " << ns;
    netns_.push_back(ns);
    EXPECT_TRUE(ok(run_cmd({"ip", "-n", ns, "link", "set", "lo", "up"})));
    return ns;
  }

  // A "container": netns `ns` with eth0, whose host end `host_if` is a port of `bridge`.
  void make_container(const std::string& ns, const std::string& host_if, const std::string& bridge) {
    make_netns(ns);
    ASSERT_TRUE(ok(run_cmd({"ip", "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", ns})));
    links_.push_back(host_if);
    ASSERT_TRUE(ok(run_cmd({"ip", "link", "set", host_if, "master", bridge, "up"})));
    ASSERT_TRUE(ok(run_cmd({"ip", "-n", ns, "link", "set", "eth0", "up"})));
  }

  RunResult in_ns(const std::string& ns, std::vector<std::string> cmd, int timeout_s = 30) {
    cmd.insert(cmd.begin(), {"ip", "netns", "exec", ns});
    return run_cmd(cmd, timeout_s);
  }

  // busybox udhcpc in `ns`, sending `hostname`; the address it got ("" when none).
  std::string dhcp_lease(const std::string& ns, const std::string& hostname) {
    auto r = in_ns(ns, {"busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "8", "-T", "1", "-s",
                        dir_ + "/udhcpc.sh", "-x", "hostname:" + hostname});
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    auto addr = in_ns(ns, {"ip", "-4", "-o", "addr", "show", "dev", "eth0"});
    auto f = split_ws(addr.out);
    for (size_t i = 0; i + 1 < f.size(); ++i)
      if (f[i] == "inet") return f[i + 1].substr(0, f[i + 1].find('/'));
    return "";
  }

  // The address `query` resolves to through the DNS server `server`, asked from `ns` ("" when
  // it does not resolve).
  std::string resolve(const std::string& ns, const std::string& query, const std::string& server) {
    auto r = in_ns(ns, {"busybox", "nslookup", query, server}, 10);
    if (r.status != 0) return "";
    auto lines = split(r.out, '\n');
    bool answer = false;
    for (const auto& l : lines) {
      if (starts_with(l, "Name:")) answer = true;
      else if (answer && starts_with(l, "Address:")) return std::string(trim(std::string_view(l).substr(8)));
    }
    return "";
  }

  std::optional<pid_t> dnsmasq_pid(const ManagedNetwork& net) {
    auto st = network_status(net);
    EXPECT_TRUE(st.has_value()) << st.error().message();
    return st ? st->dnsmasq_pid : std::nullopt;
  }

  // Running: a zombie is dead (this host's pid 1 reaps orphans only every few seconds).
  static bool alive(pid_t pid) { return !proc::has_ended(pid); }

  std::string nft_table_text(const std::string& n) {
    return run_cmd({"nft", "-a", "list", "table", "inet", network_table(n)}).out;
  }

  void expect_gone(const std::string& n, std::optional<pid_t> dnsmasq) {
    auto sock = NetlinkSocket::open();
    ASSERT_TRUE(sock.has_value());
    auto link = find_link(*sock, n);
    ASSERT_TRUE(link.has_value());
    EXPECT_FALSE(link->has_value()) << "bridge `" << n << "` is still there";
    if (dnsmasq) {
      EXPECT_TRUE(eventually([&] { return !alive(*dnsmasq); }, 5000)) << "dnsmasq " << *dnsmasq << " runs";
    }
    auto tables = list_tables(network_table(n));
    ASSERT_TRUE(tables.has_value());
    for (const auto& t : *tables) EXPECT_NE(t.name, network_table(n)) << "nft table left";
    EXPECT_FALSE(path_exists(network_run_dir(n))) << network_run_dir(n) << " left";
  }

  std::string dir_, tag_, saved_forward_;
  std::vector<std::string> networks_, links_, netns_;
  std::set<int> used_;
};

// Accepts one TCP connection on `addr`:`port` inside the namespace `ns` and reports the peer's
// address on a pipe: what the outside sees as the source.
class OutsideListener {
 public:
  Result<void> start(const std::string& ns, const std::string& addr, uint16_t port) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) return Error::from_errno(errno, "pipe");
    rd_.reset(p[0]);
    UniqueFd wr(p[1]);
    UniqueFd nsfd(::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC));
    if (!nsfd) return Error::from_errno(errno, "open netns");
    auto child = process::spawn([&]() -> int {
      if (::setns(nsfd.get(), CLONE_NEWNET) < 0) return 1;
      int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      int one = 1;
      ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(port);
      ::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
      if (::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0 || ::listen(s, 1) < 0) return 2;
      (void)!::write(wr.get(), "L", 1);  // listening
      struct pollfd pf = {s, POLLIN, 0};
      if (::poll(&pf, 1, 20000) <= 0) return 3;
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      int c = ::accept(s, reinterpret_cast<sockaddr*>(&peer), &len);
      if (c < 0) return 4;
      char buf[INET_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET, &peer.sin_addr, buf, sizeof buf);
      (void)!::write(wr.get(), buf, std::strlen(buf));
      ::close(c);
      return 0;
    });
    if (!child) return std::move(child).error();
    child_ = std::move(*child);
    wr.reset();
    char c = 0;
    if (::read(rd_.get(), &c, 1) != 1 || c != 'L') return Error(EIO, "the listener did not start");
    return {};
  }
  // The peer's address, once the child has exited.
  std::string peer() {
    if (!child_) return "";
    (void)child_.wait();
    std::string out;
    char buf[64];
    ssize_t n;
    while ((n = ::read(rd_.get(), buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }

 private:
  process::ChildProcess child_;
  UniqueFd rd_;
};

}  // namespace

// The whole path: up, a container gets a lease and its name resolves, registered names resolve
// and go away, NAT shows the host's address to the outside, dnsmasq listens on the bridge only;
// then down leaves nothing.
TEST_F(ManagedNetworkTest, LeaseDnsNatAndDown) {
  IpPrefix v4 = free_subnet();
  IpPrefix outside_net = free_subnet();  // 10.250.Y.0/30 of it: host .1, outside .2
  std::string host_side = outside_net.nth(1)->str(), outside_addr = outside_net.nth(2)->str();
  ManagedNetwork net = make_network(name(), v4);
  ASSERT_OK(ensure_network_up(net));
  std::string bridge_ip = v4.address.str();

  auto pid = dnsmasq_pid(net);
  ASSERT_TRUE(pid) << read_text(network_run_dir(net.name) + "/dnsmasq.log");
  EXPECT_EQ(trim_str(*read_net_sysctl(-1, "ipv4/ip_forward")), "1");
  EXPECT_FALSE(nft_table_text(net.name).empty());

  // dnsmasq's sockets: on the bridge's addresses or bound to the bridge, nothing else.
  auto ss = run_cmd({"ss", "-Hlnpu"}), sst = run_cmd({"ss", "-Hlnpt"});
  int sockets = 0;
  for (const auto& line : split(ss.out + sst.out, '\n')) {
    if (line.find("pid=" + std::to_string(*pid) + ",") == std::string::npos) continue;
    ++sockets;
    auto f = split_ws(line);
    ASSERT_GE(f.size(), 4u) << line;
    const std::string& local = f[3];
    EXPECT_TRUE(local.find(bridge_ip + ":") == 0 || local.find("%" + net.name + ":") != std::string::npos)
        << "dnsmasq listens on `" << local << "`, not only on the bridge";
  }
  EXPECT_GE(sockets, 3) << "dns udp, dns tcp, dhcp";

  // A container gets a lease, and its name resolves.
  std::string ct = name("c");
  make_container(ct, name("h"), net.name);
  std::string ct_ip = dhcp_lease(ct, "ctone");
  ASSERT_FALSE(ct_ip.empty());
  EXPECT_TRUE(v4.contains(*IpAddress::parse(ct_ip))) << ct_ip;
  EXPECT_NE(ct_ip, bridge_ip);
  EXPECT_NE(read_text(network_run_dir(net.name) + "/dnsmasq.leases").find(ct_ip + " ctone"), std::string::npos);
  EXPECT_EQ(resolve(ct, "ctone.cove", bridge_ip), ct_ip);
  EXPECT_EQ(resolve(ct, "ctone", bridge_ip), ct_ip);
  auto st = network_status(net);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->ports, std::vector<std::string>{name("h")});
  ASSERT_EQ(st->leases.size(), 1u);
  EXPECT_EQ(st->leases[0].hostname, "ctone");

  // register_host / unregister_host.
  std::string web_ip = v4.nth(77)->str();
  ASSERT_OK(register_host(net.name, "web", *IpAddress::parse(web_ip)));
  EXPECT_TRUE(eventually([&] { return resolve(ct, "web.cove", bridge_ip) == web_ip; }, 15000));
  ASSERT_OK(register_host(net.name, "web", *v4.nth(78)));  // replaced
  EXPECT_TRUE(eventually([&] { return resolve(ct, "web.cove", bridge_ip) == v4.nth(78)->str(); }, 15000));
  ASSERT_OK(unregister_host(net.name, "web"));
  EXPECT_TRUE(eventually([&] { return resolve(ct, "web.cove", bridge_ip).empty(); }, 15000))
      << "still resolves to `" << resolve(ct, "web.cove", bridge_ip) << "`; hosts file:\n"
      << read_text(dnsmasq_files(network_run_dir(net.name)).hosts_file);
  EXPECT_EQ(dnsmasq_pid(net), pid) << "SIGHUP, not a restart";

  // NAT: the outside sees the host's address on the link towards it.
  std::string out_ns = make_netns(name("o"));
  std::string out_if = name("x");
  ASSERT_TRUE(ok(run_cmd({"ip", "link", "add", out_if, "type", "veth", "peer", "name", "eth0", "netns", out_ns})));
  links_.push_back(out_if);
  ASSERT_TRUE(ok(run_cmd({"ip", "addr", "add", host_side + "/30", "dev", out_if})));
  ASSERT_TRUE(ok(run_cmd({"ip", "link", "set", out_if, "up"})));
  ASSERT_TRUE(ok(run_cmd({"ip", "-n", out_ns, "addr", "add", outside_addr + "/30", "dev", "eth0"})));
  ASSERT_TRUE(ok(run_cmd({"ip", "-n", out_ns, "link", "set", "eth0", "up"})));
  OutsideListener listener;
  ASSERT_OK(listener.start(out_ns, outside_addr, 7171));
  auto nc = in_ns(ct, {"busybox", "nc", "-w", "10", outside_addr, "7171"}, 20);
  EXPECT_EQ(nc.status, 0) << nc.err;
  EXPECT_EQ(listener.peer(), host_side) << "the outside should see the host's address, not " << ct_ip;

  // delete refuses while the bridge has a port.
  auto del = delete_network(net.name);
  ASSERT_FALSE(del.has_value());
  EXPECT_EQ(del.error().code(), EBUSY);
  EXPECT_NE(del.error().message().find("`" + name("h") + "`"), std::string::npos) << del.error().message();

  ASSERT_OK(bring_network_down(net.name));
  expect_gone(net.name, pid);
  EXPECT_TRUE(path_exists(network_file(net.name))) << "down keeps the config";
}

TEST_F(ManagedNetworkTest, UpTwiceIsANoOpAndAKilledDnsmasqIsRestarted) {
  ManagedNetwork net = make_network(name(), free_subnet());
  ASSERT_OK(ensure_network_up(net));
  auto sock = NetlinkSocket::open();
  ASSERT_TRUE(sock.has_value());
  auto before = find_link(*sock, net.name);
  ASSERT_TRUE(before.has_value() && before->has_value());
  auto pid = dnsmasq_pid(net);
  ASSERT_TRUE(pid);
  std::string table = nft_table_text(net.name);
  ASSERT_NE(table.find("# handle"), std::string::npos) << table;

  ASSERT_OK(ensure_network_up(net));
  auto after = find_link(*sock, net.name);
  ASSERT_TRUE(after.has_value() && after->has_value());
  EXPECT_EQ((*after)->index, (*before)->index);
  EXPECT_EQ(dnsmasq_pid(net), pid);
  EXPECT_EQ(nft_table_text(net.name), table) << "the NAT table was reloaded";

  // Kill our dnsmasq (the pid its pid file names, checked to be it), then up again.
  UniqueFd pidfd(sys::pidfd_open(*pid, 0));
  ASSERT_TRUE(pidfd.valid());
  ASSERT_EQ(dnsmasq_pid(net), pid);
  ASSERT_EQ(sys::pidfd_send_signal(pidfd.get(), SIGKILL, nullptr, 0), 0);
  // Until the pidfd polls readable the dying process may still hold its sockets (its exe link
  // goes earlier, with its memory).
  struct pollfd pf = {pidfd.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&pf, 1, 5000), 1);
  ASSERT_FALSE(dnsmasq_pid(net));
  ASSERT_OK(ensure_network_up(net));
  auto again = dnsmasq_pid(net);
  ASSERT_TRUE(again);
  EXPECT_NE(*again, *pid);
  EXPECT_EQ(nft_table_text(net.name), table);
}

// A pid file naming another process (this test) and a dnsmasq left without its bridge.
TEST_F(ManagedNetworkTest, ReconcileStalePidFileAndOrphanDnsmasq) {
  ManagedNetwork net = make_network(name(), free_subnet());
  auto files = dnsmasq_files(network_run_dir(net.name));
  ASSERT_OK(mkdir_p(network_run_dir(net.name)));
  ASSERT_OK(write_file(files.pid_file, std::to_string(::getpid()) + "\n"));
  ASSERT_OK(ensure_network_up(net));  // must neither signal us nor trust the file
  auto pid = dnsmasq_pid(net);
  ASSERT_TRUE(pid);
  EXPECT_NE(*pid, ::getpid());

  ASSERT_TRUE(ok(run_cmd({"ip", "link", "del", net.name})));
  ASSERT_TRUE(alive(*pid));
  ASSERT_OK(reconcile_network(net.name));
  EXPECT_TRUE(eventually([&] { return !alive(*pid); }, 5000)) << "dnsmasq without its bridge was left running";
  auto tables = list_tables(network_table(net.name));
  ASSERT_TRUE(tables.has_value());
  EXPECT_TRUE(std::none_of(tables->begin(), tables->end(),
                           [&](const NftTable& t) { return t.name == network_table(net.name); }));
  ASSERT_OK(ensure_network_up(net));
  EXPECT_TRUE(dnsmasq_pid(net));
}

// A changed config: the next up restarts dnsmasq with the new options and drops what is gone.
TEST_F(ManagedNetworkTest, UpAfterAConfigChangeFollowsTheConfig) {
  ManagedNetwork net = make_network(name(), free_subnet());
  ASSERT_OK(ensure_network_up(net));
  auto pid = dnsmasq_pid(net);
  ASSERT_TRUE(pid);
  ManagedNetwork off = net;
  off.nat = false;
  off.dhcp = false;
  ASSERT_OK(ensure_network_up(off));
  EXPECT_TRUE(eventually([&] { return !alive(*pid); }, 5000));
  EXPECT_EQ(nft_table_text(net.name), "");
  ManagedNetwork moved = net;
  moved.ipv4 = free_subnet();
  ASSERT_OK(ensure_network_up(moved));
  auto sock = NetlinkSocket::open();
  ASSERT_TRUE(sock.has_value());
  auto addrs = addresses_of(*sock, net.name);
  ASSERT_TRUE(addrs.has_value());
  std::vector<IpPrefix> v4;
  for (const auto& a : *addrs)
    if (a.address.is_v4()) v4.push_back(a);
  EXPECT_EQ(v4, std::vector<IpPrefix>{*moved.ipv4});
  auto pid2 = dnsmasq_pid(moved);
  ASSERT_TRUE(pid2);
  auto args = process_args(*pid2);
  EXPECT_NE(std::find(args.begin(), args.end(), "--listen-address=" + moved.ipv4->address.str()), args.end());
}

// IPv6 without NAT: router advertisements from dnsmasq give the container a SLAAC address.
TEST_F(ManagedNetworkTest, Ipv6Slaac) {
  IpPrefix v4 = free_subnet();
  int x = v4.address.bytes[2];
  IpPrefix v6 = *IpPrefix::parse("fd42:250:" + std::to_string(x) + "::1/64");
  ManagedNetwork net = make_network(name(), v4, v6, /*nat=*/false);
  ASSERT_OK(ensure_network_up(net));
  ASSERT_TRUE(dnsmasq_pid(net)) << read_text(network_run_dir(net.name) + "/dnsmasq.log");
  std::string ct = name("c");
  make_container(ct, name("h"), net.name);
  std::string prefix = "fd42:250:" + std::to_string(x) + ":0:";
  EXPECT_TRUE(eventually(
      [&] { return in_ns(ct, {"ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "global"}).out.find(prefix) !=
                   std::string::npos; },
      15000))
      << in_ns(ct, {"ip", "-6", "addr"}).out << read_text(network_run_dir(net.name) + "/dnsmasq.log");
  ASSERT_OK(bring_network_down(net.name));
  expect_gone(net.name, std::nullopt);
}

// The network's lock serialises ups: eight at once start one dnsmasq, and all succeed.
TEST_F(ManagedNetworkTest, ConcurrentUpsStartOneDnsmasq) {
  ManagedNetwork net = make_network(name(), free_subnet());
  std::vector<process::ChildProcess> ups;
  int gate[2];  // the children wait for its EOF: they all start at once
  ASSERT_EQ(::pipe2(gate, O_CLOEXEC), 0);
  std::string tool = builddir() + "/cove-network";
  for (int i = 0; i < 8; ++i) {
    auto c = process::spawn([&]() -> int {
      ::close(gate[1]);
      char b;
      (void)!::read(gate[0], &b, 1);
      int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::execl(tool.c_str(), tool.c_str(), "up", net.name.c_str(), nullptr);
      return 127;
    });
    ASSERT_TRUE(c.has_value());
    ups.push_back(std::move(*c));
  }
  ::close(gate[0]);
  ::close(gate[1]);
  for (auto& c : ups) {
    auto st = c.wait();
    ASSERT_TRUE(st.has_value());
    EXPECT_EQ(process::exit_code_of(*st), 0);
  }
  std::string arg = "--pid-file=" + dnsmasq_files(network_run_dir(net.name)).pid_file;
  int found = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    auto pid = parse_int(entry.path().filename().string());
    if (!pid) continue;
    auto args = process_args(static_cast<pid_t>(*pid));
    if (std::find(args.begin(), args.end(), arg) != args.end() && alive(static_cast<pid_t>(*pid))) ++found;
  }
  EXPECT_EQ(found, 1);
}

TEST_F(ManagedNetworkTest, CreateRefusesClashes) {
  IpPrefix v4 = free_subnet();
  ManagedNetwork net = make_network(name(), v4);
  // Another network with an overlapping subnet.
  ManagedNetwork other{name("b"), name("b"), IpPrefix{*v4.nth(200), 25}, std::nullopt, true, true};
  auto r = create_network(other);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("overlaps network `" + net.name + "`"), std::string::npos) << r.error().message();
  // The same name.
  auto again = create_network(net);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code(), EEXIST);
  // An address of the host (a link this test made).
  IpPrefix hostnet = free_subnet();
  std::string link = name("x");
  ASSERT_TRUE(ok(run_cmd({"ip", "link", "add", link, "type", "veth", "peer", "name", name("y")})));
  links_.push_back(link);
  ASSERT_TRUE(ok(run_cmd({"ip", "addr", "add", hostnet.nth(1)->str() + "/30", "dev", link})));
  ManagedNetwork onhost{name("b"), name("b"), hostnet, std::nullopt, true, true};
  auto clash = create_network(onhost);
  ASSERT_FALSE(clash.has_value());
  EXPECT_NE(clash.error().message().find("address `" + hostnet.nth(1)->str() + "/30` of `" + link + "`"),
            std::string::npos)
      << clash.error().message();
  // A host link's name.
  ManagedNetwork named{link, link, free_subnet(), std::nullopt, true, true};
  auto taken = create_network(named);
  ASSERT_FALSE(taken.has_value());
  EXPECT_NE(taken.error().message().find("a link named `" + link + "` exists"), std::string::npos);
}

TEST_F(ManagedNetworkTest, BadConfigFileNamesFileAndLine) {
  std::string n = name();
  ASSERT_OK(mkdir_p(network_dir()));
  ASSERT_OK(write_file(network_file(n), "[network]\nipv4 = 10.250.1.1/24\nnat = perhaps\n"));
  auto net = load_network(n);
  ASSERT_FALSE(net.has_value());
  EXPECT_NE(net.error().message().find(network_file(n) + ":3: [network] nat: `perhaps` is not a boolean"),
            std::string::npos)
      << net.error().message();
  auto show = run_tool("cove-network", {"show", n});
  EXPECT_EQ(show.status, 1);
  EXPECT_NE(show.err.find(network_file(n) + ":3:"), std::string::npos) << show.err;
  auto missing = load_network(name("z"));
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ENOENT);
  EXPECT_FALSE(is_managed_network(name("z")));
}

TEST_F(ManagedNetworkTest, DefaultNetworkPicksAFreeSubnet) {
  auto sock = NetlinkSocket::open();
  ASSERT_TRUE(sock.has_value());
  auto existing = find_link(*sock, kDefaultNetwork);
  ASSERT_TRUE(existing.has_value());
  if (existing->has_value()) GTEST_SKIP() << "this host has a `cove0` link";
  EXPECT_TRUE(is_managed_network(kDefaultNetwork));
  auto net = load_network(kDefaultNetwork);  // created on first use (the file only)
  ASSERT_TRUE(net.has_value()) << net.error().message();
  ASSERT_TRUE(net->ipv4);
  EXPECT_EQ(net->ipv4->prefix, 24u);
  EXPECT_EQ(net->ipv4->address.bytes[0], 10);
  EXPECT_EQ(net->ipv4->address.bytes[1], 0);
  EXPECT_GE(net->ipv4->address.bytes[2], 3);
  EXPECT_EQ(net->ipv4->address.bytes[3], 1);
  EXPECT_EQ(find_overlap(*net->ipv4, host_taken()), nullptr);
  EXPECT_FALSE(net->ipv6);
  EXPECT_TRUE(path_exists(network_file(kDefaultNetwork)));
  auto again = load_network(kDefaultNetwork);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, *net);
  // A second auto network skips the first one's subnet.
  auto second = create_network_auto_ipv4(ManagedNetwork{name(), name(), {}, {}, true, true});
  ASSERT_TRUE(second.has_value()) << second.error().message();
  EXPECT_FALSE(second->ipv4->overlaps(*net->ipv4));
}

TEST_F(ManagedNetworkTest, Tool) {
  std::string n = name();
  // Deleting a network that does not exist fails and leaves no run directory behind.
  auto missing = run_tool("cove-network", {"delete", n + "x"});
  EXPECT_EQ(missing.status, 1) << missing.err;
  EXPECT_NE(missing.err.find("no network"), std::string::npos) << missing.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/run")) << "a failed delete made the run directory";
  IpPrefix v4 = free_subnet();
  networks_.push_back(n);
  auto created = run_tool("cove-network", {"create", n, "--ipv4", v4.str(), "--no-nat"});
  ASSERT_EQ(created.status, 0) << created.err;
  auto list = run_tool("cove-network", {"list"});
  ASSERT_EQ(list.status, 0) << list.err;
  EXPECT_NE(list.out.find(n), std::string::npos);
  EXPECT_NE(list.out.find("down"), std::string::npos) << list.out;
  ASSERT_EQ(run_tool("cove-network", {"up", n}).status, 0);
  auto show = run_tool("cove-network", {"show", n});
  ASSERT_EQ(show.status, 0) << show.err;
  EXPECT_NE(show.out.find("state: up"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("nat: false"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("nat table: absent"), std::string::npos) << show.out;
  EXPECT_EQ(show.out.find("dnsmasq: not running"), std::string::npos) << show.out;
  ASSERT_EQ(run_tool("cove-network", {"down", n}).status, 0);
  expect_gone(n, std::nullopt);
  ASSERT_EQ(run_tool("cove-network", {"delete", n}).status, 0);
  EXPECT_FALSE(path_exists(network_file(n)));
  // Usage errors: exit 2, naming what is allowed.
  auto unknown = run_tool("cove-network", {"frob"});
  EXPECT_EQ(unknown.status, 2);
  EXPECT_NE(unknown.err.find("unknown verb `frob` (allowed: create, delete, list, show, up, down, attach, detach, set-rate)"), std::string::npos)
      << unknown.err;
  EXPECT_EQ(run_tool("cove-network", {"create"}).status, 2);
  auto wrong_opt = run_tool("cove-network", {"delete", n, "--ipv4", "none"});
  EXPECT_EQ(wrong_opt.status, 2);
  EXPECT_NE(wrong_opt.err.find("`--ipv4` is not an option of `delete`"), std::string::npos) << wrong_opt.err;
  auto bad_cidr = run_tool("cove-network", {"create", n, "--ipv4", "10.250.0.0/24"});
  EXPECT_EQ(bad_cidr.status, 2);
  EXPECT_NE(bad_cidr.err.find("is the network address"), std::string::npos) << bad_cidr.err;
  auto gone = run_tool("cove-network", {"show", n});
  EXPECT_EQ(gone.status, 1);
  EXPECT_NE(gone.err.find("no network `" + n + "`"), std::string::npos) << gone.err;
}
