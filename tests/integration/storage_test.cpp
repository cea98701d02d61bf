// Storage backends (issue 14), end to end through the tools on real loop devices, overlayfs and
// a btrfs on a loop file: the quota `df` shows inside and ENOSPC at it (the host untouched),
// growth, snapshots and their restore on every backend, copies and snapshot clones with a new
// identity, ephemeral clones, checkpoint/restore on each backend, a killed copy that leaves
// nothing, and no loop device or mount of the test's left after any case (TearDown checks).
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "rootfs_support.hpp"

namespace cove::test {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t kMiB = 1024 * 1024;

bool has_cap_sys_resource() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("CapEff:", 0) == 0) return (std::stoull(line.substr(7), nullptr, 16) >> 24) & 1;  // CAP_SYS_RESOURCE
  return false;
}

class StorageTest : public RootfsTest {
 protected:
  void TearDown() override {
    std::string base = path_;
    ContainerTest::TearDown();
    if (btrfs_mounted_) {
      if (run_cmd({"umount", btrfs_mnt_}).status != 0) {
        ADD_FAILURE() << "could not unmount " << btrfs_mnt_;
        run_cmd({"umount", "-l", btrfs_mnt_});
      }
    }
    if (!btrfs_image_.empty()) ::unlink(btrfs_image_.c_str());
    if (!btrfs_mnt_.empty()) ::rmdir(btrfs_mnt_.c_str());
    if (!base.empty()) expect_nothing_left(base);
  }

  // The test's cove path moves onto a btrfs made on a sparse file (unmounted in TearDown).
  void use_btrfs() {
    btrfs_image_ = path_ + ".btrfs.img";
    btrfs_mnt_ = path_ + ".btrfs";
    ASSERT_EQ(run_cmd({"truncate", "-s", "1G", btrfs_image_}).status, 0);
    auto m = run_cmd({"mkfs.btrfs", "-q", "-f", btrfs_image_}, 60);
    ASSERT_EQ(m.status, 0) << m.err;
    fs::create_directories(btrfs_mnt_);
    auto mo = run_cmd({"mount", "-o", "loop", btrfs_image_, btrfs_mnt_});
    ASSERT_EQ(mo.status, 0) << mo.err;
    btrfs_mounted_ = true;
    fs::remove_all(path_);
    path_ = btrfs_mnt_ + "/cove";
    ASSERT_EQ(::mkdir(path_.c_str(), 0711), 0);
  }

  void copy(const std::string& from, const std::string& to, std::vector<std::string> extra = {}) {
    names_.push_back(to);
    std::vector<std::string> args = {"-N", to};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = cove("cove-copy", from, args, 300);
    ASSERT_EQ(r.status, 0) << r.err;
  }
  std::string storage_conf(const std::string& backend, const std::string& size = "") {
    std::string s = "[rootfs]\nbackend = " + backend + "\n";
    if (!size.empty()) s += "size = " + size + "\n";
    return s + "[mount]\nlxcfs = off\n";
  }
  // df's size and available bytes of `/` inside.
  std::pair<uint64_t, uint64_t> df_root(const std::string& name) {
    auto r = sh(name, "df -k / | tail -1");
    EXPECT_EQ(r.status, 0) << r.err;
    std::istringstream in(r.out);
    std::string dev;
    uint64_t size = 0, used = 0, avail = 0;
    in >> dev >> size >> used >> avail;
    return {size * 1024, avail * 1024};
  }
  // A file, a directory and a file to delete, then a snapshot; changes; restore; check.
  void snapshot_round_trip(const std::string& name) {
    ASSERT_EQ(sh(name, "echo one > /keep && mkdir -p /d && echo x > /d/gone").status, 0);
    stop(name);
    auto c = cove("cove-snapshot", name, {"create", "before"}, 120);
    ASSERT_EQ(c.status, 0) << c.err;
    start(name);
    ASSERT_EQ(sh(name, "echo two > /keep && rm -r /d && echo new > /added").status, 0);
    stop(name);
    auto l = cove("cove-snapshot", name, {"list"});
    EXPECT_NE(l.out.find("before"), std::string::npos) << l.out;
    auto r = cove("cove-snapshot", name, {"restore", "before"}, 120);
    ASSERT_EQ(r.status, 0) << r.err;
    start(name);
    EXPECT_EQ(trim_str(sh(name, "cat /keep /d/gone; test -e /added && echo added").out), "one\nx");
    stop(name);
    auto d = cove("cove-snapshot", name, {"destroy", "before"}, 120);
    EXPECT_EQ(d.status, 0) << d.err;
    EXPECT_EQ(cove("cove-snapshot", name, {"list"}).out.find("before"), std::string::npos);
  }
  void checkpoint_round_trip(const std::string& name) {
    ASSERT_EQ(sh(name, "echo kept > /state; sleep 1000 </dev/null >/dev/null 2>&1 &").status, 0);
    std::string images = path_ + "/ck-" + name;
    auto ck = cove("cove-checkpoint", name, {"-D", images, "--stop"}, 120);
    ASSERT_EQ(ck.status, 0) << ck.err << ck.out;
    auto rs = cove("cove-restore", name, {"-D", images}, 120);
    ASSERT_EQ(rs.status, 0) << rs.err << rs.out;
    EXPECT_EQ(trim_str(sh(name, "cat /state; pidof sleep >/dev/null && echo sleeping").out), "kept\nsleeping");
    stop(name);
  }

  std::string btrfs_image_, btrfs_mnt_;
  bool btrfs_mounted_ = false;
};

TEST_F(StorageTest, LoopQuotaIsWhatDfShowsAndEnospcStaysInside) {
  COVE_REQUIRE_ROOT();
  create_busybox("q", storage_conf("loop", "64M"));
  std::string image = path_ + "/q/rootfs.img";
  struct stat st;
  ASSERT_EQ(::stat(image.c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), 64 * kMiB);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, 32 * kMiB) << "the image should be sparse";
  start("q");
  auto [size, avail] = df_root("q");
  EXPECT_LE(size, 64 * kMiB);
  EXPECT_GE(size, 50 * kMiB) << "df inside should show about the 64M quota (ext4 keeps some for itself)";
  struct statvfs host_before;
  ASSERT_EQ(::statvfs(path_.c_str(), &host_before), 0);
  auto full = sh("q", "dd if=/dev/zero of=/fill bs=1M count=200 2>&1; echo status=$?");
  EXPECT_NE(full.out.find("No space left on device"), std::string::npos) << full.out;
  EXPECT_NE(full.out.find("status=1"), std::string::npos) << full.out;
  ASSERT_EQ(::stat(image.c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), 64 * kMiB) << "the image grew past the quota";
  EXPECT_LE(static_cast<uint64_t>(st.st_blocks) * 512, 64 * kMiB);
  // The container still works at a full disk, and the host side is untouched.
  EXPECT_EQ(trim_str(sh("q", "rm /fill && sync && echo ok").out), "ok");
  // Freed blocks are holes in the image again (mounted with discard): the host keeps what the
  // container stores now, not the most it ever stored.
  EXPECT_TRUE(eventually([&] { return ::stat(image.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_blocks) * 512 < 16 * kMiB; }, 10000, 100))
      << "the image still takes " << st.st_blocks * 512 / kMiB << " MiB after the fill was removed";
  auto [size2, avail2] = df_root("q");
  EXPECT_GE(avail2 + 2 * kMiB, avail);
  (void)size2;
}

TEST_F(StorageTest, LoopGrowsOfflineAndOnlineOnlyWithCapSysResource) {
  COVE_REQUIRE_ROOT();
  create_busybox("g", storage_conf("loop", "64M"));
  start("g");
  auto before = df_root("g").first;
  auto online = cove("cove-storage", "g", {"resize", "96M"});
  if (has_cap_sys_resource()) {
    ASSERT_EQ(online.status, 0) << online.err;
    EXPECT_GT(df_root("g").first, before + 20 * kMiB);
  } else {
    EXPECT_EQ(online.status, 1);
    EXPECT_NE(online.err.find("CAP_SYS_RESOURCE"), std::string::npos) << online.err;
    EXPECT_EQ(df_root("g").first, before) << "a refused online resize changed the filesystem";
    EXPECT_EQ(read_text(path_ + "/g/config").find("size = 100663296"), std::string::npos);
  }
  stop("g");
  auto offline = cove("cove-storage", "g", {"resize", "128M"}, 120);
  ASSERT_EQ(offline.status, 0) << offline.err;
  EXPECT_NE(read_text(path_ + "/g/config").find("size = 134217728"), std::string::npos);
  auto shrink = cove("cove-storage", "g", {"resize", "32M"});
  EXPECT_EQ(shrink.status, 1);
  EXPECT_NE(shrink.err.find("shrinking is not supported"), std::string::npos) << shrink.err;
  start("g");
  EXPECT_GT(df_root("g").first, before + 50 * kMiB);
  auto info = cove("cove-storage", "g", {"info", "--json"});
  EXPECT_NE(info.out.find("\"backend\": \"loop\""), std::string::npos) << info.out;
}

TEST_F(StorageTest, OverlayCloneSharesTheSourceAndNeverChangesIt) {
  COVE_REQUIRE_ROOT();
  create_busybox("src", "[mount]\nlxcfs = off\n");
  std::string lower = path_ + "/src/rootfs";
  std::ofstream(lower + "/etc/hostname") << "src\n";
  ASSERT_EQ(::chmod((lower + "/bin/busybox").c_str(), 04755), 0);
  std::string passwd = read_text(lower + "/etc/passwd");
  int64_t t0 = now_ms();
  copy("src", "clone", {"-s"});
  int64_t took = now_ms() - t0;
  EXPECT_LT(took, 5000);
  std::string cfg = read_text(path_ + "/clone/config");
  EXPECT_NE(cfg.find("backend = overlay"), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("lower = " + lower), std::string::npos) << cfg;
  // Each has its own host id range.
  EXPECT_NE(cfg.substr(cfg.find("uid = 0 ")), read_text(path_ + "/src/config").substr(read_text(path_ + "/src/config").find("uid = 0 ")));
  start("clone");
  EXPECT_EQ(trim_str(sh("clone", "hostname; cat /etc/hostname").out), "clone\nclone");
  ASSERT_EQ(sh("clone", "echo mine > /new && rm /bin/ls && chown 5:6 /new && echo x >> /etc/passwd").status, 0);
  EXPECT_EQ(trim_str(sh("clone", "ls -ln /new | awk '{print $3\":\"$4}'; test -e /bin/ls || echo gone").out), "5:6\ngone");
  // Set-user-ID files keep their bit in the clone (the overlay is host root's, not nosuid).
  EXPECT_EQ(trim_str(sh("clone", "ls -l /bin/busybox | cut -c1-10").out), "-rwsr-xr-x");
  auto mounts = sh("clone", "grep ' / / ' /proc/self/mountinfo");
  EXPECT_EQ(mounts.out.find("nosuid"), std::string::npos) << mounts.out;
  stop("clone");
  // The source is exactly as it was.
  EXPECT_FALSE(fs::exists(lower + "/new"));
  EXPECT_TRUE(fs::exists(lower + "/bin/ls"));
  EXPECT_EQ(read_text(lower + "/etc/hostname"), "src\n");
  EXPECT_EQ(read_text(lower + "/etc/passwd"), passwd);
  // The clone's own changes are in its upper layer, owned by its own host ids.
  struct stat st;
  ASSERT_EQ(::stat((path_ + "/clone/overlay/upper/new").c_str(), &st), 0);
  std::string idline = cfg.substr(cfg.find("uid = 0 ") + 8);
  uint32_t host_base = static_cast<uint32_t>(std::stoul(idline));
  EXPECT_EQ(st.st_uid, host_base + 5);
  EXPECT_EQ(st.st_gid, host_base + 6);
  // The source starts and runs independently.
  start("src");
  EXPECT_EQ(trim_str(sh("src", "test -e /new || echo clean").out), "clean");
}

TEST_F(StorageTest, QuotadOverlayCloneKeepsItsUpperLayerOnAnImage) {
  COVE_REQUIRE_ROOT();
  create_busybox("qs", "[mount]\nlxcfs = off\n");
  copy("qs", "qc", {"-s", "--size", "48M"});
  EXPECT_TRUE(fs::exists(path_ + "/qc/overlay.img"));
  EXPECT_FALSE(fs::exists(path_ + "/qc/overlay"));
  start("qc");
  auto [size, avail] = df_root("qc");
  EXPECT_LE(size, 48 * kMiB);
  EXPECT_GE(size, 36 * kMiB) << "df inside a quota'd overlay clone shows its upper layer's image";
  auto full = sh("qc", "dd if=/dev/zero of=/fill bs=1M count=100 2>&1; echo status=$?");
  EXPECT_NE(full.out.find("No space left on device"), std::string::npos) << full.out;
  EXPECT_EQ(trim_str(sh("qc", "rm /fill; echo hi > /x; ls -ln /x | awk '{print $3}'").out), "0");
  stop("qc");
  EXPECT_FALSE(fs::exists(path_ + "/qs/rootfs/x"));
  // Its snapshots and copies carry the image.
  start("qc");
  snapshot_round_trip("qc");
  copy("qc", "qc2");
  EXPECT_TRUE(fs::exists(path_ + "/qc2/overlay.img"));
  start("qc2");
  EXPECT_EQ(trim_str(sh("qc2", "cat /x; ls -ln /x | awk '{print $3}'").out), "hi\n0");
  (void)avail;
}

TEST_F(StorageTest, FullCopyHasItsOwnFilesIdsMacAndName) {
  COVE_REQUIRE_ROOT();
  create_busybox("a", "[mount]\nlxcfs = off\n[network.eth0]\nlink = cvtestnone0\nhwaddr = 02:11:22:33:44:55\n");
  std::ofstream(path_ + "/a/rootfs/etc/hostname") << "a\n";
  std::ofstream(path_ + "/a/rootfs/etc/hosts") << "127.0.1.1 a\n";
  copy("a", "b");
  std::string cfg = read_text(path_ + "/b/config");
  EXPECT_EQ(cfg.find("02:11:22:33:44:55"), std::string::npos) << "the copy kept the source's MAC";
  EXPECT_NE(cfg.find("[network.eth0]"), std::string::npos);
  EXPECT_EQ(read_text(path_ + "/b/rootfs/etc/hostname"), "b\n");
  EXPECT_EQ(read_text(path_ + "/b/rootfs/etc/hosts"), "127.0.1.1 b\n");
  EXPECT_EQ(read_text(path_ + "/a/rootfs/etc/hostname"), "a\n");
  std::ofstream(path_ + "/b/rootfs/only-b") << "b";
  EXPECT_FALSE(fs::exists(path_ + "/a/rootfs/only-b"));
  auto again = cove("cove-copy", "a", {"-N", "b"});
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
  // A full copy into another backend.
  copy("a", "c", {"-B", "loop", "--size", "64M"});
  EXPECT_TRUE(fs::exists(path_ + "/c/rootfs.img"));
  auto bad = cove("cove-copy", "a", {"-N", "d", "-B", "zfs"});
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("not a storage backend"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(path_ + "/d"));
}

TEST_F(StorageTest, EphemeralCloneRunsAndIsGoneWhenItStops) {
  COVE_REQUIRE_ROOT();
  create_busybox("base", "[mount]\nlxcfs = off\n");
  names_.push_back("eph");
  auto r = cove("cove-copy", "base", {"-N", "eph", "-e"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(trim_str(sh("eph", "echo hi > /x; cat /x").out), "hi");
  auto s = cove("cove-stop", "eph");
  EXPECT_EQ(s.status, 0) << s.err;
  EXPECT_TRUE(eventually([&] { return !fs::exists(path_ + "/eph"); }, 10000));
  EXPECT_EQ(cove("cove-ls", "").out.find("eph"), std::string::npos);
  EXPECT_FALSE(fs::exists(path_ + "/base/rootfs/x"));
}

TEST_F(StorageTest, SnapshotsRestoreOnDirLoopAndOverlay) {
  COVE_REQUIRE_ROOT();
  create_busybox("sd", storage_conf("dir"));
  create_busybox("sl", storage_conf("loop", "64M"));
  copy("sd", "so", {"-s"});
  for (const char* n : {"sd", "sl", "so"}) {
    SCOPED_TRACE(n);
    start(n);
    snapshot_round_trip(n);
  }
  auto running = cove("cove-start", "sd");
  ASSERT_EQ(running.status, 0);
  auto busy = cove("cove-snapshot", "sd", {"create"});
  EXPECT_EQ(busy.status, 1);
  EXPECT_NE(busy.err.find("stop it first"), std::string::npos) << busy.err;
}

TEST_F(StorageTest, BtrfsSubvolumesQgroupsSnapshotsAndClones) {
  COVE_REQUIRE_ROOT();
  use_btrfs();
  if (HasFatalFailure()) return;
  create_busybox("b", storage_conf("btrfs", "64M"));
  auto sub = run_cmd({"btrfs", "subvolume", "show", path_ + "/b/rootfs"});
  EXPECT_EQ(sub.status, 0) << sub.err;
  start("b");
  auto full = sh("b", "dd if=/dev/zero of=/fill bs=1M count=200 2>&1; sync; echo status=$?");
  EXPECT_TRUE(full.out.find("Disk quota exceeded") != std::string::npos ||
              full.out.find("No space left") != std::string::npos)
      << full.out;
  ASSERT_EQ(sh("b", "rm -f /fill; sync").status, 0);
  // Grown online: a qgroup limit.
  auto grow = cove("cove-storage", "b", {"resize", "256M"});
  ASSERT_EQ(grow.status, 0) << grow.err;
  EXPECT_EQ(sh("b", "dd if=/dev/zero of=/fill bs=1M count=100 2>&1 >/dev/null && echo wrote").out.find("wrote") !=
                std::string::npos,
            true);
  ASSERT_EQ(sh("b", "rm -f /fill").status, 0);
  snapshot_round_trip("b");
  copy("b", "bc", {"-s"});
  auto subs = run_cmd({"btrfs", "subvolume", "list", path_});
  EXPECT_NE(subs.out.find("bc/rootfs"), std::string::npos) << subs.out;
  start("bc");
  EXPECT_EQ(trim_str(sh("bc", "cat /keep").out), "one");
  stop("bc");
  // A subvolume nested inside (its root may make one) does not keep it from being destroyed.
  ASSERT_EQ(run_cmd({"btrfs", "subvolume", "create", path_ + "/bc/rootfs/nested"}).status, 0);
  auto d = cove("cove-destroy", "bc");
  EXPECT_EQ(d.status, 0) << d.err;
  EXPECT_FALSE(fs::exists(path_ + "/bc"));
  subs = run_cmd({"btrfs", "subvolume", "list", path_});
  EXPECT_EQ(subs.out.find("bc/rootfs"), std::string::npos) << subs.out;
}

TEST_F(StorageTest, CheckpointRestoreOnLoopOverlayAndBtrfs) {
  COVE_REQUIRE_ROOT();
  COVE_REQUIRE_CRIU();
  use_btrfs();
  if (HasFatalFailure()) return;
  create_busybox("cl", storage_conf("loop", "64M"));
  create_busybox("cd", storage_conf("dir"));
  copy("cd", "co", {"-s"});
  create_busybox("cb", storage_conf("btrfs"));
  for (const char* n : {"cl", "co", "cb"}) {
    SCOPED_TRACE(n);
    start(n);
    checkpoint_round_trip(n);
  }
}

TEST_F(StorageTest, IoMaxRootfsNamesTheLoopDevice) {
  COVE_REQUIRE_ROOT();
  create_busybox("io", storage_conf("loop", "64M") + "[cgroup]\nio.max = rootfs rbps=10M\n");
  start("io");
  auto dev = trim_str(run_cmd({"sh", "-c", "losetup -j " + path_ + "/io/rootfs.img | cut -d: -f1"}).out);
  ASSERT_FALSE(dev.empty());
  struct stat st;
  ASSERT_EQ(::stat(dev.c_str(), &st), 0);
  std::string majmin = std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
  auto files = run_cmd({"sh", "-c", "cat /sys/fs/cgroup/blkio/*/*/blkio.throttle.read_bps_device "
                                    "/sys/fs/cgroup/blkio/*/blkio.throttle.read_bps_device "
                                    "/sys/fs/cgroup/*/io.max /sys/fs/cgroup/*/*/io.max 2>/dev/null"});
  EXPECT_NE(files.out.find(majmin + " 10485760"), std::string::npos) << majmin << " in:\n" << files.out;
}

TEST_F(StorageTest, KilledCopyLeavesNoContainerAndSourceIntact) {
  COVE_REQUIRE_ROOT();
  create_busybox("big", "[mount]\nlxcfs = off\n");
  auto f = run_cmd({"dd", "if=/dev/urandom", "of=" + path_ + "/big/rootfs/blob", "bs=1M", "count=300"}, 120);
  ASSERT_EQ(f.status, 0) << f.err;
  names_.push_back("half");
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string tool = builddir() + "/cove-copy";
    ::execl(tool.c_str(), tool.c_str(), "-P", path_.c_str(), "-n", "big", "-N", "half", nullptr);
    ::_exit(127);
  }
  ASSERT_GT(pid, 0);
  bool copying = eventually([&] { return fs::exists(path_ + "/half/rootfs/bin"); }, 20000, 5);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(copying) << "the copy finished or never started before it could be killed";
  auto ls = cove("cove-ls", "");
  EXPECT_EQ(ls.out.find("half"), std::string::npos) << ls.out;
  EXPECT_FALSE(fs::exists(path_ + "/half")) << "the killed copy's directory is still there after cove-ls";
  EXPECT_TRUE(fs::exists(path_ + "/big/rootfs/blob"));
  // The name is free again.
  copy("big", "half");
}

TEST_F(StorageTest, CopyRefusesWhenTheDiskIsTooSmall) {
  COVE_REQUIRE_ROOT();
  create_busybox("s", "[mount]\nlxcfs = off\n");
  auto f = run_cmd({"dd", "if=/dev/zero", "of=" + path_ + "/s/rootfs/blob", "bs=1M", "count=40"}, 60);
  ASSERT_EQ(f.status, 0);
  std::string small = path_ + "/small";
  fs::create_directories(small);
  ASSERT_EQ(run_cmd({"mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", small}).status, 0);
  auto r = cove("cove-copy", "s", {"-N", "t", "-p", small + "/p"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("MiB free"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(small + "/p/t"));
  run_cmd({"umount", small});
}

TEST_F(StorageTest, BadStorageConfigIsRefusedWithFileAndLine) {
  COVE_REQUIRE_ROOT();
  std::string conf = path_ + "/bad.conf";
  for (auto [text, want] : std::vector<std::pair<std::string, std::string>>{
           {"[rootfs]\nbackend = zfs\n", "bad.conf:2"},
           {"[rootfs]\nbackend = loop\n", "needs [rootfs] size"},
           {"[rootfs]\nbackend = overlay\n", "needs at least one [rootfs] lower"},
           {"[rootfs]\nsize = 1G\n", "not `dir`"},
           {"[rootfs]\nbackend = loop\nsize = 1K\n", "smallest size"}}) {
    std::ofstream(conf) << text;
    names_.push_back("bad");
    auto r = cove("cove-create", "bad", {"-t", "busybox", "-f", conf});
    EXPECT_EQ(r.status, 1) << text;
    EXPECT_NE(r.err.find(want), std::string::npos) << text << "\n" << r.err;
    EXPECT_FALSE(fs::exists(path_ + "/bad")) << text;
  }
}

}  // namespace
}  // namespace cove::test
