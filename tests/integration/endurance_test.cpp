// Endurance: one container started and stopped 100 times, checkpointed 20 times while it runs
// and checkpointed and restored 10 times leaves nothing on the host — no mount, cgroup,
// runtime entry, process, loop device or extra id-range claim — and its monitor gains no fds
// and no memory while it lives. bench/endurance runs the same at 1000 cycles and counts.
#include <dirent.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/fs.hpp"
#include "support.hpp"

namespace cove::test {
namespace {

// Lines of `path` that contain `needle`.
int lines_naming(const std::string& path, const std::string& needle) {
  std::istringstream in(read_text(path));
  int n = 0;
  for (std::string line; std::getline(in, line);)
    if (line.find(needle) != std::string::npos) ++n;
  return n;
}

// Processes whose command line contains `needle` (NULs read as spaces).
int processes_naming(const std::string& needle) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::string pid = e.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos || pid == std::to_string(::getpid())) continue;
    std::string cmd = read_text(e.path().string() + "/cmdline");
    for (auto& c : cmd)
      if (c == '\0') c = ' ';
    if (cmd.find(needle) != std::string::npos) ++n;
  }
  return n;
}

int open_fds(pid_t pid) {
  int n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

// Private memory (USS) in KiB, from smaps_rollup.
long uss_kib(pid_t pid) {
  std::istringstream in(read_text("/proc/" + std::to_string(pid) + "/smaps_rollup"));
  long kib = 0;
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("Private_Clean:") || line.starts_with("Private_Dirty:")) kib += std::stol(line.substr(14));
  return kib;
}

class EnduranceTest : public ContainerTest {
 protected:
  static constexpr const char* kName = "en";

  // Every kind of trace a stopped container could leave, checked.
  void expect_no_traces(const std::string& when) {
    EXPECT_EQ(trim_str(cove("cove-info", kName, {"-s"}).out), "STOPPED") << when;
    EXPECT_TRUE(leftover_cgroups(kName).empty()) << when << ": cgroups left";
    EXPECT_FALSE(path_exists(runtime_dir(kName))) << when << ": " << runtime_dir(kName) << " left";
    EXPECT_EQ(lines_naming("/proc/self/mountinfo", path_ + "/"), 0) << when << ": mounts left";
    // The monitor answers the stop once it has cleaned up, and exits right after.
    EXPECT_TRUE(eventually([&] { return processes_naming("--path " + path_ + " --name " + kName) == 0; }, 3000))
        << when << ": a monitor left";
    EXPECT_EQ(run_cmd({"sh", "-c", "losetup -a | grep -cF '" + path_ + "/'"}).out, "0\n") << when << ": loop devices";
    EXPECT_EQ(claims_, lines_naming(registry(), path_ + "/" + kName + "/")) << when << ": id-range claims";
    EXPECT_EQ(lines_naming("/run/cove/.running-ids", path_ + "/" + kName), 0) << when << ": running-ids entries";
  }
  std::string registry() {
    const char* e = std::getenv("COVE_IDMAP_REGISTRY");
    return e && *e ? e : "/var/lib/cove/.idmap-registry";
  }
  void start() {
    auto r = cove("cove-start", kName);
    ASSERT_EQ(r.status, 0) << r.err;
  }
  void stop(bool kill) {
    auto r = cove("cove-stop", kName, kill ? std::vector<std::string>{"-k"} : std::vector<std::string>{});
    ASSERT_EQ(r.status, 0) << r.err;
  }
  int claims_ = 0;
};

TEST_F(EnduranceTest, HundredStartStopCyclesLeaveNothing) {
  ASSERT_NO_FATAL_FAILURE(create_busybox(kName, "[mount]\nlxcfs = off\n"));
  claims_ = lines_naming(registry(), path_ + "/" + kName + "/");
  ASSERT_EQ(claims_, 1) << "one id-range claim after create";
  for (int i = 1; i <= 100; ++i) {
    ASSERT_NO_FATAL_FAILURE(start());
    ASSERT_NO_FATAL_FAILURE(stop(i % 2 == 0));  // a clean shutdown and a kill, in turn
    if (i % 25 == 0) {
      ASSERT_NO_FATAL_FAILURE(expect_no_traces("after cycle " + std::to_string(i)));
    }
  }
}

// The monitor lives on through checkpoints that leave the container running: after a warm-up,
// 20 more leave its fd count as it was and its private memory within a page or two.
TEST_F(EnduranceTest, CheckpointsLeaveTheMonitorAsItWas) {
  COVE_REQUIRE_CRIU();
  ASSERT_NO_FATAL_FAILURE(create_busybox(kName, "[mount]\nlxcfs = off\n"));
  claims_ = lines_naming(registry(), path_ + "/" + kName + "/");
  ASSERT_NO_FATAL_FAILURE(start());
  pid_t mon = monitor_pid(kName);
  ASSERT_GT(mon, 0);
  auto checkpoint = [&](int i) {
    std::string dir = path_ + "/img";
    auto r = cove("cove-checkpoint", kName, {"-D", dir});
    ASSERT_EQ(r.status, 0) << "checkpoint " << i << ": " << r.err;
    std::filesystem::remove_all(dir);
  };
  for (int i = 0; i < 5; ++i) ASSERT_NO_FATAL_FAILURE(checkpoint(i));
  int fds = open_fds(mon);
  long uss = uss_kib(mon);
  for (int i = 5; i < 25; ++i) ASSERT_NO_FATAL_FAILURE(checkpoint(i));
  EXPECT_EQ(monitor_pid(kName), mon);
  EXPECT_EQ(open_fds(mon), fds) << "the monitor's fds changed over 20 checkpoints";
  EXPECT_LE(uss_kib(mon), uss + 8) << "the monitor's private memory grew over 20 checkpoints (KiB, from " << uss << ")";
  ASSERT_NO_FATAL_FAILURE(stop(true));
  expect_no_traces("after the checkpoints");

  // Checkpointed with --stop and restored: each round a new monitor; nothing piles up.
  ASSERT_NO_FATAL_FAILURE(start());
  for (int i = 0; i < 10; ++i) {
    std::string dir = path_ + "/img";
    auto r = cove("cove-checkpoint", kName, {"-D", dir, "--stop"});
    ASSERT_EQ(r.status, 0) << "checkpoint --stop " << i << ": " << r.err;
    r = cove("cove-restore", kName, {"-D", dir});
    ASSERT_EQ(r.status, 0) << "restore " << i << ": " << r.err;
    std::filesystem::remove_all(dir);
  }
  EXPECT_EQ(processes_naming("--path " + path_ + " --name " + kName), 1) << "one monitor";
  ASSERT_NO_FATAL_FAILURE(stop(false));
  expect_no_traces("after 10 rounds of checkpoint and restore");
}

}  // namespace
}  // namespace cove::test
