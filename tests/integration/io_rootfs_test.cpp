// `io.max = rootfs ...` (issue 14): the symbolic device is bound at start to the disk under the
// container's rootfs. The test's cove path lives on an ext4 file system in a loop device it
// makes (~300 MB image, mounted in a private directory; unmounted and detached in TearDown even
// when the test fails), so the rootfs' disk is that loop device: the container's cgroup names
// it (v1 blkio.throttle.* or v2 io.max, whichever carries the io controller here), direct reads
// and writes inside run at the limit, and a live change through cove-cgroup binds it too.
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "storage/disk_device.hpp"
#include "support.hpp"

namespace cove::test {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMiB = 1024 * 1024;

class IoRootfsTest : public ContainerTest {
 protected:
  void SetUp() override {
    ContainerTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    base_ = path_;
    std::string image = base_ + "/disk.img";
    auto t = run_cmd({"truncate", "-s", "300M", image});
    ASSERT_EQ(t.status, 0) << t.err;
    auto l = run_cmd({"losetup", "--find", "--show", image});
    ASSERT_EQ(l.status, 0) << l.err;
    loop_ = trim_str(l.out);
    auto m = run_cmd({"mkfs.ext4", "-q", "-F", "-O", "^has_journal", loop_}, 120);
    ASSERT_EQ(m.status, 0) << m.err;
    mnt_ = base_ + "/mnt";
    fs::create_directories(mnt_);
    auto mo = run_cmd({"mount", "-t", "ext4", loop_, mnt_});
    ASSERT_EQ(mo.status, 0) << mo.err;
    mounted_ = true;
    path_ = mnt_ + "/cove";
    ASSERT_EQ(::mkdir(path_.c_str(), 0711), 0);
    struct stat st;
    ASSERT_EQ(::stat(loop_.c_str(), &st), 0);
    loop_dev_ = std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
  }

  void TearDown() override {
    if (!path_.empty() && mounted_) ContainerTest::TearDown();  // containers first, then path_
    if (mounted_) {
      bool unmounted = eventually([&] { return run_cmd({"umount", mnt_}).status == 0; }, 5000, 100);
      if (!unmounted) {
        ADD_FAILURE() << "could not unmount " << mnt_ << "; detaching it lazily";
        run_cmd({"umount", "-l", mnt_});
      }
    }
    if (!loop_.empty()) {
      auto d = run_cmd({"losetup", "-d", loop_});
      EXPECT_EQ(d.status, 0) << d.err;
    }
    if (!base_.empty()) {
      std::error_code ec;
      fs::remove_all(base_, ec);
    }
    path_.clear();
  }

  // The container's io throttle files, as one text: v2 io.max, or v1 blkio.throttle.*.
  std::string throttle_files(const std::string& name) {
    std::string out;
    for (const auto& dir : leftover_cgroups(name)) {
      if (dir.find("cove.payload.") == std::string::npos) continue;
      for (const char* f : {"io.max", "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device"})
        if (fs::exists(dir + "/" + f)) out += dir + "/" + f + ":\n" + read_text(dir + "/" + f);
    }
    return out;
  }

  // Runs dd inside; returns the rate in MiB/s from the time the whole command took.
  double dd_rate(const std::string& name, const std::vector<std::string>& dd, uint64_t bytes) {
    std::vector<std::string> args = {"--", "/bin/dd"};
    args.insert(args.end(), dd.begin(), dd.end());
    int64_t t0 = now_ms();
    auto r = cove("cove-attach", name, args, 120);
    int64_t ms = now_ms() - t0;
    EXPECT_EQ(r.status, 0) << r.err;
    double rate = double(bytes) / double(kMiB) / (double(ms) / 1000.0);
    std::cerr << "dd " << dd[0] << " " << dd[1] << ": " << ms << " ms, " << rate << " MiB/s; dd says: " << trim_str(r.err)
              << "\n";
    return rate;
  }

  std::string base_, mnt_, loop_, loop_dev_;
  bool mounted_ = false;
};

TEST_F(IoRootfsTest, LimitsTheLoopDiskUnderTheRootfs) {
  create_busybox("io", "[cgroup]\nio.max = rootfs rbps=10M wbps=10M\n");
  // The file to read, written beforehand from the host (60 MiB of data, on the loop disk).
  std::string big = path_ + "/io/rootfs/big";
  auto w = run_cmd({"dd", "if=/dev/zero", "of=" + big, "bs=1M", "count=60", "conv=fsync", "status=none"}, 120);
  ASSERT_EQ(w.status, 0) << w.err;
  auto st = cove("cove-start", "io");
  ASSERT_EQ(st.status, 0) << st.err;

  std::string files = throttle_files("io");
  ASSERT_FALSE(files.empty()) << "no io.max or blkio.throttle file in the container's cgroups";
  bool v2 = files.find("/io.max:") != std::string::npos;
  if (v2) {
    EXPECT_NE(files.find(loop_dev_ + " rbps=10485760 wbps=10485760"), std::string::npos) << files;
  } else {
    EXPECT_NE(files.find("blkio.throttle.read_bps_device:\n" + loop_dev_ + " 10485760"), std::string::npos) << files;
    EXPECT_NE(files.find("blkio.throttle.write_bps_device:\n" + loop_dev_ + " 10485760"), std::string::npos) << files;
  }
  std::cerr << "io controller on cgroup " << (v2 ? "v2" : "v1") << "; loop disk " << loop_dev_ << "\n";

  double read = dd_rate("io", {"if=/big", "of=/dev/null", "bs=1M", "iflag=direct"}, 60 * kMiB);
  EXPECT_GT(read, 9.0);
  EXPECT_LT(read, 11.0);
  double write = dd_rate("io", {"if=/dev/zero", "of=/big2", "bs=1M", "count=60", "oflag=direct"}, 60 * kMiB);
  EXPECT_GT(write, 9.0);
  EXPECT_LT(write, 11.0);

  // A live change binds `rootfs` to the same disk.
  auto c = cove("cove-cgroup", "io", {"io.max", "rootfs rbps=20M wbps=20M"});
  ASSERT_EQ(c.status, 0) << c.err;
  files = throttle_files("io");
  EXPECT_TRUE(files.find(loop_dev_ + " rbps=20971520 wbps=20971520") != std::string::npos ||
              files.find("read_bps_device:\n" + loop_dev_ + " 20971520") != std::string::npos)
      << files;
  double faster = dd_rate("io", {"if=/big", "of=/dev/null", "bs=1M", "iflag=direct"}, 60 * kMiB);
  EXPECT_GT(faster, 18.0);
  EXPECT_LT(faster, 22.0);
}

// A rootfs on a file system without a block device: the start fails and says why.
TEST_F(IoRootfsTest, RootfsWithoutABlockDeviceFailsTheStart) {
  std::string tmpfs = base_ + "/tmpfs";
  fs::create_directories(tmpfs);
  ASSERT_EQ(run_cmd({"mount", "-t", "tmpfs", "-o", "size=64M,mode=0700", "tmpfs", tmpfs}).status, 0);
  struct Unmount {
    std::string dir;
    ~Unmount() { run_cmd({"umount", dir}); }
  } unmount{tmpfs};
  create_busybox("notmp", "[container]\nrootfs = " + tmpfs + "/rootfs\n[cgroup]\nio.max = rootfs rbps=10M\n");
  auto st = cove("cove-start", "notmp");
  EXPECT_NE(st.status, 0);
  EXPECT_NE(st.err.find("io.max `rootfs`: find the disk of the rootfs: `" + tmpfs +
                        "/rootfs` is on `tmpfs`, which has no block device for io.max"),
            std::string::npos)
      << st.err;
  run_tool("cove-destroy", {"-P", path_, "-n", "notmp", "-f"}, 30);
}

// storage::disk_of_path where st_dev is anonymous: a btrfs on a loop device (its one device,
// through the btrfs ioctls) and an overlay whose upper directory is on that btrfs.
TEST(DiskOfPath, BtrfsAndOverlayFindTheLoopDevice) {
  COVE_REQUIRE_ROOT();
  if (run_cmd({"sh", "-c", "command -v mkfs.btrfs"}).status != 0) GTEST_SKIP() << "no mkfs.btrfs (btrfs-progs)";
  std::string tmpl = scratch_dir() + "/cove-disk.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  std::string base = tmpl, loop, mnt = base + "/btrfs", ovl = base + "/ovl";
  struct Cleanup {
    std::string base, loop, mnt, ovl;
    ~Cleanup() {
      run_cmd({"umount", ovl});
      run_cmd({"umount", mnt});
      if (!loop.empty()) run_cmd({"losetup", "-d", loop});
      std::error_code ec;
      fs::remove_all(base, ec);
    }
  } cleanup{base, "", mnt, ovl};
  ASSERT_EQ(run_cmd({"truncate", "-s", "200M", base + "/btrfs.img"}).status, 0);
  auto l = run_cmd({"losetup", "--find", "--show", base + "/btrfs.img"});
  ASSERT_EQ(l.status, 0) << l.err;
  loop = cleanup.loop = trim_str(l.out);
  auto m = run_cmd({"mkfs.btrfs", "-q", "-f", loop}, 120);
  ASSERT_EQ(m.status, 0) << m.err;
  for (const auto& d : {mnt, ovl, base + "/lower"}) fs::create_directories(d);
  ASSERT_EQ(run_cmd({"mount", "-t", "btrfs", loop, mnt}).status, 0);
  struct stat st;
  ASSERT_EQ(::stat(loop.c_str(), &st), 0);
  ASSERT_EQ(run_cmd({"btrfs", "subvolume", "create", mnt + "/sub"}).status, 0);
  auto d = storage::disk_of_path(mnt + "/sub");
  ASSERT_TRUE(d.has_value()) << d.error().message();
  EXPECT_EQ(storage::device_number_text(*d), storage::device_number_text(st.st_rdev));

  fs::create_directories(mnt + "/upper");
  fs::create_directories(mnt + "/work");
  auto o = run_cmd({"mount", "-t", "overlay", "overlay", "-o",
                    "lowerdir=" + base + "/lower,upperdir=" + mnt + "/upper,workdir=" + mnt + "/work", ovl});
  ASSERT_EQ(o.status, 0) << o.err;
  auto od = storage::disk_of_path(ovl);
  ASSERT_TRUE(od.has_value()) << od.error().message();
  EXPECT_EQ(storage::device_number_text(*od), storage::device_number_text(st.st_rdev));
}

}  // namespace
}  // namespace cove::test
