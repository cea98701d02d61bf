// base/dir: listing a directory (`.` and `..` skipped, read errors kept, the fd closed).
#include "base/dir.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "support.hpp"

namespace cove {
namespace {

int open_fd_count() {
  auto d = Dir::open("/proc/self/fd");
  if (!d) return -1;
  int n = 0;
  for ([[maybe_unused]] const DirEntry& e : *d) ++n;
  return n;
}

TEST(Dir, ListsEntriesWithoutDotAndDotDot) {
  test::TempDir tmp;
  std::ofstream(tmp.file("a")) << "x";
  ASSERT_EQ(::mkdir(tmp.file("sub").c_str(), 0700), 0);
  auto d = Dir::open(tmp.path());
  ASSERT_OK(d);
  std::set<std::string> names;
  for (const DirEntry& e : *d) {
    names.emplace(e.name);
    if (e.name == "sub") {
      EXPECT_TRUE(e.type == DT_DIR || e.type == DT_UNKNOWN);
    }
  }
  EXPECT_EQ(d->error(), 0);
  EXPECT_EQ(names, (std::set<std::string>{"a", "sub"}));
}

TEST(Dir, NamesOfAnEmptyDirectory) {
  test::TempDir tmp;
  auto d = Dir::open(tmp.path());
  ASSERT_OK(d);
  auto names = d->names();
  ASSERT_OK(names);
  EXPECT_TRUE(names->empty());
}

TEST(Dir, OpenReportsTheErrno) {
  auto d = Dir::open("/nonexistent/cove-dir-test");
  EXPECT_ERROR_CONTAINS(d, "open directory `/nonexistent/cove-dir-test`");
  EXPECT_EQ(d.error().code(), ENOENT);
}

TEST(Dir, OpenAtListsThroughAPathFdAndLeavesItOpen) {
  test::TempDir tmp;
  std::ofstream(tmp.file("one")) << "1";
  int fd = ::open(tmp.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  {
    auto d = Dir::open_at(fd);
    ASSERT_OK(d);
    auto names = d->names();
    ASSERT_OK(names);
    EXPECT_EQ(*names, std::vector<std::string>{"one"});
  }
  EXPECT_EQ(::fcntl(fd, F_GETFD), FD_CLOEXEC) << "the caller's fd stays open";
  ::close(fd);
}

TEST(Dir, ClosesItsFdOnDestruction) {
  test::TempDir tmp;
  int before = open_fd_count();
  {
    auto d = Dir::open(tmp.path());
    ASSERT_OK(d);
    EXPECT_EQ(open_fd_count(), before + 1);
    Dir moved = std::move(*d);
    EXPECT_EQ(open_fd_count(), before + 1);
  }
  EXPECT_EQ(open_fd_count(), before);
}

}  // namespace
}  // namespace cove
