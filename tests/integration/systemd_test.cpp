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

namespace cove::test {
namespace {

// Under TCG (the v2 guest) a boot takes seconds, on the host well under one.
constexpr int kBootMs = 120000;

class SystemdTest : public ContainerTest {
 protected:
  // The state systemd reports ("running", "degraded", "starting", ...), "" when attach fails.
  std::string system_state(const std::string& name) {
    auto r = cove("cove-attach", name, {"--", "systemctl", "is-system-running"});
    return trim_str(r.out);
  }

  // Waits until systemd has finished booting; true when it says `running`.
  bool boots_to_running(const std::string& name) {
    std::string s;
    eventually(
        [&] {
          s = system_state(name);
          return s == "running" || s == "degraded" || s == "maintenance";
        },
        kBootMs, 100);
    if (s != "running") {
      auto failed = cove("cove-attach", name, {"--", "systemctl", "--failed", "--no-pager"});
      ADD_FAILURE() << "systemd state `" << s << "`; failed units:\n" << failed.out << failed.err;
    }
    return s == "running";
  }

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

// A terminal for cove-console: a host pty whose output is collected, with waits for prompts.
class Terminal {
 public:
  explicit Terminal(const std::vector<std::string>& argv) {
    master_ = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master_ < 0 || ::grantpt(master_) < 0 || ::unlockpt(master_) < 0) return;
    std::string slave = ::ptsname(master_);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setsid();
      int s = ::open(slave.c_str(), O_RDWR);
      if (s < 0) ::_exit(126);
      for (int i = 0; i < 3; ++i) ::dup2(s, i);
      std::vector<char*> a;
      for (auto& x : argv) a.push_back(const_cast<char*>(x.c_str()));
      a.push_back(nullptr);
      ::execv(a[0], a.data());
      ::_exit(127);
    }
  }
  ~Terminal() {
    if (pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) ::close(master_);
  }
  // Reads until `text` appears after the read position; true when it did.
  bool wait_for(const std::string& text, int timeout_ms) {
    int64_t deadline = now_ms() + timeout_ms;
    while (now_ms() < deadline) {
      auto at = out_.find(text, seen_);
      if (at != std::string::npos) {
        seen_ = at + text.size();
        return true;
      }
      struct pollfd p = {master_, POLLIN, 0};
      if (::poll(&p, 1, 100) > 0) {
        char buf[4096];
        ssize_t n = ::read(master_, buf, sizeof buf);
        if (n <= 0) return false;
        out_.append(buf, size_t(n));
      }
    }
    return false;
  }
  void type(const std::string& s) { (void)!::write(master_, s.data(), s.size()); }
  // The exit status once it ended within `timeout_ms`, else -1.
  int wait_exit(int timeout_ms) {
    int st = 0;
    int64_t deadline = now_ms() + timeout_ms;
    while (now_ms() < deadline) {
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      wait_for("\x01never", 50);
    }
    return -1;
  }
  const std::string& output() const { return out_; }

 private:
  int master_ = -1;
  pid_t pid_ = -1;
  std::string out_;
  size_t seen_ = 0;
};

TEST_F(SystemdTest, ConsoleShowsALoginThatWorks) {
  ASSERT_NO_FATAL_FAILURE(create_debian_container("con", {"--root-password", "cove-Test-pw1"}));
  ASSERT_EQ(cove("cove-start", "con").status, 0);
  ASSERT_TRUE(boots_to_running("con"));
  Terminal t({builddir() + "/cove-console", "-P", path_, "-n", "con"});
  t.type("\r");
  ASSERT_TRUE(t.wait_for("login:", 30000)) << t.output();
  t.type("root\r");
  ASSERT_TRUE(t.wait_for("assword:", 30000)) << t.output();
  t.type("cove-Test-pw1\r");
  ASSERT_TRUE(t.wait_for("#", 30000)) << t.output();
  t.type("echo logged-$((6*7))-in; tty\r");
  EXPECT_TRUE(t.wait_for("logged-42-in", 30000)) << t.output();
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
