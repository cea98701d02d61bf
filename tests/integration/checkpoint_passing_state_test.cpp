// States of a container's processes that a dump must not meet, and that pass by themselves:
// CI met them on a Debian trixie container checkpointed right after boot, one run in ten,
// while systemd >= 255 still spawned its gettys and logind through systemd-executor.
// - A process runs a program another holds with O_PATH (systemd-executor, which PID 1 pins): a
//   stock CRIU 4.2.1 gives the exe link the O_PATH fd's file entry and the restore fails
//   ("sys_prctl(PR_SET_MM, PR_SET_MM_MAP) failed with -9"). cove's CRIU build keeps them apart
//   (scripts/criu-patches/0014); with a stock CRIU a dump waits for the state to pass.
// - A mount being set up (fsopen(): the executor mounting a service's credentials), and a
//   message with credentials queued on a unix socket (systemd's notify socket): no CRIU dumps
//   them; a dump waits for them to pass.
// A state that does not pass within cove's budget (3 s) is a clear error: nothing written, the
// container running on. tests/probe/cove-hold-state.cpp makes the states.
#include <fcntl.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/strings.hpp"
#include "support.hpp"

namespace cove::test {
namespace {

class CheckpointPassingStateTest : public CriuContainerTest {
 protected:
  void SetUp() override {
    CriuContainerTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    create_busybox("ps");
    std::filesystem::copy_file(builddir() + "/cove-hold-state", path_ + "/ps/rootfs/cove-hold-state");
    auto r = cove("cove-start", "ps");
    ASSERT_EQ(r.status, 0) << r.err;
    ASSERT_EQ(attach_out("ps", {"true"}), "");
  }

  std::string images() { return path_ + "/images"; }

  // Starts cove-hold-state KIND for `ms` (0: for good); its "PID CHILD FD" (pids inside) once
  // the state is there.
  // `probe`: the probe's path inside (its name is the holder's comm).
  std::vector<std::string> hold(const std::string& kind, int ms, const std::string& prog = "",
                                const std::string& probe = "/cove-hold-state") {
    auto r = cove("cove-attach", "ps",
                  {"--", "sh", "-c",
                   "'" + probe + "' " + kind + " " + std::to_string(ms) + " /tmp/ready " + prog +
                       " </dev/null >/dev/null 2>&1 &"});
    EXPECT_EQ(r.status, 0) << r.err;
    std::string ids;
    eventually([&] { return !(ids = trim_str(cove("cove-attach", "ps", {"--", "cat", "/tmp/ready"}).out)).empty(); });
    return split_ws(ids);
  }

  // The findings of `cove-checkpoint --check` that hold `text`: named, and not blocking (the
  // dump waits such a state out).
  std::string findings_with(const std::string& text) {
    auto r = cove("cove-checkpoint", "ps", {"--check", "--json"});
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
    std::string out;
    if (j.is_discarded()) return out;
    for (const auto& f : j.value("findings", nlohmann::json::array()))
      if (f.value("what", "").find(text) != std::string::npos) {
        EXPECT_FALSE(f.value("blocking", true)) << f.dump();
        out += f.value("what", "") + "\n";
      }
    return out;
  }

  RunResult checkpoint_stop() { return cove("cove-checkpoint", "ps", {"-D", images(), "--stop"}, 120); }
  RunResult restore() { return cove("cove-restore", "ps", {"-D", images()}, 120); }
  // What process `pid` (inside) runs: its command line.
  std::string cmdline(const std::string& pid) {
    return attach_out("ps", {"sh", "-c", "tr '\\0' ' ' </proc/" + pid + "/cmdline"});
  }
  std::string state() { return trim_str(cove("cove-info", "ps", {"-s"}).out); }

  // The state passes after a second: the dump waits for it, and the image restores with the
  // holder in it.
  void expect_waited_for(const std::string& kind, const std::string& prog = "") {
    auto ids = hold(kind, 1000, prog);
    ASSERT_EQ(ids.size(), 3u);
    auto r = checkpoint_stop();
    ASSERT_EQ(r.status, 0) << r.err;
    r = restore();
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(state(), "RUNNING");
    EXPECT_EQ(cmdline(ids[0]).rfind("/cove-hold-state " + kind, 0), 0u) << cmdline(ids[0]);
  }

  // The state stays: the dump is refused saying why, within the budget, with no image and the
  // container running; --check names it. The holder's name, which the container chose (a
  // terminal escape), reaches the admin's terminal only as printable text.
  void expect_refused(const std::string& kind, const std::string& why, const std::string& prog = "") {
    const std::string probe = "/tmp/\x1b]0;owned\x07";
    ASSERT_EQ(cove("cove-attach", "ps", {"--", "cp", "/cove-hold-state", probe}).status, 0);
    auto ids = hold(kind, 0, prog, probe);
    ASSERT_EQ(ids.size(), 3u);
    EXPECT_NE(findings_with(why), "");
    auto r = checkpoint_stop();
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("(`\\x1b]0;owned\\x07`)"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << "a raw escape reached the terminal";
    EXPECT_FALSE(std::filesystem::exists(images() + "/cove-image.json"));
    EXPECT_EQ(state(), "RUNNING");
    EXPECT_EQ(cmdline(ids[0]).rfind(probe + " " + kind, 0), 0u);
  }
};

// The parent keeps its O_PATH fd: cove's CRIU dumps and restores both processes as they were;
// a stock CRIU's dump is refused, named.
TEST_F(CheckpointPassingStateTest, AProgramItsParentHoldsWithOPathComesBack) {
  const std::string sleeper = "/bin/busybox sleep 100000";
  if (stock_criu_) {
    // The program's path, which the container chose, reaches the admin's terminal printable.
    ASSERT_EQ(cove("cove-attach", "ps", {"--", "cp", "/bin/busybox", "/tmp/\x1b]2;pwn\x07"}).status, 0);
    return expect_refused("opath", "open with O_PATH", "'/tmp/\x1b]2;pwn\x07' sleep 100000");
  }
  auto ids = hold("opath", 0, sleeper);
  ASSERT_EQ(ids.size(), 3u);
  const std::string parent = ids[0], child = ids[1], fd = ids[2];
  EXPECT_EQ(findings_with("O_PATH"), "");
  auto r = checkpoint_stop();
  ASSERT_EQ(r.status, 0) << r.err;
  r = restore();
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(state(), "RUNNING");
  // Both back with the same pids: the child runs busybox as sleep, the parent still holds the
  // program with O_PATH.
  EXPECT_EQ(attach_out("ps", {"readlink", "/proc/" + child + "/exe"}), "/bin/busybox");
  EXPECT_EQ(cmdline(child), "sleep 100000");
  EXPECT_EQ(attach_out("ps", {"readlink", "/proc/" + parent + "/fd/" + fd}), "/bin/busybox");
  std::string info = attach_out("ps", {"cat", "/proc/" + parent + "/fdinfo/" + fd});
  auto pos = info.find("flags:");
  ASSERT_NE(pos, std::string::npos) << info;
  EXPECT_TRUE(std::strtoul(info.c_str() + pos + 6, nullptr, 8) & O_PATH) << info;
}

TEST_F(CheckpointPassingStateTest, AnOPathHoldThatPassesIsWaitedFor) {
  expect_waited_for("opath", "/bin/busybox sleep 100000");
}

TEST_F(CheckpointPassingStateTest, AMountBeingSetUpIsWaitedFor) { expect_waited_for("fscontext"); }
TEST_F(CheckpointPassingStateTest, AMountThatStaysBeingSetUpIsAClearError) {
  expect_refused("fscontext", "a mount being set up");
}

TEST_F(CheckpointPassingStateTest, QueuedCredentialsAreWaitedFor) { expect_waited_for("creds"); }
TEST_F(CheckpointPassingStateTest, QueuedCredentialsThatStayAreAClearError) {
  expect_refused("creds", "carries the sender's credentials");
}

}  // namespace
}  // namespace cove::test
