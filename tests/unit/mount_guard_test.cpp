// rootfs::MountGuard: a mount is undone on destruction unless committed. Run in a child with a
// user and mount namespace of its own (no root needed, nothing reaches the host).
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/wait.h>

#include "process/child_process.hpp"
#include "rootfs/mount.hpp"
#include "support.hpp"

namespace cove::rootfs {
namespace {

bool is_tmpfs(const std::string& path) {
  struct statfs s;
  return ::statfs(path.c_str(), &s) == 0 && s.f_type == TMPFS_MAGIC;
}

// Runs `body` in a new user + mount namespace; returns its exit code (0: passed), or skips.
int in_private_mount_ns(const std::function<int()>& body) {
  auto child = process::spawn(
      [&] {
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) return 90;
        return body();
      },
      process::SpawnOptions{CLONE_NEWUSER | CLONE_NEWNS});
  if (!child) return -1;
  auto st = child->wait();
  return st ? process::exit_code_of(*st) : -2;
}

TEST(MountGuard, UnmountsWhenDestroyed) {
  test::TempDir tmp;
  const std::string dir = tmp.path();
  int code = in_private_mount_ns([&] {
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, nullptr) < 0) return 91;
    {
      MountGuard guard(dir);
      if (!is_tmpfs(dir)) return 1;
    }
    return is_tmpfs(dir) ? 2 : 0;
  });
  if (code < 0) GTEST_SKIP() << "no user namespaces here";
  EXPECT_EQ(code, 0) << "1: not mounted, 2: still mounted after the guard, 9x: set-up failed";
}

TEST(MountGuard, CommitKeepsTheMount) {
  test::TempDir tmp;
  const std::string dir = tmp.path();
  int code = in_private_mount_ns([&] {
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, nullptr) < 0) return 91;
    {
      MountGuard guard(dir);
      guard.commit();
    }
    return is_tmpfs(dir) ? 0 : 1;
  });
  if (code < 0) GTEST_SKIP() << "no user namespaces here";
  EXPECT_EQ(code, 0);
}

TEST(MountGuard, UnmountsThroughAnFdOnTheMountRoot) {
  test::TempDir tmp;
  const std::string dir = tmp.path();
  int code = in_private_mount_ns([&] {
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, nullptr) < 0) return 91;
    {
      MountGuard guard(UniqueFd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)));
      if (!guard.unmount()) return 1;
      if (guard.armed()) return 2;
    }
    return is_tmpfs(dir) ? 3 : 0;
  });
  if (code < 0) GTEST_SKIP() << "no user namespaces here";
  EXPECT_EQ(code, 0);
}

TEST(MountGuard, UnmountReportsAFailure) {
  test::TempDir tmp;
  MountGuard guard(tmp.path());  // nothing mounted there
  EXPECT_ERROR_CONTAINS(guard.unmount(), "unmount `" + tmp.path() + "`");
  EXPECT_FALSE(guard.armed());
}

}  // namespace
}  // namespace cove::rootfs

namespace cove::rootfs {
namespace {

// open_in_root makes a missing target inside the root: a leaf under an existing directory, a
// whole missing chain, a file; a symlinked parent is followed inside the root only; a parent
// that is a file and a `..` are errors naming the path; nothing is made outside the root.
TEST(OpenInRoot, MakesWhatIsMissingAndNothingOutsideTheRoot) {
  test::TempDir tmp;
  const std::string root = tmp.path() + "/root", outside = tmp.path() + "/outside";
  ASSERT_EQ(::mkdir(root.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(outside.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((root + "/dev").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((root + "/outside").c_str(), 0755), 0);
  ASSERT_EQ(::symlink("../outside", (root + "/escape").c_str()), 0);  // `..` of the root is the root
  ASSERT_EQ(::close(::open((root + "/plain").c_str(), O_CREAT | O_WRONLY, 0644)), 0);
  UniqueFd rootfd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(rootfd);
  auto kind = [&](const std::string& rel) {
    struct stat st;
    if (::lstat((root + "/" + rel).c_str(), &st) < 0) return std::string("missing");
    return std::string(S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : "other");
  };
  EXPECT_TRUE(open_in_root(rootfd.get(), "/dev/null", Create::kFile));
  EXPECT_EQ(kind("dev/null"), "file");
  EXPECT_TRUE(open_in_root(rootfd.get(), "dev/pts/", Create::kDir));
  EXPECT_EQ(kind("dev/pts"), "dir");
  EXPECT_TRUE(open_in_root(rootfd.get(), "sys/fs/cgroup/cpu", Create::kDir));
  EXPECT_EQ(kind("sys/fs/cgroup/cpu"), "dir");
  EXPECT_TRUE(open_in_root(rootfd.get(), "dev/null", Create::kFile));  // there already: opened
  EXPECT_ERROR_CONTAINS(open_in_root(rootfd.get(), "dev/none", Create::kNone), "open `/dev/none` in rootfs");
  EXPECT_EQ(kind("dev/none"), "missing");
  // `/escape` is the root's `/outside` seen from inside: made there, never in the one beside the root.
  EXPECT_TRUE(open_in_root(rootfd.get(), "escape/x", Create::kDir));
  EXPECT_EQ(kind("outside/x"), "dir");
  struct stat st;
  EXPECT_NE(::lstat((outside + "/x").c_str(), &st), 0);
  EXPECT_ERROR_CONTAINS(open_in_root(rootfd.get(), "plain/x", Create::kDir),
                        "open `/plain/x` in rootfs: Not a directory");
  EXPECT_ERROR_CONTAINS(open_in_root(rootfd.get(), "dev/../../x", Create::kDir), "has a `..` component");
  EXPECT_NE(::lstat((tmp.path() + "/x").c_str(), &st), 0);
}

}  // namespace
}  // namespace cove::rootfs
