// A dump that meets a process inside vfork(): the parent sleeps in the kernel until its child
// execs, and CRIU cannot seize it. Before cove froze around the window, such a dump failed after
// CRIU's 10 s timeout ("Unseizable non-zombie ... state D"); CI met it right after boot, when
// busybox init vforks the console and tty1 shells. tests/probe/cove-vfork-hold.cpp holds the
// window open for as long as a test needs.
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "support.hpp"

namespace cove::test {
namespace {

class CheckpointVforkTest : public ContainerTest {
 protected:
  void SetUp() override {
    ContainerTest::SetUp();
    if (IsSkipped()) return;
    COVE_REQUIRE_CRIU();
    create_busybox("vf");
    std::filesystem::copy_file(builddir() + "/cove-vfork-hold", path_ + "/vf/rootfs/cove-vfork-hold");
    auto r = cove("cove-start", "vf");
    ASSERT_EQ(r.status, 0) << r.err;
    ASSERT_EQ(attach_out("vf", {"true"}), "");
  }

  // Starts a process that stays inside vfork() for `ms`, and returns once its child is there.
  // `name` (a hostile one: a terminal escape) is what the processes call themselves.
  void hold_vfork(int ms, const std::string& name = "") {
    auto r = cove("cove-attach", "vf",
                  {"--", "sh", "-c",
                   "/cove-vfork-hold " + std::to_string(ms) + " /tmp/vfork-ready \"$0\" </dev/null >/dev/null 2>&1 &",
                   name.empty() ? "cove-vfork-hold" : name});
    ASSERT_EQ(r.status, 0) << r.err;
    for (int i = 0; i < 200; ++i)
      if (cove("cove-attach", "vf", {"--", "test", "-e", "/tmp/vfork-ready"}).status == 0) return;
    FAIL() << "cove-vfork-hold did not start";
  }

  RunResult checkpoint(const std::string& dir) { return cove("cove-checkpoint", "vf", {"-D", dir}, 120); }
  std::string state() { return trim_str(cove("cove-info", "vf", {"-s"}).out); }
};

// The vfork ends (the child exits) while cove waits: the dump goes through, and the container
// runs on.
TEST_F(CheckpointVforkTest, VforkThatEndsDoesNotFailTheDump) {
  hold_vfork(1500);
  auto r = checkpoint(path_ + "/images-short");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(path_ + "/images-short/cove-image.json"));
  EXPECT_EQ(state(), "RUNNING");
  EXPECT_EQ(attach_out("vf", {"true"}), "");
}

// A vfork that does not end is a clear error within cove's budget (3 s), well before CRIU's
// timeout, and leaves the container running, thawed, with no image. The processes' names, which
// the container chose, reach the admin's terminal only as printable text.
TEST_F(CheckpointVforkTest, VforkThatDoesNotEndIsAClearError) {
  hold_vfork(60000, "\x1b]2;pwn\x07");
  auto t0 = std::chrono::steady_clock::now();
  auto r = checkpoint(path_ + "/images-long");
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("inside vfork()"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(`\\x1b]2;pwn\\x07`)"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << "a raw escape reached the terminal";
  EXPECT_LT(took, std::chrono::seconds(9)) << r.err;
  EXPECT_FALSE(std::filesystem::exists(path_ + "/images-long/cove-image.json"));
  EXPECT_EQ(state(), "RUNNING");
  EXPECT_EQ(attach_out("vf", {"true"}), "");
}

}  // namespace
}  // namespace cove::test
