#include "lifecycle/proc_scan.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "base/unique_fd.hpp"
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

// States of this process's own fds. A queue is only a dump hazard when its receiver asked for
// credentials; a listening socket has no data queue.
TEST(ProcScan, PassingFdStates) {
  const std::vector<pid_t> self = {::getpid()};
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd rx(sv[0]), tx(sv[1]);
  EXPECT_FALSE(find_passing_fd_state(self).has_value());
  ASSERT_EQ(::send(tx.get(), "x", 1, 0), 1);
  EXPECT_FALSE(find_passing_fd_state(self).has_value()) << "queued, no credentials asked for";
  int on = 1;
  ASSERT_EQ(::setsockopt(rx.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on), 0);
  auto found = find_passing_fd_state(self);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->fd, rx.get());
  EXPECT_NE(found->what.find("credentials"), std::string::npos);
  char c;
  ASSERT_EQ(::recv(rx.get(), &c, 1, 0), 1);
  EXPECT_FALSE(find_passing_fd_state(self).has_value()) << "read: nothing queued";

  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(::setsockopt(listener.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on), 0);
  sockaddr_un sa = {};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, "cove-proc-scan-%d", int(::getpid()));  // abstract
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(listener.get(), 1), 0);
  EXPECT_FALSE(find_passing_fd_state(self).has_value());

  UniqueFd fsc(int(::syscall(SYS_fsopen, "tmpfs", 1 /* FSOPEN_CLOEXEC */)));
  if (!fsc) GTEST_SKIP() << "fsopen: " << std::strerror(errno) << " (needs CAP_SYS_ADMIN)";
  found = find_passing_fd_state(self);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->fd, fsc.get());
  EXPECT_NE(found->what.find("fscontext"), std::string::npos);
}

// A child running a program this process holds with O_PATH; the same program held for reading
// is no such thing.
TEST(ProcScan, ExeHeldByPath) {
  for (int flags : {O_PATH, O_RDONLY}) {
    UniqueFd prog(::open("/bin/sleep", flags | O_CLOEXEC));
    ASSERT_TRUE(prog);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::execl("/bin/sleep", "sleep", "30", nullptr);
      ::_exit(127);
    }
    // Until the child runs sleep (its exe is this test's program before the exec).
    std::string exe;
    for (int i = 0; i < 500 && exe != std::filesystem::canonical("/bin/sleep").string(); ++i) {
      ::usleep(2000);
      std::error_code ec;
      exe = std::filesystem::read_symlink("/proc/" + std::to_string(child) + "/exe", ec).string();
    }
    auto found = find_exe_held_by_path({::getpid(), child});
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    if (flags == O_RDONLY) {
      EXPECT_FALSE(found.has_value());
      continue;
    }
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->runner, child);
    EXPECT_EQ(found->holder, ::getpid());
    EXPECT_EQ(found->fd, prog.get());
    EXPECT_EQ(found->exe, exe);
  }
}

}  // namespace
}  // namespace cove::lifecycle
