// Checkpoint/restore of a running Debian container with systemd as PID 1 (issue 12), the
// default (unprivileged) container of `cove-create -t debian`: journald, dbus, logind, cron,
// sshd and a getty on the console. After `cove-checkpoint --stop` and `cove-restore` systemd is
// still `running` with the same pids inside, the console gives a login, and a service systemd
// restarts afterwards gets its cgroup. `cove-checkpoint --check` names what would block a dump
// (a service's nested namespace, an open pressure file) and nothing for the default container.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "criu/features.hpp"
#include "support.hpp"
#include "terminal.hpp"

namespace cove::test {
namespace {

constexpr int kBootMs = 120000;

int64_t median(std::vector<int64_t> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

uint64_t dir_bytes(const std::string& dir) {
  uint64_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.is_regular_file(ec)) n += e.file_size(ec);
  return n;
}

// Whether PID `pid`'s socket bound to `path` has SO_PASSPIDFD set: 1 or 0, -1 when no such
// socket was found (looked at through copies taken with pidfd_getfd).
int passpidfd_of(pid_t pid, const std::string& path) {
  int pidfd = int(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return -1;
  int out = -1;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    auto target = std::filesystem::read_symlink(e.path(), ec);
    if (ec || target.string().rfind("socket:", 0) != 0) continue;
    int fd = int(::syscall(SYS_pidfd_getfd, pidfd, std::atoi(e.path().filename().c_str()), 0));
    if (fd < 0) continue;
    struct sockaddr_un sa = {};
    socklen_t len = sizeof sa;
    int val = 0;
    socklen_t vlen = sizeof val;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0 && sa.sun_family == AF_UNIX &&
        len > sizeof(sa_family_t) && std::string(sa.sun_path) == path &&
        ::getsockopt(fd, SOL_SOCKET, 76 /* SO_PASSPIDFD */, &val, &vlen) == 0)
      out = val ? 1 : 0;
    ::close(fd);
    if (out >= 0) break;
  }
  ::close(pidfd);
  return out;
}

// A stock CRIU (stock_criu_) carries one pty whose master is outside (the console): cove ends
// the /dev/ttyN sessions before a dump, but systemd respawns container-getty@N on pts/N at once,
// and the dump fails ("Only one slave external peer"); --check says so. The tests then run
// without ttys, so that everything else is still tested with a stock CRIU.
class SystemdCheckpointTest : public CriuContainerTest {
 protected:

  std::string images(const std::string& tag) { return path_ + "/images-" + tag; }

  // Created, started and booted to `running`.
  void boot(const std::string& name, const std::vector<std::string>& template_args = {}, bool keep_ttys = false) {
    ASSERT_NO_FATAL_FAILURE(create_debian_container(name, template_args));
    if (stock_criu_ && !keep_ttys) std::ofstream(path_ + "/" + name + "/config", std::ios::app) << "\n[container]\nttys = 0\n";
    auto r = cove("cove-start", name);
    ASSERT_EQ(r.status, 0) << r.err;
    ASSERT_TRUE(boots_to_running(name, kBootMs));
  }

  // The main pid (inside) of each unit, as systemd says.
  std::vector<std::string> main_pids(const std::string& name, const std::vector<std::string>& units) {
    std::vector<std::string> out;
    for (const auto& u : units) out.push_back(attach_out(name, {"systemctl", "show", "-p", "MainPID", "--value", u}));
    return out;
  }

  // cove-checkpoint --stop; its wall time in ms (the whole tool run), -1 on failure.
  int64_t checkpoint_stop(const std::string& name, const std::string& dir) {
    int64_t t0 = now_ms();
    auto r = cove("cove-checkpoint", name, {"-D", dir, "--stop"}, 120);
    int64_t ms = now_ms() - t0;
    EXPECT_EQ(r.status, 0) << r.err;
    return r.status == 0 ? ms : -1;
  }
  int64_t restore(const std::string& name, const std::string& dir) {
    int64_t t0 = now_ms();
    auto r = cove("cove-restore", name, {"-D", dir}, 120);
    int64_t ms = now_ms() - t0;
    EXPECT_EQ(r.status, 0) << r.err;
    return r.status == 0 ? ms : -1;
  }

  // `cove-checkpoint --check --json`: its findings, and whether it said checkpointable.
  nlohmann::json check(const std::string& name) {
    auto r = cove("cove-checkpoint", name, {"--check", "--json"});
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
    if (j.is_discarded()) return nlohmann::json::object();
    EXPECT_EQ(r.status == 0, j.value("checkpointable", false)) << r.out;
    return j;
  }
  static std::vector<std::string> blockers(const nlohmann::json& j) {
    std::vector<std::string> out;
    for (const auto& f : j.value("findings", nlohmann::json::array()))
      if (f.value("blocking", false)) out.push_back(f.value("area", "") + ": " + f.value("what", ""));
    return out;
  }

  // The host's cgroup directories of `unit` below the container's cgroups that hold a process.
  int populated_unit_cgroups(const std::string& name, const std::string& unit) {
    int n = 0;
    for (const auto& dir : leftover_cgroups(name)) {
      std::string procs = dir + "/system.slice/" + unit + "/cgroup.procs";
      if (!trim_str(read_text(procs)).empty()) ++n;
    }
    return n;
  }
};

TEST_F(SystemdCheckpointTest, StopAndRestoreKeepsSystemdRunning) {
  // cron and sshd besides what every container runs (journald, dbus, logind, the console getty).
  ASSERT_NO_FATAL_FAILURE(boot("scr", {"--root-password", "cove-Test-pw1", "--packages", "cron", "--ssh"}));
  // The default container has nothing that blocks a dump.
  auto found = check("scr");
  EXPECT_TRUE(found.value("checkpointable", false)) << found.dump(2);
  EXPECT_TRUE(blockers(found).empty()) << found.dump(2);

  const std::vector<std::string> units = {"systemd-journald", "dbus", "systemd-logind", "cron", "ssh", "console-getty"};
  auto pids = main_pids("scr", units);
  for (size_t i = 0; i < units.size(); ++i) ASSERT_NE(pids[i], "0") << units[i] << " is not running";
  ASSERT_EQ(cove("cove-attach", "scr", {"--", "sh", "-c", "echo before > /run/cove-marker"}).status, 0);

  ASSERT_GT(checkpoint_stop("scr", images("1")), 0);
  EXPECT_EQ(trim_str(cove("cove-info", "scr", {"-s"}).out), "STOPPED");
  EXPECT_TRUE(leftover_cgroups("scr").empty());
  ASSERT_GT(restore("scr", images("1")), 0);

  // systemd is still running, with the same processes and what /run held.
  EXPECT_EQ(system_state("scr"), "running");
  EXPECT_EQ(attach_out("scr", {"cat", "/proc/1/comm"}), "systemd");
  EXPECT_EQ(main_pids("scr", units), pids);
  EXPECT_EQ(attach_out("scr", {"cat", "/run/cove-marker"}), "before");
  EXPECT_EQ(attach_out("scr", {"systemctl", "is-active", "ssh", "cron", "dbus", "systemd-journald"}),
            "active\nactive\nactive\nactive");
  // sshd still answers on its restored listening socket.
  EXPECT_EQ(attach_out("scr", {"bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/22 && head -c 4 <&3"}), "SSH-");
  // journald takes messages and gives them back.
  EXPECT_EQ(cove("cove-attach", "scr", {"--", "logger", "-t", "covetest", "after-restore-42"}).status, 0);
  EXPECT_TRUE(eventually(
      [&] {
        auto r = cove("cove-attach", "scr", {"--", "journalctl", "-q", "-t", "covetest", "--no-pager"});
        return r.out.find("after-restore-42") != std::string::npos;
      },
      20000, 200));

  // The console gives a login, and the login works.
  {
    Terminal t({builddir() + "/cove-console", "-P", path_, "-n", "scr"});
    ASSERT_TRUE(log_in(t, "root", "cove-Test-pw1"));
    EXPECT_TRUE(t.wait_for("/dev/console", 10000)) << t.output();
    t.type("exit\r");
    t.type("\x01q");
    EXPECT_EQ(t.wait_exit(10000), 0) << t.output();
  }

  // A service systemd restarts after the restore gets its cgroup, inside and on the host.
  auto r = cove("cove-attach", "scr", {"--", "systemctl", "restart", "cron"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(attach_out("scr", {"systemctl", "is-active", "cron"}), "active");
  EXPECT_NE(attach_out("scr", {"systemctl", "show", "-p", "MainPID", "--value", "cron"}), pids[3]);
  EXPECT_EQ(attach_out("scr", {"systemctl", "show", "-p", "ControlGroup", "--value", "cron"}),
            "/system.slice/cron.service");
  EXPECT_GT(populated_unit_cgroups("scr", "cron.service"), 0) << "no host cgroup of cron.service holds a process";
  EXPECT_EQ(system_state("scr"), "running");

  // A clean power-off after all that.
  r = cove("cove-stop", "scr");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(leftover_cgroups("scr").empty());
}

// An overlay rootfs (here over another container's Debian tree): overlayfs gives file handles
// CRIU cannot open (none decode without nfs_export), so dbus-daemon's inotify watches on
// /usr/share/dbus-1/system.d must be found by path, in the directories cove has CRIU search.
TEST_F(SystemdCheckpointTest, OverlayRootfsRoundTrip) {
  ASSERT_NO_FATAL_FAILURE(create_debian_container("sbase"));
  std::string conf = path_ + "/sov.conf";
  std::ofstream(conf) << "[rootfs]\nbackend = overlay\nlower = " << path_ << "/sbase/rootfs\n"
                      << (stock_criu_ ? "[container]\nttys = 0\n" : "");
  auto c = cove("cove-create", "sov", {"-f", conf});
  ASSERT_EQ(c.status, 0) << c.err;
  ASSERT_EQ(cove("cove-start", "sov").status, 0);
  ASSERT_TRUE(boots_to_running("sov", kBootMs));
  auto pids = main_pids("sov", {"dbus", "systemd-logind"});
  ASSERT_NE(pids[0], "0");
  ASSERT_GT(checkpoint_stop("sov", images("ov")), 0);
  ASSERT_GT(restore("sov", images("ov")), 0);
  EXPECT_EQ(system_state("sov"), "running");
  EXPECT_EQ(main_pids("sov", {"dbus", "systemd-logind"}), pids);
  // dbus still answers on its restored sockets.
  EXPECT_EQ(cove("cove-attach", "sov", {"--", "busctl", "--system", "list", "--no-pager"}).status, 0);
  EXPECT_EQ(cove("cove-stop", "sov").status, 0);
}

TEST_F(SystemdCheckpointTest, TwentyRoundsInARow) {
  ASSERT_NO_FATAL_FAILURE(boot("s20"));
  // A counter that runs as a service of its own, in /run (a tmpfs: it travels in the images).
  auto r = cove("cove-attach", "s20",
                {"--", "systemd-run", "--unit=cove-counter", "sh", "-c",
                 "i=0; while :; do i=$((i+1)); echo $i > /run/counter.tmp && mv /run/counter.tmp /run/counter; "
                 "sleep 0.02; done"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto counter = [&] {
    auto v = trim_str(cove("cove-attach", "s20", {"--", "cat", "/run/counter"}).out);
    return v.empty() ? -1L : std::stol(v);
  };
  ASSERT_TRUE(eventually([&] { return counter() > 1; }));
  std::string counter_pid = attach_out("s20", {"systemctl", "show", "-p", "MainPID", "--value", "cove-counter"});
  std::string journald_pid = attach_out("s20", {"systemctl", "show", "-p", "MainPID", "--value", "systemd-journald"});
  ASSERT_NE(counter_pid, "0");

  std::vector<int64_t> dumps, restores;
  uint64_t image_bytes = 0;
  for (int round = 1; round <= 20; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    long before = counter();
    ASSERT_GT(before, 0);
    std::string dir = images(std::to_string(round));
    int64_t d = checkpoint_stop("s20", dir);
    ASSERT_GT(d, 0);
    int64_t s = restore("s20", dir);
    ASSERT_GT(s, 0);
    dumps.push_back(d);
    restores.push_back(s);
    image_bytes = dir_bytes(dir);
    ASSERT_EQ(system_state("s20"), "running");
    ASSERT_EQ(attach_out("s20", {"cat", "/proc/1/comm"}), "systemd");
    ASSERT_EQ(attach_out("s20", {"systemctl", "show", "-p", "MainPID", "--value", "cove-counter"}), counter_pid);
    ASSERT_EQ(attach_out("s20", {"systemctl", "show", "-p", "MainPID", "--value", "systemd-journald"}), journald_pid);
    ASSERT_GE(counter(), before);
    ASSERT_TRUE(eventually([&] { return counter() > before; })) << "the counter does not run after the restore";
    std::filesystem::remove_all(dir);
  }
  std::printf("[ systemd C/R ] 20 rounds: dump --stop median %lld ms (min %lld, max %lld), restore median %lld ms "
              "(min %lld, max %lld), images %llu KiB\n",
              (long long)median(dumps), (long long)*std::min_element(dumps.begin(), dumps.end()),
              (long long)*std::max_element(dumps.begin(), dumps.end()), (long long)median(restores),
              (long long)*std::min_element(restores.begin(), restores.end()),
              (long long)*std::max_element(restores.begin(), restores.end()),
              (unsigned long long)(image_bytes / 1024));
  RecordProperty("dump_stop_median_ms", std::to_string(median(dumps)));
  RecordProperty("restore_median_ms", std::to_string(median(restores)));
  r = cove("cove-stop", "s20");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(leftover_cgroups("s20").empty());
}

// A privileged systemd container shares the host's user namespace, where this host gives no
// CAP_SYS_RESOURCE: dbus-daemon runs as messagebus, whose rlimits a stock CRIU cannot read
// (cove's build reads /proc/PID/limits, scripts/criu-patches/0009).
TEST_F(SystemdCheckpointTest, PrivilegedRoundTrip) {
  ASSERT_NO_FATAL_FAILURE(create_debian_container("spriv"));
  {
    // No user namespace: the id map cove-create allocated goes.
    std::string cfg = path_ + "/spriv/config", kept;
    std::istringstream in(read_text(cfg));
    for (std::string line; std::getline(in, line);)
      if (line.rfind("uid =", 0) != 0 && line.rfind("gid =", 0) != 0) kept += line + "\n";
    std::ofstream(cfg, std::ios::trunc) << kept << "\n[container]\nprivileged = true\n";
  }
  auto r = cove("cove-start", "spriv");
  ASSERT_EQ(r.status, 0) << r.err;
  std::string s;
  eventually([&] { return (s = system_state("spriv")) == "running"; }, kBootMs, 100);
  ASSERT_EQ(s, "running");
  // Privileged indeed: init is in the host's user namespace.
  struct stat mine, its;
  ASSERT_EQ(::stat("/proc/self/ns/user", &mine), 0);
  ASSERT_EQ(::stat(("/proc/" + std::to_string(init_pid("spriv")) + "/ns/user").c_str(), &its), 0);
  ASSERT_EQ(mine.st_ino, its.st_ino);
  auto found = check("spriv");
  auto criu_info = criu::probe();
  ASSERT_TRUE(criu_info.has_value()) << criu_info.error().message();
  auto status = read_text("/proc/self/status");
  auto cap_eff = status.find("\nCapEff:");
  bool no_cap_sys_resource =
      cap_eff == std::string::npos || !(std::strtoull(status.c_str() + cap_eff + 8, nullptr, 16) & (1ULL << 24));
  if (!criu_info->orphan_ttys && no_cap_sys_resource) {
    // A stock CRIU: --check says why it cannot work here.
    std::string all;
    for (const auto& b : blockers(found)) all += b + "\n";
    EXPECT_NE(all.find("CAP_SYS_RESOURCE"), std::string::npos) << found.dump(2);
    EXPECT_NE(all.find("dbus-daemon"), std::string::npos) << found.dump(2);
    EXPECT_EQ(cove("cove-stop", "spriv").status, 0);
    GTEST_SKIP() << "a stock CRIU cannot dump a privileged systemd container without CAP_SYS_RESOURCE";
  }
  EXPECT_TRUE(blockers(found).empty()) << found.dump(2);
  std::string dbus = attach_out("spriv", {"systemctl", "show", "-p", "MainPID", "--value", "dbus"});
  ASSERT_NE(dbus, "0");
  ASSERT_GT(checkpoint_stop("spriv", images("1")), 0);
  ASSERT_GT(restore("spriv", images("1")), 0);
  EXPECT_EQ(system_state("spriv"), "running");
  EXPECT_EQ(attach_out("spriv", {"systemctl", "show", "-p", "MainPID", "--value", "dbus"}), dbus);
  r = cove("cove-attach", "spriv", {"--", "systemctl", "restart", "systemd-logind"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(attach_out("spriv", {"systemctl", "is-active", "systemd-logind"}), "active");
  r = cove("cove-stop", "spriv");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(leftover_cgroups("spriv").empty());
}

// Debian trixie: systemd 257 sets SO_PASSPIDFD on its notify socket, which a restore keeps
// with cove's CRIU build (scripts/criu-patches/0010).
TEST_F(SystemdCheckpointTest, TrixieKeepsItsNotifySocketsPidfdOption) {
  ASSERT_NO_FATAL_FAILURE(boot("stx", {"--release", "trixie"}));
  ASSERT_EQ(passpidfd_of(init_pid("stx"), "/run/systemd/notify"), 1);
  std::string journald = attach_out("stx", {"systemctl", "show", "-p", "MainPID", "--value", "systemd-journald"});
  ASSERT_GT(checkpoint_stop("stx", images("1")), 0);
  ASSERT_GT(restore("stx", images("1")), 0);
  EXPECT_EQ(system_state("stx"), "running");
  EXPECT_EQ(attach_out("stx", {"systemctl", "show", "-p", "MainPID", "--value", "systemd-journald"}), journald);
  auto criu_info = criu::probe();
  ASSERT_TRUE(criu_info.has_value()) << criu_info.error().message();
  if (criu_info->orphan_ttys) {
    EXPECT_EQ(passpidfd_of(init_pid("stx"), "/run/systemd/notify"), 1);
  }
  auto r = cove("cove-attach", "stx", {"--", "systemctl", "restart", "systemd-logind"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(attach_out("stx", {"systemctl", "is-active", "systemd-logind"}), "active");
  EXPECT_EQ(system_state("stx"), "running");
  r = cove("cove-stop", "stx");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(leftover_cgroups("stx").empty());
}

// With a stock CRIU the getty systemd keeps on /dev/tty1 blocks a dump, and --check says so
// (with cove's build it is carried like the console).
TEST_F(SystemdCheckpointTest, CheckNamesTheGettyOnATtyForAStockCriu) {
  ASSERT_NO_FATAL_FAILURE(boot("stty", {}, true));
  ASSERT_TRUE(eventually([&] { return attach_out("stty", {"systemctl", "is-active", "container-getty@1"}) == "active"; }));
  std::string all;
  for (const auto& b : blockers(check("stty"))) all += b + "\n";
  if (!stock_criu_) {
    EXPECT_EQ(all, "");
    return;
  }
  EXPECT_NE(all.find("holds tty pts/1"), std::string::npos) << all;
  EXPECT_NE(all.find("container-getty@1.service"), std::string::npos) << all;
}

TEST_F(SystemdCheckpointTest, CheckNamesWhatBlocksASystemdGuest) {
  ASSERT_NO_FATAL_FAILURE(boot("sck"));
  auto found = check("sck");
  EXPECT_TRUE(blockers(found).empty()) << found.dump(2);

  // The template's drop-in turns ProtectHostname= off for every service, even a transient one
  // that asks for it: no nested uts namespace, nothing to report.
  auto r = cove("cove-attach", "sck", {"--", "systemd-run", "--unit=cove-ph", "-p", "ProtectHostname=yes", "sleep", "1000"});
  ASSERT_EQ(r.status, 0) << r.err;
  found = check("sck");
  EXPECT_TRUE(blockers(found).empty()) << found.dump(2);

  // A service that makes a uts namespace itself, with a name that holds a terminal escape; and
  // one holding a pressure file open.
  r = cove("cove-attach", "sck",
           {"--", "systemd-run", "--unit=cove-uts", "unshare", "--uts", "bash", "-c",
            "printf 'evil\\033]0;owned\\007' > /proc/self/comm; while :; do sleep 1; done"});
  ASSERT_EQ(r.status, 0) << r.err;
  r = cove("cove-attach", "sck",
           {"--", "systemd-run", "--unit=cove-psi", "bash", "-c",
            "exec 3</sys/fs/cgroup/unified/system.slice/cove-psi.service/memory.pressure; exec sleep 1000"});
  ASSERT_EQ(r.status, 0) << r.err;
  // A filesystem CRIU cannot dump, in a service's own mount namespace.
  r = cove("cove-attach", "sck",
           {"--", "systemd-run", "--unit=cove-ramfs", "-p", "PrivateMounts=yes", "bash", "-c",
            "mount -t ramfs none /mnt && exec sleep 1000"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::string all;
  ASSERT_TRUE(eventually([&] {
    auto b = blockers(check("sck"));
    all.clear();
    for (const auto& x : b) all += x + "\n";
    return all.find("cove-uts.service") != std::string::npos && all.find("memory.pressure") != std::string::npos &&
           all.find("cove-ramfs.service") != std::string::npos;
  })) << all;
  EXPECT_NE(all.find("mounts: `ramfs` at `/mnt` in the mount namespace of process"), std::string::npos) << all;
  EXPECT_NE(all.find("namespaces: process"), std::string::npos) << all;
  EXPECT_NE(all.find("own uts namespace"), std::string::npos) << all;
  EXPECT_NE(all.find("ProtectHostname"), std::string::npos) << all;
  EXPECT_NE(all.find("of `cove-psi.service`"), std::string::npos) << all;
  // The container's text reaches the admin as printable text only.
  EXPECT_NE(all.find("evil\\x1b]0;owned\\x07"), std::string::npos) << all;
  EXPECT_EQ(all.find('\033'), std::string::npos);
  auto text = cove("cove-checkpoint", "sck", {"--check"});
  EXPECT_NE(text.status, 0);
  EXPECT_EQ(text.out.find('\033'), std::string::npos);
  EXPECT_NE(text.out.find("BLOCKS"), std::string::npos) << text.out;

  // What --check names does block a dump; the error says why (not CRIU's benign first error),
  // and the container goes on running.
  r = cove("cove-checkpoint", "sck", {"-D", images("1"), "--stop"}, 120);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("nested uts namespace"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("RLIMIT_NOFILE"), std::string::npos) << r.err;
  EXPECT_EQ(system_state("sck"), "running");

  // With the blockers gone the check is clean again and the dump goes through.
  r = cove("cove-attach", "sck", {"--", "systemctl", "stop", "cove-uts", "cove-psi", "cove-ramfs"});
  ASSERT_EQ(r.status, 0) << r.err;
  found = check("sck");
  EXPECT_TRUE(blockers(found).empty()) << found.dump(2);
  std::filesystem::remove_all(images("1"));
  EXPECT_GT(checkpoint_stop("sck", images("1")), 0);
  EXPECT_GT(restore("sck", images("1")), 0);
  EXPECT_EQ(system_state("sck"), "running");
  r = cove("cove-stop", "sck");
  EXPECT_EQ(r.status, 0) << r.err;
}

}  // namespace
}  // namespace cove::test
