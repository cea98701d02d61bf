// storage/disk_device: a partition widened to its disk on a fake sysfs tree, the errors for
// file systems without a block device; `io.max = rootfs` in [cgroup] (parsed symbolic, errors
// with FILE:LINE) and its binding to a disk (cgroup::bind_rootfs_disk, lifecycle::bind_rootfs_io).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>

#include "base/fs.hpp"
#include "cgroup/resources.hpp"
#include "config/load.hpp"
#include "lifecycle/rootfs_disk.hpp"
#include "storage/disk_device.hpp"
#include "support.hpp"

namespace cove::storage {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

// A sysfs with a disk 8:0 (sda) holding partition 8:1 (sda1), and a disk 7:0 (loop0), linked
// from dev/block/MAJ:MIN as the kernel does (relative links into devices/).
void fake_sysfs(const std::string& root) {
  std::string sda = root + "/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda";
  fs::create_directories(sda + "/sda1");
  fs::create_directories(root + "/devices/virtual/block/loop0");
  fs::create_directories(root + "/dev/block");
  ASSERT_TRUE(write_file(sda + "/dev", "8:0\n").has_value());
  ASSERT_TRUE(write_file(sda + "/sda1/dev", "8:1\n").has_value());
  ASSERT_TRUE(write_file(sda + "/sda1/partition", "1\n").has_value());
  ASSERT_TRUE(write_file(root + "/devices/virtual/block/loop0/dev", "7:0\n").has_value());
  fs::create_symlink("../../devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda",
                     root + "/dev/block/8:0");
  fs::create_symlink("../../devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda1",
                     root + "/dev/block/8:1");
  fs::create_symlink("../../devices/virtual/block/loop0", root + "/dev/block/7:0");
}

TEST(DiskDevice, PartitionBecomesItsDisk) {
  TempDir sys;
  fake_sysfs(sys.path());
  auto d = whole_disk(makedev(8, 1), sys.path());
  ASSERT_OK(d);
  EXPECT_EQ(device_number_text(*d), "8:0");
  auto disk = whole_disk(makedev(8, 0), sys.path());
  ASSERT_OK(disk);
  EXPECT_EQ(*disk, makedev(8, 0));
  auto loop = whole_disk(makedev(7, 0), sys.path());
  ASSERT_OK(loop);
  EXPECT_EQ(*loop, makedev(7, 0));
  EXPECT_ERROR_CONTAINS(whole_disk(makedev(9, 9), sys.path()), "device 9:9 is not a block device");
}

TEST(DiskDevice, BrokenParentIsAnError) {
  TempDir sys;
  fake_sysfs(sys.path());
  std::string sda = sys.path() + "/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda";
  ASSERT_TRUE(write_file(sda + "/dev", "garbage\n").has_value());
  EXPECT_ERROR_CONTAINS(whole_disk(makedev(8, 1), sys.path()), "the disk of partition 8:1");
}

TEST(DiskDevice, FileSystemsWithoutABlockDevice) {
  EXPECT_ERROR_CONTAINS(disk_of_path("/proc/self"), "`/proc/self` is on `proc`, which has no block device for io.max");
  if (::access("/dev/shm", F_OK) == 0)
    EXPECT_ERROR_CONTAINS(disk_of_path("/dev/shm"), "`/dev/shm` is on `tmpfs`, which has no block device for io.max");
  EXPECT_ERROR_CONTAINS(disk_of_path("/nonexistent/x"), "open `/nonexistent/x`");
}

// Whatever holds the build directory: when it is a block device, its disk is one sysfs knows
// as a whole disk (no `partition` file).
TEST(DiskDevice, TheBuildDirectorysDisk) {
  auto d = disk_of_path(".");
  if (!d) GTEST_SKIP() << "the build directory has no block device: " << d.error().message();
  std::string node = "/sys/dev/block/" + device_number_text(*d);
  EXPECT_TRUE(path_exists(node)) << node;
  EXPECT_FALSE(path_exists(node + "/partition")) << node;
}

// --- io.max = rootfs ------------------------------------------------------------------------------

const config::LoadOptions kOpts{"web", "/var/lib/cove/web/rootfs", false};

Result<cgroup::ResourceLimits> limits_of(const std::string& cgroup_section) {
  auto c = config::load_config_string("[cgroup]\n" + cgroup_section, "t.conf", kOpts);
  if (!c) return std::move(c).error();
  return c->cgroup.limits;
}

TEST(IoMaxRootfs, ParsedSymbolic) {
  auto l = limits_of("io.max = rootfs rbps=10M wbps=10M\nio.max = 8:0 riops=100\nio.max = rootfs wiops=5\n");
  ASSERT_OK(l);
  ASSERT_EQ(l->io_max.size(), 2u);  // the third line replaced the first
  EXPECT_TRUE(l->io_max[0].rootfs);
  EXPECT_EQ(cgroup::format_io_max(l->io_max[0]), "rootfs rbps=max wbps=max riops=max wiops=5");
  EXPECT_FALSE(l->io_max[1].rootfs);
  EXPECT_TRUE(cgroup::names_rootfs_disk(*l));
  auto again = limits_of("io.max = rootfs rbps=10M wbps=10M\n");
  ASSERT_OK(again);
  EXPECT_EQ(cgroup::format_io_max(again->io_max[0]), "rootfs rbps=10485760 wbps=10485760 riops=max wiops=max");
}

TEST(IoMaxRootfs, BadFormsNameFileLineKeyAndWhatIsAllowed) {
  auto l = limits_of("io.max = rootfs\nio.max = rootfs speed=1\nio.max = rootfs2 rbps=1\nio.max = ROOTFS rbps=1\n"
                     "io.max = rootfs rbps=0\n");
  ASSERT_FALSE(l.has_value());
  const std::string& m = l.error().message();
  for (const char* want :
       {"t.conf:2: [cgroup] io.max: `rootfs` is not `MAJ:MIN KEY=VALUE...`",
        "(allowed: `MAJ:MIN|DEVICE-PATH|rootfs [rbps=N]", "t.conf:3: [cgroup] io.max: `speed=1` is not rbps=",
        "t.conf:4: [cgroup] io.max: `rootfs2` is not a device `MAJ:MIN`, a device path or `rootfs`",
        "t.conf:5: [cgroup] io.max: `ROOTFS` is not a device", "t.conf:6: [cgroup] io.max: rbps must be at least 1"})
    EXPECT_NE(m.find(want), std::string::npos) << "missing: " << want << "\nin:\n" << m;
}

TEST(IoMaxRootfs, BindingMergesWithAnEntryForTheSameDisk) {
  auto l = limits_of("io.max = 7:3 rbps=1M\nio.max = rootfs wbps=2M\nio.max = 8:0 riops=9\n");
  ASSERT_OK(l);
  auto b = cgroup::bind_rootfs_disk(*l, 7, 3);
  EXPECT_FALSE(cgroup::names_rootfs_disk(b));
  ASSERT_EQ(b.io_max.size(), 2u);
  EXPECT_EQ(cgroup::format_io_max(b.io_max[0]), "7:3 rbps=max wbps=2097152 riops=max wiops=max");
  EXPECT_EQ(cgroup::format_io_max(b.io_max[1]), "8:0 rbps=max wbps=max riops=9 wiops=max");
}

TEST(IoMaxRootfs, StartBindsTheGivenDiskOrFindsIt) {
  auto l = limits_of("io.max = rootfs rbps=1M\n");
  ASSERT_OK(l);
  dev_t given = makedev(7, 5);
  auto b = lifecycle::bind_rootfs_io(*l, given, "/nonexistent");  // given: no lookup
  ASSERT_OK(b);
  EXPECT_EQ(cgroup::format_io_max(b->io_max[0]), "7:5 rbps=1048576 wbps=max riops=max wiops=max");
  dev_t unknown = 0;
  EXPECT_ERROR_CONTAINS(lifecycle::bind_rootfs_io(*l, unknown, "/proc"),
                        "io.max `rootfs`: find the disk of the rootfs: `/proc` is on `proc`");
  EXPECT_EQ(unknown, dev_t(0));
  // No `rootfs` entry: nothing is looked up, even for a rootfs without a disk.
  auto plain = limits_of("io.max = 8:0 rbps=1\n");
  ASSERT_OK(plain);
  ASSERT_OK(lifecycle::bind_rootfs_io(*plain, unknown, "/proc"));
}

}  // namespace
}  // namespace cove::storage
