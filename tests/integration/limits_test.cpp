// Resource limits on real containers, each measured by its effect (issue 3): memory (OOM kill
// inside only, reported by cove-info), pids (a fork bomb is capped, stop still works), cpu
// (quota and weights), io (a throttled loop device), devices (mknod/open), freezer, and a live
// change of a limit. The same tests run on the host (v1/hybrid) and in the pure v2 guest
// (tests/vm/cgroup-v2-check). Each prints what it measured as "[measure] ..." lines.
// Containers are privileged where a test needs mknod; loop devices are detached in TearDown.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "support.hpp"

namespace cove::test {
namespace {

// Privileged, and with CAP_MKNOD (the shipped defaults drop it): the device tests create nodes.
const char kPrivileged[] =
    "[container]\nprivileged = true\n[security]\ncapabilities.drop =\ncapabilities.drop = sys_module sys_rawio\n";

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

bool is_v2_host() { return std::filesystem::exists("/sys/fs/cgroup/cgroup.controllers"); }
const char* hierarchy() { return is_v2_host() ? "v2" : "v1/hybrid"; }

void measure(const std::string& what) {
  std::cout << "[measure] (" << hierarchy() << ") " << what << std::endl;
  ::testing::Test::RecordProperty("measure", what);
}

class LimitsTest : public ContainerTest {
 protected:
  void TearDown() override {
    ContainerTest::TearDown();
    for (const auto& dev : loops_) run_cmd({"losetup", "-d", dev});
    for (const auto& f : files_) std::filesystem::remove(f);
  }

  void start(const std::string& name, const std::string& config) {
    create_busybox(name, config);
    ASSERT_FALSE(HasFatalFailure());
    auto r = cove("cove-start", name);
    ASSERT_EQ(r.status, 0) << r.err;
  }

  nlohmann::json info(const std::string& name) {
    auto r = cove("cove-info", name, {"--json"});
    EXPECT_EQ(r.status, 0) << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_discarded() ? nlohmann::json::object() : j;
  }
  // The payload's pids.events "max" count (forks refused at pids.max), from the pids line of
  // init's /proc/PID/cgroup: v1 `N:pids:/path`, else the v2 `0::/path`.
  uint64_t pids_refused(const std::string& name) {
    std::istringstream in(read_text("/proc/" + std::to_string(init_pid(name)) + "/cgroup"));
    std::string line, file;
    while (std::getline(in, line)) {
      auto a = line.find(':'), b = line.find(':', a + 1);
      std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
      if (controllers == "pids") file = "/sys/fs/cgroup/pids" + path + "/pids.events";
      if (controllers.empty() && file.empty()) file = "/sys/fs/cgroup" + path + "/pids.events";
    }
    std::istringstream events(read_text(file));
    std::string key;
    uint64_t n = 0;
    while (events >> key >> n)
      if (key == "max") return n;
    return 0;
  }
  uint64_t info_u64(const std::string& name, const char* field) {
    auto j = info(name);
    return j.contains(field) && j[field].is_number() ? j[field].get<uint64_t>() : 0;
  }

  // Starts CMD in the background inside the container (output discarded); returns at once.
  void spawn(const std::string& name, const std::string& cmd) {
    auto r = cove("cove-attach", name, {"--", "sh", "-c", "(" + cmd + ") </dev/null >/dev/null 2>&1 & exit 0"});
    ASSERT_EQ(r.status, 0) << r.err;
  }

  // CPU seconds the container used over `ms` of wall time.
  double cpu_share(const std::string& name, int ms) {
    uint64_t a = info_u64(name, "cpu_usage_ns");
    int64_t t0 = now_ms();
    sleep_ms(ms);
    uint64_t b = info_u64(name, "cpu_usage_ns");
    int64_t t1 = now_ms();
    return double(b - a) / 1e6 / double(t1 - t0);
  }

  std::vector<std::string> loops_, files_;
};

TEST_F(LimitsTest, MemoryHogIsOomKilledInsideOnly) {
  ASSERT_NO_FATAL_FAILURE(start("mem", "[cgroup]\nmemory.max = 32M\nmemory.swap.max = 0\n"));
  pid_t init = init_pid("mem"), monitor = monitor_pid("mem");
  // dd's 64 MiB buffer is more than the container may have.
  auto r = cove("cove-attach", "mem", {"--", "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"});
  EXPECT_EQ(r.status, 128 + SIGKILL) << r.err;
  EXPECT_EQ(trim_str(cove("cove-info", "mem", {"-s"}).out), "RUNNING");
  EXPECT_EQ(init_pid("mem"), init);
  EXPECT_EQ(monitor_pid("mem"), monitor);
  EXPECT_EQ(::kill(init, 0), 0);
  EXPECT_EQ(attach_out("mem", {"echo", "alive"}), "alive");
  auto j = info("mem");
  ASSERT_TRUE(j["oom_kills"].is_number()) << j.dump();
  EXPECT_GE(j["oom_kills"].get<uint64_t>(), 1u);
  EXPECT_LE(j["memory_peak_bytes"].get<uint64_t>(), 32u << 20);
  measure("memory.max=32M: 64M hog status " + std::to_string(r.status) + ", oom_kills " +
          j["oom_kills"].dump() + ", peak " + std::to_string(j["memory_peak_bytes"].get<uint64_t>() >> 10) +
          " KiB; init and monitor alive");
  // The text output names the events too.
  EXPECT_NE(cove("cove-info", "mem").out.find("OOM kills:"), std::string::npos);
}

TEST_F(LimitsTest, ForkBombIsCapped) {
  ASSERT_NO_FATAL_FAILURE(start("bomb", "[cgroup]\npids.max = 24\n"));
  // The classic bomb, each instance then staying alive for 30 s: without the sleep it can
  // collapse under the cap (a failed fork ends its branch) before it is measured.
  spawn("bomb", "f() { f | f & sleep 30; }; f");
  // Sampled until the cap has refused forks (and a little longer): the population swings, as
  // refused forks end branches, so the peak is whatever a sample catches; never over the cap.
  uint64_t most = 0;
  bool capped = eventually(
      [&] {
        most = std::max(most, info_u64("bomb", "pids_current"));
        return pids_refused("bomb") > 0;
      },
      15000, 50);
  for (int i = 0; i < 10; ++i) most = std::max(most, info_u64("bomb", "pids_current"));
  EXPECT_LE(most, 24u);
  EXPECT_TRUE(capped) << "the bomb never reached pids.max (peak " << most << ")";
  // The host still forks.
  EXPECT_EQ(run_cmd({"/bin/true"}).status, 0);
  int64_t t0 = now_ms();
  auto r = cove("cove-stop", "bomb", {"-t", "1"}, 60);
  EXPECT_EQ(r.status, 0) << r.err;
  measure("pids.max=24: fork bomb peaked at " + std::to_string(most) + " pids; stop took " +
          std::to_string(now_ms() - t0) + " ms");
  EXPECT_TRUE(leftover_cgroups("bomb").empty());
}

TEST_F(LimitsTest, CpuQuota) {
  ASSERT_NO_FATAL_FAILURE(start("quota", "[cgroup]\ncpu.max = 20000 100000\n"));
  spawn("quota", "while :; do :; done");
  uint64_t idle = info_u64("quota", "cpu_usage_ns");
  ASSERT_TRUE(eventually([&] { return info_u64("quota", "cpu_usage_ns") > idle + 10'000'000; })) << "the loop never ran";
  double share = cpu_share("quota", 2000);
  measure("cpu.max=20000 100000: busy loop used " + std::to_string(share * 100) + "% of a core over 2 s");
  EXPECT_LE(share, 0.25);
  EXPECT_GE(share, 0.10);
}

TEST_F(LimitsTest, CpuWeightsSplitAContendedCore) {
  ASSERT_NO_FATAL_FAILURE(start("light", "[cgroup]\ncpuset.cpus = 0\ncpu.weight = 100\n"));
  ASSERT_NO_FATAL_FAILURE(start("heavy", "[cgroup]\ncpuset.cpus = 0\ncpu.weight = 300\n"));
  spawn("light", "while :; do :; done");
  spawn("heavy", "while :; do :; done");
  uint64_t idle_a = info_u64("light", "cpu_usage_ns"), idle_b = info_u64("heavy", "cpu_usage_ns");
  ASSERT_TRUE(eventually([&] {
    return info_u64("light", "cpu_usage_ns") > idle_a + 10'000'000 && info_u64("heavy", "cpu_usage_ns") > idle_b + 10'000'000;
  })) << "the loops never ran";
  uint64_t a0 = info_u64("light", "cpu_usage_ns"), b0 = info_u64("heavy", "cpu_usage_ns");
  sleep_ms(3000);
  uint64_t a1 = info_u64("light", "cpu_usage_ns"), b1 = info_u64("heavy", "cpu_usage_ns");
  double ratio = double(b1 - b0) / double(std::max<uint64_t>(a1 - a0, 1));
  measure("cpu.weight 300:100 on one cpu: ratio " + std::to_string(ratio) + " (light " +
          std::to_string((a1 - a0) / 1000000) + " ms, heavy " + std::to_string((b1 - b0) / 1000000) + " ms)");
  // 3:1 within 30%: ignored weights give 1:1. The TCG guest's timing is coarse, and the
  // tool calls that read the usage run beside the loops (2.4 was measured once in CI with
  // the host busy).
  EXPECT_NEAR(ratio, 3.0, 3.0 * 0.3);
}

TEST_F(LimitsTest, IoReadsAreThrottled) {
  // A 16 MiB file on a loop device, read with O_DIRECT at 1 MiB/s.
  std::string img = path_ + "/disk.img";
  { std::ofstream(img).close(); }
  std::filesystem::resize_file(img, 16 << 20);
  auto l = run_cmd({"losetup", "-f", "--show", img});
  ASSERT_EQ(l.status, 0) << l.err;
  std::string dev = trim_str(l.out);
  loops_.push_back(dev);
  struct stat st;
  ASSERT_EQ(::stat(dev.c_str(), &st), 0);
  std::string numbers = std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
  start("io", std::string(kPrivileged) + "[cgroup]\nio.max = " + dev + " rbps=1M\ndevices.allow = b " + numbers +
                  " rwm\n");
  std::string mk = "mknod /tmp/disk b " + std::to_string(major(st.st_rdev)) + " " + std::to_string(minor(st.st_rdev));
  ASSERT_EQ(cove("cove-attach", "io", {"--", "sh", "-c", mk}).status, 0);
  uint64_t before = info_u64("io", "io_read_bytes");
  int64_t t0 = now_ms();
  // /proc/uptime before and after: the read's own duration, without the attach around it.
  auto r = cove("cove-attach", "io",
                {"--", "sh", "-c",
                 "a=$(cut -d' ' -f1 /proc/uptime); dd if=/tmp/disk of=/dev/null bs=64k count=48 iflag=direct "
                 "2>/dev/null || exit 1; b=$(cut -d' ' -f1 /proc/uptime); echo $a $b"});
  int64_t ms = now_ms() - t0;
  ASSERT_EQ(r.status, 0) << r.err;
  // The rate by the wall time of the whole attach (a lower bound: it includes the attach), and
  // by the read's own duration inside.
  double mib_s = 3.0 / (double(ms) / 1000.0);
  double t_a = 0, t_b = 0;
  std::istringstream(r.out) >> t_a >> t_b;
  double dd_s = t_b - t_a;
  double dd_mib_s = dd_s > 0 ? 3.0 / dd_s : 0;
  uint64_t read = info_u64("io", "io_read_bytes") - before;
  measure("io.max rbps=1M: 3 MiB O_DIRECT read: " + std::to_string(dd_mib_s) + " MiB/s by the read's own time (" +
          std::to_string(dd_s) + " s), " + std::to_string(mib_s) + " MiB/s by the attach's wall time (" +
          std::to_string(ms) + " ms); io_read_bytes +" + std::to_string(read) + ", io_read_ops " +
          std::to_string(info_u64("io", "io_read_ops")));
  EXPECT_LE(mib_s, 1.1);
  EXPECT_LE(dd_mib_s, 1.1) << r.out;
  EXPECT_GE(dd_mib_s, 0.5) << r.out;  // throttled, not broken
  EXPECT_GE(read, 3u << 20);
}

TEST_F(LimitsTest, DevicesOnlyTheAllowedOnes) {
  // 1:11 (kmsg) may be created but not opened; 1:1 (mem) may not even be created.
  ASSERT_NO_FATAL_FAILURE(start("dev", std::string(kPrivileged) + "[cgroup]\ndevices.allow = c 1:11 m\n"));
  auto sh = [&](const std::string& cmd) { return cove("cove-attach", "dev", {"--", "sh", "-c", cmd}); };
  EXPECT_NE(sh("mknod /tmp/mem c 1 1").status, 0);
  EXPECT_EQ(sh("mknod /tmp/kmsg c 1 11").status, 0);
  auto open_kmsg = sh("head -c1 /tmp/kmsg");
  EXPECT_NE(open_kmsg.status, 0);
  EXPECT_NE(open_kmsg.err.find("Operation not permitted"), std::string::npos) << open_kmsg.err;
  auto allowed = sh("mknod /tmp/null2 c 1 3 && echo x > /tmp/null2 && head -c 3 /dev/zero | wc -c");
  EXPECT_EQ(allowed.out, "3\n") << allowed.err;
  auto standard = sh("head -c 4 /dev/urandom | wc -c; echo y > /dev/tty1 && echo tty-ok");
  EXPECT_EQ(standard.out, "4\ntty-ok\n") << standard.err;
  measure("devices: mknod c 1:1 refused, open c 1:11 refused (EPERM), null/zero/urandom/tty1 work");
}

TEST_F(LimitsTest, FreezerStopsAndResumesACounter) {
  ASSERT_NO_FATAL_FAILURE(start("ice", ""));
  // Written to a temp file and renamed: a reader never sees a half-written counter.
  spawn("ice", "i=0; while :; do i=$((i+1)); echo $i > /tmp/c.new; mv /tmp/c.new /tmp/count; usleep 20000; done");
  std::string counter = path_ + "/ice/rootfs/tmp/count";
  auto count = [&] { return std::atol(trim_str(read_text(counter)).c_str()); };
  ASSERT_TRUE(eventually([&] { return count() > 0; })) << read_text(counter);
  auto r = cove("cove-freeze", "ice");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(trim_str(cove("cove-info", "ice", {"-s"}).out), "FROZEN");
  long frozen_at = count();
  sleep_ms(1000);
  long still = count();
  EXPECT_EQ(still, frozen_at);
  r = cove("cove-unfreeze", "ice");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(trim_str(cove("cove-info", "ice", {"-s"}).out), "RUNNING");
  EXPECT_TRUE(eventually([&] { return count() > still; }));
  long after = count();
  measure("freezer: counter " + std::to_string(frozen_at) + " -> " + std::to_string(still) + " over 1 s frozen, -> " +
          std::to_string(after) + " once thawed");
  // A frozen container still stops.
  ASSERT_EQ(cove("cove-freeze", "ice").status, 0);
  EXPECT_EQ(cove("cove-stop", "ice", {"-t", "1"}).status, 0);
  EXPECT_TRUE(leftover_cgroups("ice").empty());
}

TEST_F(LimitsTest, LoweringMemoryMaxLiveTakesEffect) {
  ASSERT_NO_FATAL_FAILURE(start("live", "[cgroup]\nmemory.max = 256M\nmemory.swap.max = 0\n"));
  auto hog = [&] { return cove("cove-attach", "live", {"--", "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"}); };
  EXPECT_EQ(hog().status, 0);
  EXPECT_EQ(trim_str(cove("cove-cgroup", "live", {"memory.max"}).out), std::to_string(256u << 20));
  auto r = cove("cove-cgroup", "live", {"memory.max", "32M", "--persist"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(trim_str(cove("cove-cgroup", "live", {"memory.max"}).out), std::to_string(32u << 20));
  auto h = hog();
  EXPECT_EQ(h.status, 128 + SIGKILL);
  measure("live memory.max 256M -> 32M: 64M hog status 0 before, " + std::to_string(h.status) + " after");
  EXPECT_NE(read_text(path_ + "/live/config").find("memory.max = 32M"), std::string::npos);
  // A bad value is refused with the key's syntax, and nothing changes.
  auto bad = cove("cove-cgroup", "live", {"memory.max", "lots"});
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("memory.max"), std::string::npos) << bad.err;
  EXPECT_EQ(trim_str(cove("cove-cgroup", "live", {"memory.max"}).out), std::to_string(32u << 20));
}

TEST_F(LimitsTest, ALimitTheKernelRefusesFailsTheStartCleanly) {
  create_busybox("refused", "[cgroup]\ncpuset.cpus = 4000\n");
  auto r = cove("cove-start", "refused");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("cpuset.cpus"), std::string::npos) << r.err;
  measure("cpuset.cpus = 4000 refused at start: " + trim_str(r.err));
  EXPECT_TRUE(leftover_cgroups("refused").empty());
  EXPECT_FALSE(std::filesystem::exists(runtime_dir("refused")));
}

TEST_F(LimitsTest, UnprivilegedContainerWithLimits) {
  ASSERT_NO_FATAL_FAILURE(start("unpriv", "[cgroup]\nmemory.max = 64M\npids.max = 50\ncpus = 0.5\n"));
  EXPECT_EQ(attach_out("unpriv", {"echo", "ok"}), "ok");
  auto pids = cove("cove-cgroup", "unpriv", {"pids.max"});
  EXPECT_EQ(trim_str(pids.out), "50") << pids.err;
  auto cpu = cove("cove-cgroup", "unpriv", {"cpu.max"});
  EXPECT_EQ(trim_str(cpu.out), "50000 100000") << cpu.err;
}

}  // namespace
}  // namespace cove::test
