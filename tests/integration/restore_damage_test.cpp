// A restore from damaged images, or one CRIU never finishes, ends in bounded time with a clear
// error, the container STOPPED, nothing of the attempt left (monitor, CRIU, restored tasks,
// cgroups, runtime dir, mounts) and the image directory exactly as it was (names, contents,
// owners, modes); the container starts again afterwards. Every cove-restore here runs under a
// test-side timeout, so a restore that hangs fails the test instead of hanging it, and TearDown
// ends whatever such a run left behind.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "criu/features.hpp"
#include "paths.hpp"
#include "support.hpp"

namespace cove::test {
namespace {

// What must not change in an image directory: per file its size, content hash, owner, mode.
using DirSnapshot = std::map<std::string, std::string>;

DirSnapshot snapshot(const std::string& dir) {
  DirSnapshot out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    struct stat st;
    std::string p = e.path().string();
    if (::lstat(p.c_str(), &st) < 0) continue;
    std::string content = S_ISREG(st.st_mode) ? read_text(p) : "";
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : content) h = (h ^ c) * 1099511628211ull;
    std::ostringstream s;
    s << std::oct << st.st_mode << std::dec << " " << st.st_uid << ":" << st.st_gid << " " << st.st_size << " "
      << std::hex << h;
    out[e.path().filename().string()] = s.str();
  }
  // The directory itself: owner and mode.
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0)
    out["."] = std::to_string(st.st_mode) + " " + std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid);
  return out;
}

std::string cmdline(pid_t pid) {
  std::string s = read_text("/proc/" + std::to_string(pid) + "/cmdline");
  for (auto& c : s)
    if (c == '\0') c = ' ';
  return s;
}

std::vector<pid_t> all_pids() {
  std::vector<pid_t> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    auto n = e.path().filename().string();
    if (!n.empty() && n.find_first_not_of("0123456789") == std::string::npos) out.push_back(std::stoi(n));
  }
  return out;
}

class RestoreDamageTest : public ContainerTest {
 protected:
  void SetUp() override {
    ContainerTest::SetUp();
    if (IsSkipped()) return;
    COVE_REQUIRE_CRIU();
    criu_mount_roots_before_ = criu_mount_roots();
  }
  // CRIU's /tmp/.criu.mntns.* staging directories (other runs on the host may add theirs
  // meanwhile: only the ones left by this test's restore are reported, by name).
  static std::set<std::string> criu_mount_roots() {
    std::set<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator("/tmp"))
      if (e.path().filename().string().rfind(".criu.mntns.", 0) == 0) out.insert(e.path().string());
    return out;
  }
  std::set<std::string> criu_mount_roots_before_;
  void TearDown() override {
    // Only a restore that never ended (old code) leaves a container RESTORING for ever.
    for (const auto& n : names_)
      if (state(n) == "RESTORING") kill_leftovers(n);
    ContainerTest::TearDown();
  }

  std::string images(const std::string& tag) { return path_ + "/images-" + tag; }
  std::string state(const std::string& name) { return trim_str(cove("cove-info", name, {"-s"}).out); }

  // Processes of a restore attempt: monitors of this test's cove path (by their command line),
  // anything in the container's cgroups (CRIU runs in the monitor's, restored tasks end up in
  // the payload's), and tasks whose root is the container's rootfs (restored or being
  // restored, also through the staged idmapped rootfs under the runtime dir).
  std::vector<pid_t> leftovers(const std::string& name) {
    std::vector<pid_t> out;
    std::string rootfs = path_ + "/" + name + "/rootfs", staged = runtime_dir(name) + "/rootfs";
    std::string key = ContainerPaths(path_, name).key();
    for (pid_t p : all_pids()) {
      if (p == ::getpid()) continue;
      std::string proc = "/proc/" + std::to_string(p);
      std::error_code ec;
      std::string root = std::filesystem::read_symlink(proc + "/root", ec).string();
      std::string cmd = cmdline(p), cgroups = read_text(proc + "/cgroup");
      bool ours = (cmd.find("cove-monitor") != std::string::npos && cmd.find(path_) != std::string::npos) ||
                  cgroups.find("/cove.payload." + key + "\n") != std::string::npos ||
                  cgroups.find("/cove.payload." + key + "/") != std::string::npos;
      if (ours || (!ec && (root.rfind(rootfs, 0) == 0 || root.rfind(staged, 0) == 0))) out.push_back(p);
    }
    return out;
  }
  std::string describe(const std::vector<pid_t>& pids) {
    std::string out;
    for (pid_t p : pids) out += std::to_string(p) + " `" + cmdline(p) + "`; ";
    return out;
  }
  // Whatever a hung restore left (old code): the monitor, CRIU and the restored tasks, and the
  // staged rootfs mount; then the test's own TearDown can stop and destroy as usual.
  void kill_leftovers(const std::string& name) {
    bool killed = false;
    for (int round = 0; round < 20; ++round) {
      auto pids = leftovers(name);
      if (pids.empty()) break;
      for (pid_t p : pids) ::kill(p, SIGKILL);
      killed = true;
      ::usleep(200000);
    }
    ::umount2((runtime_dir(name) + "/rootfs").c_str(), MNT_DETACH);
    // The killed CRIU's staging directory (rmdir: only while empty).
    if (killed)
      for (const auto& d : criu_mount_roots())
        if (!criu_mount_roots_before_.count(d)) ::rmdir(d.c_str());
  }

  // A stopped container with a checkpoint in images(tag).
  void checkpointed(const std::string& name, const std::string& tag) {
    create_busybox(name);
    auto r = cove("cove-start", name);
    ASSERT_EQ(r.status, 0) << r.err;
    // Init has started its console shell (a task still in exec cannot be seized for the dump).
    r = cove("cove-attach", name, {"--", "true"});
    ASSERT_EQ(r.status, 0) << r.err;
    r = cove("cove-checkpoint", name, {"-D", images(tag), "--stop"}, 120);
    ASSERT_EQ(r.status, 0) << r.err;
    ASSERT_EQ(state(name), "STOPPED");
  }
  // The largest pages-N.img (the one of init or of a shell: both have pages).
  std::string largest_pages(const std::string& dir) {
    std::string best;
    uintmax_t best_size = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      auto n = e.path().filename().string();
      if (n.rfind("pages-", 0) == 0 && e.file_size() > best_size) {
        best = e.path().string();
        best_size = e.file_size();
      }
    }
    return best;
  }

  // Nothing of the attempt is left, and the images are as they were.
  void expect_nothing_left(const std::string& name, const std::string& dir, const DirSnapshot& before) {
    EXPECT_EQ(state(name), "STOPPED");
    EXPECT_TRUE(leftover_cgroups(name).empty());
    EXPECT_FALSE(std::filesystem::exists(runtime_dir(name)));
    // The monitor reports after its cleanup and then exits: a moment for its exit.
    auto left = leftovers(name);
    for (int i = 0; i < 100 && !left.empty(); ++i) {
      ::usleep(20000);
      left = leftovers(name);
    }
    EXPECT_TRUE(left.empty()) << describe(left);
    EXPECT_EQ(criu_mount_roots(), criu_mount_roots_before_) << "CRIU's staging directory in /tmp was left";
    EXPECT_EQ(read_text("/proc/self/mountinfo").find(".criu.cgyard."), std::string::npos);
    EXPECT_EQ(read_text("/proc/self/mountinfo").find(runtime_dir(name)), std::string::npos);
    EXPECT_EQ(snapshot(dir), before) << "the image directory changed";
  }
  // The container still starts (and stops) as usual.
  void expect_starts(const std::string& name) {
    auto r = cove("cove-start", name);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(state(name), "RUNNING");
    r = cove("cove-stop", name, {"-k"});
    EXPECT_EQ(r.status, 0) << r.err;
  }
};

// A truncated pages image: found before CRIU runs (CRIU 4.2's restorer would spin for ever on
// the short read), with an error naming the file and what it lacks.
TEST_F(RestoreDamageTest, TruncatedPagesImageIsRefusedBeforeCriuRuns) {
  checkpointed("rd-trunc", "1");
  std::string pages = largest_pages(images("1"));
  ASSERT_FALSE(pages.empty());
  auto size = std::filesystem::file_size(pages);
  ASSERT_GE(size, 8192u);
  std::filesystem::resize_file(pages, (size / 2) & ~uintmax_t(4095));
  auto before = snapshot(images("1"));
  int64_t t0 = now_ms();
  auto r = cove("cove-restore", "rd-trunc", {"-D", images("1")}, 60);
  EXPECT_LT(now_ms() - t0, 20000) << "the restore took too long";
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.err.find("killed after timeout"), std::string::npos) << "the restore hung";
  EXPECT_NE(r.err.find("damaged image"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(std::filesystem::path(pages).filename().string() + "` has"), std::string::npos) << r.err;
  // CRIU did not run: it left no log.
  EXPECT_FALSE(std::filesystem::exists(path_ + "/rd-trunc/restore.log"));
  expect_nothing_left("rd-trunc", images("1"), before);
  expect_starts("rd-trunc");
}

// A corrupt image CRIU itself refuses at once: the same outcome, and the error points to CRIU's
// log, which is outside the image directory.
TEST_F(RestoreDamageTest, CorruptImageCriuRefusesLeavesNothing) {
  checkpointed("rd-core", "1");
  // Garbage in place of init's core entry (after the two magics and the entry's length).
  std::string core = images("1") + "/core-1.img";
  ASSERT_TRUE(std::filesystem::exists(core));
  {
    std::fstream f(core, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(12);
    std::string junk(64, '\xff');
    f.write(junk.data(), std::streamsize(junk.size()));
  }
  auto before = snapshot(images("1"));
  int64_t t0 = now_ms();
  auto r = cove("cove-restore", "rd-core", {"-D", images("1")}, 60);
  EXPECT_LT(now_ms() - t0, 30000) << "the restore took too long";
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.err.find("killed after timeout"), std::string::npos) << "the restore hung";
  EXPECT_NE(r.err.find("criu RESTORE"), std::string::npos) << r.err;
  std::string log = path_ + "/rd-core/restore.log";
  EXPECT_NE(r.err.find("`" + log + "`"), std::string::npos) << r.err;
  EXPECT_TRUE(std::filesystem::exists(log));
  EXPECT_FALSE(std::filesystem::exists(images("1") + "/restore.log"));
  expect_nothing_left("rd-core", images("1"), before);
  expect_starts("rd-core");
}

// A CRIU that never answers (held at a FIFO before it runs): the restore ends at --timeout,
// CRIU is killed, the container is STOPPED.
TEST_F(RestoreDamageTest, HungCriuIsEndedAtTheTimeout) {
  checkpointed("rd-hang", "1");
  std::string fifo = path_ + "/criu-gate", script = path_ + "/criu-hung";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::ofstream(script) << "#!/bin/sh\nread _ < '" << fifo << "'\n";
  ::chmod(script.c_str(), 0755);
  auto before = snapshot(images("1"));
  int64_t t0 = now_ms();
  auto r = run_cmd({"env", "COVE_CRIU=" + script, builddir() + "/cove-restore", "-P", path_, "-n", "rd-hang", "-D",
                    images("1"), "--timeout", "3"},
                   60);
  int64_t took = now_ms() - t0;
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.err.find("killed after timeout"), std::string::npos) << "the restore hung";
  EXPECT_GE(took, 3000);
  EXPECT_LT(took, 20000);
  EXPECT_NE(r.err.find("did not finish within 3 s"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--timeout"), std::string::npos) << r.err;
  // The wrapper (the `criu` cove ran) is gone: nobody waits at the gate any more.
  int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  EXPECT_LT(fd, 0) << "something still reads the gate";
  if (fd >= 0) ::close(fd);
  expect_nothing_left("rd-hang", images("1"), before);
  expect_starts("rd-hang");
}

// CRIU runs and its restored tasks spin: the pages image is cut short behind cove's check (by
// the `criu` wrapper, just before the real CRIU starts), as a disk that loses data under a
// running restore would. At the timeout CRIU and every restored task are ended.
TEST_F(RestoreDamageTest, SpinningRestoreIsEndedAtTheTimeout) {
  checkpointed("rd-spin", "1");
  auto info = criu::probe();
  ASSERT_TRUE(info.has_value()) << info.error().message();
  std::string pages = largest_pages(images("1"));
  ASSERT_FALSE(pages.empty());
  auto size = std::filesystem::file_size(pages);
  std::string script = path_ + "/criu-truncating";
  std::ofstream(script) << "#!/bin/sh\ntruncate -s " << ((size / 2) & ~uintmax_t(4095)) << " '" << pages
                        << "'\nexec '" << info->path << "' \"$@\"\n";
  ::chmod(script.c_str(), 0755);
  int64_t t0 = now_ms();
  auto r = run_cmd({"env", "COVE_CRIU=" + script, builddir() + "/cove-restore", "-P", path_, "-n", "rd-spin", "-D",
                    images("1"), "--timeout", "5"},
                   60);
  int64_t took = now_ms() - t0;
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.err.find("killed after timeout"), std::string::npos) << "the restore hung";
  EXPECT_LT(took, 30000);
  EXPECT_NE(r.err.find("did not finish within 5 s"), std::string::npos) << r.err;
  // The wrapper changed the images; only the rest is checked here.
  expect_nothing_left("rd-spin", images("1"), snapshot(images("1")));
  expect_starts("rd-spin");
}

}  // namespace
}  // namespace cove::test
