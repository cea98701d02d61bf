#include "lifecycle/proc_scan.hpp"
#include "support.hpp"

namespace cove::lifecycle {
namespace {

// /proc/PID/status of a process two pid namespaces deep (host, container), read on the host.
TEST(ProcScan, NamespacedIdsPerLevel) {
  auto ids = parse_namespaced_ids(
      "Name:\tsleep\nTgid:\t5354\nNgid:\t0\nPid:\t5354\nPPid:\t4012\n"
      "NStgid:\t5354\t55\nNSpid:\t5354\t55\nNSpgid:\t712\t0\nNSsid:\t17087\t0\nThreads:\t1\n");
  EXPECT_EQ(ids.pid, (std::vector<int64_t>{5354, 55}));
  EXPECT_EQ(ids.pgid, (std::vector<int64_t>{712, 0}));  // the leader has no pid inside
  EXPECT_EQ(ids.sid, (std::vector<int64_t>{17087, 0}));
}

TEST(ProcScan, NamespacedIdsOfAHostProcess) {
  auto ids = parse_namespaced_ids("NSpid:\t42\nNSpgid:\t42\nNSsid:\t1\n");
  EXPECT_EQ(ids.pid, (std::vector<int64_t>{42}));
  EXPECT_EQ(ids.sid, (std::vector<int64_t>{1}));
  EXPECT_TRUE(parse_namespaced_ids("Name:\tx\n").pid.empty());
}

// /proc/PID/net/dev of a container with only a loopback, and of a host.
TEST(ProcScan, NetDevInterfaces) {
  const char* header =
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier "
      "compressed\n";
  EXPECT_EQ(parse_net_dev(std::string(header) + "    lo:       0       0    0    0    0     0          0         0 "
                                                 "       0       0    0    0    0     0       0          0\n"),
            std::vector<std::string>{"lo"});
  EXPECT_EQ(parse_net_dev(std::string(header) + "    lo: 1 2 0 0 0 0 0 0 1 2 0 0 0 0 0 0\n  eth0:3 4 0 0 0 0 0 0 5 6 0 0 0 0 0 0\n"),
            (std::vector<std::string>{"lo", "eth0"}));
  EXPECT_TRUE(parse_net_dev(header).empty());
}

// /proc/PID/cgroup of processes of a systemd guest on the hybrid host, read on the host through
// the container's cgroup namespace, and on a pure cgroup v2 host.
TEST(ProcScan, SystemdUnitOfAProcess) {
  EXPECT_EQ(systemd_unit_of("9:name=systemd:/system.slice/cron.service\n8:pids:/system.slice/cron.service\n"
                            "7:blkio:/\n0::/system.slice/cron.service\n"),
            "cron.service");
  EXPECT_EQ(systemd_unit_of("0::/init.scope\n"), "init.scope");
  EXPECT_EQ(systemd_unit_of("0::/user.slice/user-0.slice/session-3.scope\n"), "session-3.scope");
  // v1 only (no cgroup2 line for the guest): the name=systemd hierarchy.
  EXPECT_EQ(systemd_unit_of("1:name=systemd:/system.slice/ssh.service\n"), "ssh.service");
  // Not in a unit: the container's own cgroup, or junk.
  EXPECT_EQ(systemd_unit_of("0::/\n"), "");
  EXPECT_EQ(systemd_unit_of("0::/cove.payload.web-0b24\n"), "");
  EXPECT_EQ(systemd_unit_of(""), "");
  EXPECT_EQ(systemd_unit_of("0::/.service\n"), "");
}

TEST(ProcScan, PressureFiles) {
  EXPECT_TRUE(is_pressure_file("/sys/fs/cgroup/system.slice/systemd-logind.service/memory.pressure"));
  EXPECT_TRUE(is_pressure_file("/sys/fs/cgroup/cpu.pressure"));
  EXPECT_TRUE(is_pressure_file("/proc/pressure/../x/io.pressure"));
  EXPECT_FALSE(is_pressure_file("/sys/fs/cgroup/memory.pressure.bak"));
  EXPECT_FALSE(is_pressure_file("memory.pressure"));
  EXPECT_FALSE(is_pressure_file("/var/log/journal/x.journal"));
}

}  // namespace
}  // namespace cove::lifecycle
