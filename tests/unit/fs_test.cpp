// Tests of base/fs.cpp: the tree walker behind remove_tree (any depth under a small
// RLIMIT_NOFILE, and never through a symlink) and write_file_atomic's replacements.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "base/fs.hpp"
#include "rootfs/ownership_shift.hpp"
#include "support.hpp"

using namespace cove;
using cove::test::TempDir;

namespace {

// Makes `levels` nested directories `d` under `top`, with a file in each, by mkdirat/openat
// (a path that deep is far beyond PATH_MAX). Returns false on any failure.
bool make_deep_tree(const std::string& top, int levels) {
  if (::mkdir(top.c_str(), 0755) < 0) return false;
  int fd = ::open(top.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  for (int i = 0; i < levels && fd >= 0; ++i) {
    int f = ::openat(fd, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (f < 0 || ::mkdirat(fd, "d", 0755) < 0) {
      ::close(fd);
      return false;
    }
    ::close(f);
    int next = ::openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ::close(fd);
    fd = next;
  }
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

// Runs `fn` in a child with RLIMIT_NOFILE = `nofile`; the exit status is fn's result (0 = ok).
int in_child_with_nofile(rlim_t nofile, const std::function<int()>& fn) {
  pid_t pid = ::fork();
  if (pid == 0) {
    struct rlimit rl = {nofile, nofile};
    if (::setrlimit(RLIMIT_NOFILE, &rl) < 0) ::_exit(90);
    ::_exit(fn());
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

}  // namespace

TEST(RemoveTree, DeepTreeUnderSmallFdLimit) {
  TempDir t;
  std::string top = t.file("deep");
  ASSERT_TRUE(make_deep_tree(top, 3000));
  int rc = in_child_with_nofile(64, [&] {
    auto r = remove_tree(top);
    if (!r) {
      std::fprintf(stderr, "remove_tree: %s\n", r.error().message().c_str());
      return 1;
    }
    return 0;
  });
  EXPECT_EQ(rc, 0);
  EXPECT_FALSE(path_exists(top));
}

TEST(RemoveTree, SymlinksAreRemovedNotFollowed) {
  TempDir t;
  std::string victim = t.file("victim");
  ASSERT_EQ(::mkdir(victim.c_str(), 0755), 0);
  ASSERT_OK(write_file(victim + "/keep", "x"));
  std::string top = t.file("tree");
  ASSERT_EQ(::mkdir(top.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((top + "/sub").c_str(), 0755), 0);
  ASSERT_EQ(::symlink(victim.c_str(), (top + "/sub/link").c_str()), 0);
  ASSERT_EQ(::symlink((victim + "/keep").c_str(), (top + "/filelink").c_str()), 0);
  ASSERT_OK(remove_tree(top));
  EXPECT_FALSE(path_exists(top));
  EXPECT_TRUE(path_exists(victim + "/keep"));
}

TEST(RemoveTree, TopLevelSymlinkIsRemovedNotFollowed) {
  TempDir t;
  std::string victim = t.file("victim");
  ASSERT_EQ(::mkdir(victim.c_str(), 0755), 0);
  ASSERT_OK(write_file(victim + "/keep", "x"));
  ASSERT_EQ(::symlink(victim.c_str(), t.file("link").c_str()), 0);
  ASSERT_OK(remove_tree(t.file("link")));
  EXPECT_FALSE(path_exists(t.file("link")));
  EXPECT_TRUE(path_exists(victim + "/keep"));
}

TEST(RemoveTree, MissingPathIsFine) {
  TempDir t;
  EXPECT_OK(remove_tree(t.file("nothing")));
}

TEST(WalkTree, VisitsEveryEntryOncePostOrder) {
  TempDir t;
  std::string top = t.file("w");
  ASSERT_TRUE(make_deep_tree(top, 5));
  std::vector<std::string> files, dirs;
  TreeVisitor v;
  v.file = [&](int, const std::string&, const struct stat&, const std::string& shown) -> Result<void> {
    files.push_back(shown.substr(t.path().size() + 1));
    return {};
  };
  v.dir_done = [&](int, const std::string&, int, const std::string& shown) -> Result<bool> {
    dirs.push_back(shown.substr(t.path().size() + 1));
    return true;
  };
  UniqueFd pfd(::open(t.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_OK(walk_tree_at(pfd.get(), "w", top, v));
  EXPECT_EQ(files.size(), 5u);
  ASSERT_EQ(dirs.size(), 6u);
  EXPECT_EQ(dirs.front(), "w/d/d/d/d/d");
  EXPECT_EQ(dirs.back(), "w");
}

// The one-time ownership shift walks the same way: a deep tree under a small fd limit, and a
// symlink's target (a host file) keeps its owner.
TEST(OwnershipShift, DeepTreeAndSymlinksUnderSmallFdLimit) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown needs root";
  TempDir t;
  std::string rootfs = t.file("rootfs");
  ASSERT_TRUE(make_deep_tree(rootfs, 3000));
  std::string victim = t.file("victim");
  ASSERT_OK(write_file(victim, "host"));
  ASSERT_EQ(::symlink(victim.c_str(), (rootfs + "/d/link").c_str()), 0);
  rootfs::ShiftRecord maps;
  maps.uid_map = {{0, 100000, 65536}};
  maps.gid_map = {{0, 100000, 65536}};
  int rc = in_child_with_nofile(64, [&] {
    auto r = rootfs::shift_ownership(rootfs, maps, t.file("record"));
    if (!r) {
      std::fprintf(stderr, "shift: %s\n", r.error().message().c_str());
      return 1;
    }
    return 0;
  });
  EXPECT_EQ(rc, 0);
  struct stat st;
  ASSERT_EQ(::lstat((rootfs + "/d/link").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 100000u);
  ASSERT_EQ(::stat(victim.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  ASSERT_EQ(::stat(rootfs.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 100000u);
  // Deepest file: found by walking down with openat (the path is beyond PATH_MAX).
  int fd = ::open(rootfs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  for (int i = 0; i < 2999 && fd >= 0; ++i) {
    int next = ::openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ::close(fd);
    fd = next;
  }
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::fstatat(fd, "f", &st, AT_SYMLINK_NOFOLLOW), 0);
  ::close(fd);
  EXPECT_EQ(st.st_uid, 100000u);
  ASSERT_OK(remove_tree(rootfs));
}

// A volatile replacement is swapped in (renameat2 RENAME_EXCHANGE) and the replaced content
// goes with the temporary name: the directory holds the file alone, with the new content, and
// a reader that opened the old file still reads the old one (never a mix).
TEST(WriteFileAtomic, AVolatileReplacementLeavesOnlyTheNewFile) {
  TempDir dir;
  const std::string path = dir.path() + "/state";
  ASSERT_TRUE(write_file_atomic(path, "first", 0600, Durability::kVolatile).has_value());
  int old_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(old_fd, 0);
  for (auto d : {Durability::kVolatile, Durability::kDurable, Durability::kVolatile}) {
    std::string text = d == Durability::kVolatile ? "volatile" : "durable";
    ASSERT_TRUE(write_file_atomic(path, text, 0600, d).has_value());
    auto got = read_file(path);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(*got, text);
  }
  char buf[16] = {};
  EXPECT_EQ(::pread(old_fd, buf, sizeof buf, 0), 5);
  EXPECT_EQ(std::string(buf), "first");
  ::close(old_fd);
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) names.push_back(e.path().filename());
  EXPECT_EQ(names, std::vector<std::string>{"state"});
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}
