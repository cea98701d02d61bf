// LXCFS views: which mount a config asks for (lifecycle/lxcfs.hpp) and how a mount point is
// recognised (rootfs/lxcfs.hpp), without an LXCFS running (tests/integration/lxcfs_test.cpp
// runs one).
#include <stdlib.h>

#include "config/load.hpp"
#include "lifecycle/lxcfs.hpp"
#include "rootfs/lxcfs.hpp"
#include "support.hpp"

namespace cove::lifecycle {
namespace {

using Mode = config::LxcfsSetting::Mode;

// Sets COVE_LXCFS_DIR for one test.
class LxcfsDirEnv {
 public:
  explicit LxcfsDirEnv(const std::string& dir) { ::setenv("COVE_LXCFS_DIR", dir.c_str(), 1); }
  ~LxcfsDirEnv() { ::unsetenv("COVE_LXCFS_DIR"); }
};

TEST(LxcfsConfig, DefaultIsAuto) {
  config::ContainerConfig c;
  EXPECT_EQ(c.lxcfs.mode, Mode::kAuto);
  EXPECT_TRUE(c.lxcfs.path.empty());
}

TEST(LxcfsConfig, CommonConfSetsAuto) {
  config::LoadOptions lo;
  lo.name = "web";
  lo.default_rootfs = "/r";
  lo.validate = false;  // common.conf alone has no id map
  auto cfg = config::load_config(std::string(COVE_SRCDIR) + "/config/common.conf", lo);
  ASSERT_OK(cfg);
  EXPECT_EQ(cfg->lxcfs.mode, Mode::kAuto);
}

TEST(LxcfsDir, DefaultAndOverride) {
  ::unsetenv("COVE_LXCFS_DIR");
  EXPECT_EQ(default_lxcfs_dir(), "/var/lib/lxcfs");
  LxcfsDirEnv env("/tmp/private-lxcfs");
  EXPECT_EQ(default_lxcfs_dir(), "/tmp/private-lxcfs");
}

TEST(LxcfsDir, OffUsesNothing) {
  config::ContainerConfig c;
  c.lxcfs.mode = Mode::kOff;
  auto dir = lxcfs_dir_for(c);
  ASSERT_OK(dir);
  EXPECT_EQ(*dir, "");
}

// auto without LXCFS: no views (the start goes on; the warning is logged).
TEST(LxcfsDir, AutoWithoutLxcfsUsesNothing) {
  test::TempDir t;
  LxcfsDirEnv env(t.path());
  config::ContainerConfig c;
  auto dir = lxcfs_dir_for(c);
  ASSERT_OK(dir);
  EXPECT_EQ(*dir, "");
  auto views = plan_lxcfs_views(c);
  ASSERT_OK(views);
  EXPECT_TRUE(views->empty());
}

// A configured path must be an LXCFS mount: a missing one, a plain directory, another filesystem.
TEST(LxcfsDir, ConfiguredPathMustBeLxcfs) {
  config::ContainerConfig c;
  c.lxcfs = {Mode::kPath, "/not/lxcfs"};
  c.origin["mount.lxcfs"] = "web.conf:7";
  EXPECT_ERROR_CONTAINS(lxcfs_dir_for(c), "web.conf:7: [mount] lxcfs = /not/lxcfs: `/not/lxcfs` is not a working LXCFS");
  EXPECT_ERROR_CONTAINS(lxcfs_dir_for(c), "allowed: auto, off, or the directory of a running LXCFS");
  test::TempDir t;
  c.lxcfs.path = t.path();
  EXPECT_ERROR_CONTAINS(lxcfs_dir_for(c), "nothing is mounted on");
  c.lxcfs.path = "/proc";
  EXPECT_ERROR_CONTAINS(lxcfs_dir_for(c), "`proc` is mounted there");
}

TEST(LxcfsMounts, FstypeOfAMountPoint) {
  auto t = rootfs::mounted_fstype("/proc");
  ASSERT_OK(t);
  EXPECT_EQ(*t, "proc");
  test::TempDir dir;
  EXPECT_ERROR_CONTAINS(rootfs::mounted_fstype(dir.path()), "nothing is mounted on");
}

TEST(LxcfsMounts, KeysAndRestoreSources) {
  EXPECT_EQ(lxcfs_mount_key("/proc/meminfo"), "lxcfs-proc-meminfo");
  EXPECT_EQ(lxcfs_mount_key("/sys/devices/system/cpu"), "lxcfs-sys-devices-system-cpu");
  EXPECT_TRUE(is_lxcfs_mount_key("lxcfs-proc-meminfo"));
  EXPECT_FALSE(is_lxcfs_mount_key("bind-1"));
  EXPECT_FALSE(is_lxcfs_mount_key("dev-dev-null"));
  EXPECT_EQ(lxcfs_restore_source("/var/lib/lxcfs", "/proc/meminfo"), "/var/lib/lxcfs/proc/meminfo");
  // Without LXCFS: the host's own file.
  EXPECT_EQ(lxcfs_restore_source("", "/proc/meminfo"), "/proc/meminfo");
}

}  // namespace
}  // namespace cove::lifecycle
