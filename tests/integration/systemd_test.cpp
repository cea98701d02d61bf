// systemd as PID 1 of an unprivileged Debian container (issue 12): it boots to `running`
// with a delegated cgroup and a working journal, cove-stop is a clean power-off and
// cove-stop -r a reboot, cove-console gives a login on a real terminal, and cove-attach gives a
// shell with the container's environment. Also run in the pure cgroup v2 guest
// (tests/vm/cgroup-v2-check).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support.hpp"
#include "terminal.hpp"

namespace cove::test {
namespace {

// Under TCG (the v2 guest) a boot takes seconds, on the host well under one.
constexpr int kBootMs = 120000;

class SystemdTest : public ContainerTest {
 protected:
  void append_config(const std::string& name, const std::string& text) {
    std::ofstream(path_ + "/" + name + "/config", std::ios::app) << "\n" << text << "\n";
  }
};

TEST_F(SystemdTest, BootsToRunningWithItsOwnCgroupsAndJournal) {
  ASSERT_NO_FATAL_FAILURE(create_debian_container("sd"));
  ASSERT_EQ(cove("cove-start", "sd").status, 0);
  ASSERT_TRUE(boots_to_running("sd"));
  EXPECT_EQ(attach_out("sd", {"cat", "/proc/1/comm"}), "systemd");
  // systemd placed its services in cgroups of its own, below the container's (delegated) one.
  EXPECT_EQ(attach_out("sd", {"systemctl", "show", "-p", "ControlGroup", "--value", "systemd-journald"}),
            "/system.slice/systemd-journald.service");
  // An attached command joins init's cgroup (init.scope), not the container's own cgroup, which
  // on cgroup v2 holds controllers now and refuses processes (EBUSY).
  auto cg = attach_out("sd", {"cat", "/proc/self/cgroup"});
  EXPECT_NE(cg.find("0::/init.scope"), std::string::npos) << cg;
  bool found_slice = false;
  for (const auto& dir : leftover_cgroups("sd"))
    if (std::filesystem::exists(dir + "/system.slice/systemd-journald.service")) found_slice = true;
  EXPECT_TRUE(found_slice) << "no system.slice below the container's cgroups on the host";
  // journald takes messages and gives them back.
  EXPECT_EQ(cove("cove-attach", "sd", {"--", "logger", "-t", "covetest", "journal-marker-42"}).status, 0);
  EXPECT_TRUE(eventually(
      [&] {
        auto r = cove("cove-attach", "sd", {"--", "journalctl", "-q", "-t", "covetest", "--no-pager"});
        return r.out.find("journal-marker-42") != std::string::npos;
      },
      20000, 200));
  ASSERT_EQ(cove("cove-stop", "sd").status, 0);
  EXPECT_TRUE(leftover_cgroups("sd").empty());
}

TEST_F(SystemdTest, AttachGivesTheContainersShellAndEnvironment) {
  ASSERT_NO_FATAL_FAILURE(create_debian_container("env"));
  append_config("env", "[container]\ninit.env = COVE_TEST_ENV=from-config");
  ASSERT_EQ(cove("cove-start", "env").status, 0);
  ASSERT_TRUE(boots_to_running("env"));
  EXPECT_EQ(attach_out("env", {"sh", "-c", "echo $HOME $COVE_TEST_ENV $container"}), "/root from-config cove");
  // No command: root's shell from the container's /etc/passwd (bash in Debian), not /bin/sh.
  auto r = run_cmd({"sh", "-c",
                    "echo 'echo shell=$0 SHELL=$SHELL' | " + builddir() + "/cove-attach -P " + path_ + " -n env"});
  EXPECT_EQ(trim_str(r.out), "shell=/bin/bash SHELL=/bin/bash") << r.err;
  // --set-var wins over the config.
  auto v = cove("cove-attach", "env", {"-v", "COVE_TEST_ENV=cli", "--", "sh", "-c", "echo $COVE_TEST_ENV"});
  EXPECT_EQ(trim_str(v.out), "cli") << v.err;
  ASSERT_EQ(cove("cove-stop", "env").status, 0);
}

TEST_F(SystemdTest, StopIsACleanPowerOffAndRebootComesBack) {
  ASSERT_NO_FATAL_FAILURE(create_debian_container("pw"));
  append_config("pw", "[container]\nlog.level = info");
  ASSERT_EQ(cove("cove-start", "pw").status, 0);
  ASSERT_TRUE(boots_to_running("pw"));
  pid_t first = init_pid("pw");
  ASSERT_EQ(cove("cove-attach", "pw", {"--", "touch", "/run/before-reboot"}).status, 0);
  ASSERT_EQ(cove("cove-stop", "pw", {"-r"}).status, 0);
  EXPECT_TRUE(eventually([&] { pid_t p = init_pid("pw"); return p > 0 && p != first; }, kBootMs));
  ASSERT_TRUE(boots_to_running("pw"));
  // A fresh boot: a new systemd, a new /run (systemd's tmpfs of the first boot is gone).
  EXPECT_EQ(attach_out("pw", {"cat", "/proc/1/comm"}), "systemd");
  EXPECT_NE(cove("cove-attach", "pw", {"--", "test", "-e", "/run/before-reboot"}).status, 0);

  ASSERT_EQ(cove("cove-stop", "pw").status, 0);
  auto log = read_text(path_ + "/pw/pw.log");
  // The halt signal (SIGRTMIN+3) made systemd power off through reboot(2): no escalation to
  // the stop signal, init ended by the kernel's power-off SIGINT.
  EXPECT_NE(log.find("sending SIGRTMIN+3 to init"), std::string::npos) << log;
  EXPECT_NE(log.find("power-off or halt"), std::string::npos) << log;
  EXPECT_EQ(log.find("sending SIGKILL"), std::string::npos) << log;
  EXPECT_TRUE(leftover_cgroups("pw").empty());
}

TEST_F(SystemdTest, ConsoleShowsALoginThatWorks) {
  ASSERT_NO_FATAL_FAILURE(create_debian_container("con", {"--root-password", "cove-Test-pw1"}));
  ASSERT_EQ(cove("cove-start", "con").status, 0);
  ASSERT_TRUE(boots_to_running("con"));
  Terminal t({builddir() + "/cove-console", "-P", path_, "-n", "con"});
  ASSERT_TRUE(log_in(t, "root", "cove-Test-pw1"));
  EXPECT_TRUE(t.wait_for("/dev/console", 10000)) << t.output();
  t.type("exit\r");
  t.type("\x01q");
  EXPECT_EQ(t.wait_exit(10000), 0) << t.output();
  // A wrong password is refused.
  Terminal bad({builddir() + "/cove-console", "-P", path_, "-n", "con"});
  bad.type("\r");
  ASSERT_TRUE(bad.wait_for("login:", 30000)) << bad.output();
  bad.type("root\r");
  ASSERT_TRUE(bad.wait_for("assword:", 30000)) << bad.output();
  bad.type("wrong\r");
  EXPECT_TRUE(bad.wait_for("incorrect", 30000)) << bad.output();
  bad.type("\x01q");
  EXPECT_EQ(bad.wait_exit(10000), 0) << bad.output();
  ASSERT_EQ(cove("cove-stop", "con").status, 0);
}

}  // namespace
}  // namespace cove::test
