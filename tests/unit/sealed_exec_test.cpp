// The two read-only forms of an executable that reexec_sealed() runs from: the overlay view
// (no write reaches the file, not after the view's mount is cloned and made writable, nor after
// its superblock is reconfigured) and the sealed memfd copy. Needs root for the overlay (skipped
// without it).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "base/sealed_exec.hpp"
#include "base/syscalls.hpp"
#include "support.hpp"

namespace cove {
namespace {

void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::trunc) << text; }

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// errno of opening the file behind `fd` for writing (0: it opened).
int reopen_for_write(int fd) {
  UniqueFd w(::open(fd_path(fd).c_str(), O_RDWR | O_CLOEXEC));
  return w ? 0 : errno;
}

class OverlayView : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = tmp_.file("tool");
    write_text(file_, "the tool's bytes");
    exe_.reset(::open(file_.c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(exe_);
  }
  Result<UniqueFd> view() {
    auto v = overlay_view(file_, exe_.get());
    if (!v && v.error().code() == EPERM) skip_ = true;
    return v;
  }
  test::TempDir tmp_;
  std::string file_;
  UniqueFd exe_;
  bool skip_ = false;
};

TEST_F(OverlayView, ShowsTheFileAndNoWriteReachesIt) {
  auto v = view();
  if (skip_) GTEST_SKIP() << "no overlayfs mounts without root";
  ASSERT_OK(v);
  EXPECT_TRUE(on_readonly_overlay(v->get()));
  EXPECT_FALSE(on_readonly_overlay(exe_.get()));
  EXPECT_EQ(read_text(fd_path(v->get())), "the tool's bytes");
  EXPECT_EQ(reopen_for_write(v->get()), EROFS);
  // The unwrapping a read-only bind mount would allow: clone the mount and clear its read-only
  // flag. The view's mount left every namespace with its fd, so there is nothing to clone...
  UniqueFd clone(sys::open_tree(v->get(), "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH));
  EXPECT_FALSE(clone);
  EXPECT_EQ(errno, EINVAL);
  // ... and were there, its superblock stays read-only (no upper layer): see the next test.
  EXPECT_EQ(read_text(file_), "the tool's bytes");
  EXPECT_EQ(reopen_for_write(exe_.get()), 0) << "the file itself stays writable to the host";
}

// While the overlay's mount is still held (by the process that made it, before its exec):
// the file is there, and no write reaches it or anything beside it.
void expect_read_only_for_good(const UniqueFd& mnt, const std::string& file) {
  EXPECT_EQ(read_text("/proc/self/fd/" + std::to_string(mnt.get()) + "/tool"), "the tool's bytes");
  UniqueFd w(::openat(mnt.get(), "tool", O_RDWR | O_CLOEXEC));
  EXPECT_FALSE(w);
  EXPECT_EQ(errno, EROFS);
  // The unwrapping a read-only bind mount would allow: clone it, clear its read-only flag.
  UniqueFd clone(sys::open_tree(mnt.get(), "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH));
  ASSERT_TRUE(clone) << std::strerror(errno);
  struct mount_attr attr = {};
  attr.attr_clr = MOUNT_ATTR_RDONLY;
  ASSERT_EQ(sys::mount_setattr(clone.get(), "", AT_EMPTY_PATH, &attr, sizeof attr), 0) << std::strerror(errno);
  w.reset(::openat(clone.get(), "tool", O_RDWR | O_CLOEXEC));
  EXPECT_FALSE(w);
  EXPECT_EQ(errno, EROFS);
  // Nor does its superblock become writable (there is no upper layer to write to).
  UniqueFd pick(static_cast<int>(::syscall(SYS_fspick, clone.get(), "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC)));
  ASSERT_TRUE(pick) << std::strerror(errno);
  (void)sys::fsconfig(pick.get(), FSCONFIG_SET_FLAG, "rw", nullptr, 0);
  EXPECT_LT(sys::fsconfig(pick.get(), FSCONFIG_CMD_RECONFIGURE, nullptr, nullptr, 0), 0);
  w.reset(::openat(clone.get(), "tool", O_RDWR | O_CLOEXEC));
  EXPECT_FALSE(w);
  EXPECT_EQ(errno, EROFS);
  UniqueFd created(::openat(clone.get(), "new", O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  EXPECT_FALSE(created);
  EXPECT_EQ(read_text(file), "the tool's bytes");
}

TEST_F(OverlayView, StaysReadOnlyWhenItsMountIsClonedAndMadeWritable) {
  auto mnt = readonly_overlay_of(tmp_.path());
  if (!mnt && mnt.error().code() == EPERM) GTEST_SKIP() << "no overlayfs mounts without root";
  ASSERT_OK(mnt);
  expect_read_only_for_good(*mnt, file_);
}

// Layers by path (kernels before 6.13): the spare directory below, names with `:` escaped.
TEST_F(OverlayView, LayeredByPathOverASpareDirectory) {
  test::TempDir spare;
  std::string odd = spare.path() + "/a:b\\c";
  ASSERT_EQ(::mkdir(odd.c_str(), 0700), 0);
  write_text(odd + "/tool", "the spare's file, shadowed");
  write_text(odd + "/other", "the spare's other file");
  auto mnt = readonly_overlay_of(tmp_.path(), odd);
  if (!mnt && mnt.error().code() == EPERM) GTEST_SKIP() << "no overlayfs mounts without root";
  ASSERT_OK(mnt);
  EXPECT_EQ(read_text("/proc/self/fd/" + std::to_string(mnt->get()) + "/other"), "the spare's other file");
  expect_read_only_for_good(*mnt, file_);
  EXPECT_ERROR_CONTAINS(readonly_overlay_of(tmp_.path(), tmp_.path() + "/.."), "make the overlay over");  // overlapping
}

TEST_F(OverlayView, RefusesAFileReplacedSinceItWasOpened) {
  write_text(file_ + ".new", "another tool");
  ASSERT_EQ(::rename((file_ + ".new").c_str(), file_.c_str()), 0);
  auto v = view();
  if (skip_) GTEST_SKIP() << "no overlayfs mounts without root";
  EXPECT_ERROR_CONTAINS(v, "is not the running executable any more");
}

TEST_F(OverlayView, WantsAnAbsolutePathToAFile) {
  EXPECT_ERROR_CONTAINS(overlay_view("tool", exe_.get()), "is not an absolute path to a file");
  EXPECT_ERROR_CONTAINS(overlay_view(tmp_.path() + "/", exe_.get()), "is not an absolute path to a file");
}

TEST(SealedMemfdCopy, HoldsTheBytesAndTakesNoWrite) {
  test::TempDir tmp;
  write_text(tmp.file("tool"), "not an ELF file: copied whole");
  UniqueFd exe(::open(tmp.file("tool").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(exe);
  auto copy = sealed_memfd_copy("cove-test", exe.get());
  ASSERT_OK(copy);
  EXPECT_EQ(read_text(fd_path(copy->get())), "not an ELF file: copied whole");
  int seals = ::fcntl(copy->get(), F_GET_SEALS);
  EXPECT_EQ(seals & (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE),
            F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
  EXPECT_LT(::pwrite(copy->get(), "x", 1, 0), 0);
  EXPECT_LT(::ftruncate(copy->get(), 0), 0);
}

}  // namespace
}  // namespace cove
