// Config files that are not regular files (issue 10): `include = /dev/zero` used to end in
// std::bad_alloc and an included FIFO hung every tool that read the config. Only regular files
// of at most kMaxConfigFileSize bytes are read; the error names the include's FILE:LINE.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>

#include "base/clock.hpp"
#include "base/fs.hpp"
#include "config/ini_reader.hpp"
#include "config/load.hpp"
#include "support.hpp"

using namespace cove;
using namespace cove::config;
using cove::test::TempDir;

namespace {

const LoadOptions kOptions{"web", "/var/lib/cove/web/rootfs", /*validate=*/false};

// Runs `fn` in a child and returns its exit status, or -1 when it did not end within
// `timeout_ms` (then killed): a hang must fail the test, not stall it.
int run_bounded(const std::function<int()>& fn, int timeout_ms = 5000) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(fn());
  int64_t deadline = monotonic_ms() + timeout_ms;
  int st = 0;
  while (::waitpid(pid, &st, WNOHANG) == 0) {
    if (monotonic_ms() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      return -1;
    }
    ::usleep(10000);
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// Loads `path` in a bounded child; 0 when the load failed with `want` in the message.
int load_fails_with(const std::string& path, const std::string& want) {
  return run_bounded([&] {
    try {
      auto c = load_config(path, kOptions);
      if (c) return 2;
      if (c.error().message().find(want) == std::string::npos) {
        std::fprintf(stderr, "error was: %s\n", c.error().message().c_str());
        return 3;
      }
      return 0;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "exception: %s\n", e.what());
      return 4;
    }
  });
}

std::string write(const TempDir& t, const std::string& name, const std::string& text) {
  std::string p = t.file(name);
  EXPECT_TRUE(write_file(p, text).has_value());
  return p;
}

}  // namespace

TEST(ConfigFiles, IncludeOfDevZeroIsAnErrorAtTheIncludeLine) {
  TempDir t;
  std::string main = write(t, "main.conf", "[container]\ninclude = /dev/zero\n");
  EXPECT_EQ(load_fails_with(main, main + ":2: include: `/dev/zero` is a character device, not a regular file"), 0);
}

TEST(ConfigFiles, IncludeOfAFifoDoesNotHang) {
  TempDir t;
  std::string fifo = t.file("fifo.conf");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  std::string main = write(t, "main.conf", "# x\ninclude = fifo.conf\n");
  EXPECT_EQ(load_fails_with(main, main + ":2: include: `" + fifo + "` is a FIFO, not a regular file"), 0);
}

TEST(ConfigFiles, FifoInAnIncludedDirectoryIsNamed) {
  TempDir t;
  ASSERT_EQ(::mkdir(t.file("conf.d").c_str(), 0755), 0);
  write(t, "conf.d/10-a.conf", "[container]\nttys = 2\n");
  ASSERT_EQ(::mkfifo(t.file("conf.d/20-b.conf").c_str(), 0644), 0);
  std::string main = write(t, "main.conf", "include = conf.d\n");
  EXPECT_EQ(load_fails_with(main, main + ":1: include: `" + t.file("conf.d/20-b.conf") + "` is a FIFO"), 0);
}

TEST(ConfigFiles, MainConfigThatIsAFifoDoesNotHang) {
  TempDir t;
  std::string fifo = t.file("config");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  EXPECT_EQ(load_fails_with(fifo, "`" + fifo + "` is a FIFO, not a regular file"), 0);
}

TEST(ConfigFiles, TooBigIncludeIsAnError) {
  TempDir t;
  std::string big = write(t, "big.conf", std::string(kMaxConfigFileSize + 1, '#'));
  std::string main = write(t, "main.conf", "include = big.conf\n");
  EXPECT_EQ(load_fails_with(main, main + ":1: include: `" + big + "` is larger than 1048576 bytes"), 0);
}

TEST(ConfigFiles, FileAtTheLimitIsRead) {
  TempDir t;
  std::string text = "[container]\nttys = 3\n";
  text += std::string(kMaxConfigFileSize - text.size() - 1, '#') + "\n";
  std::string inc = write(t, "inc.conf", text);
  std::string main = write(t, "main.conf", "include = inc.conf\n");
  auto c = load_config(main, kOptions);
  ASSERT_OK(c);
  EXPECT_EQ(c->ttys, 3u);
}

TEST(ReadRegularFile, RefusesDirectoriesAndDevices) {
  EXPECT_ERROR_CONTAINS(read_regular_file("/", 100), "`/` is a directory, not a regular file");
  EXPECT_ERROR_CONTAINS(read_regular_file("/dev/null", 100), "`/dev/null` is a character device");
}

// While an IncludeParseCache lives, a shared include's parse is kept (cove-ls loads 1000
// configs that include common.conf): the same text again gives the same items under each
// including file's name for the include's lines, an edited include is read as edited, and an
// include's errors are still reported at every load, each at its FILE:LINE.
TEST(ConfigFiles, AnIncludeParsedBeforeIsReadAsItIsNow) {
  IncludeParseCache cache;
  TempDir t;
  std::string inc = write(t, "common.conf", "[container]\nttys = 3\n");
  std::string a = write(t, "a.conf", "include = common.conf\n[container]\nstop_timeout = 5\n");
  std::string b = write(t, "b.conf", "[container]\nstop_timeout = 7\ninclude = common.conf\n");
  for (int i = 0; i < 2; ++i) {
    auto ca = load_config(a, kOptions), cb = load_config(b, kOptions);
    ASSERT_OK(ca);
    ASSERT_OK(cb);
    EXPECT_EQ(ca->ttys, 3u);
    EXPECT_EQ(cb->ttys, 3u);
    EXPECT_EQ(ca->stop_timeout, 5u);
    EXPECT_EQ(cb->stop_timeout, 7u);
  }
  auto doc = read_ini_file(a);
  ASSERT_OK(doc);
  ASSERT_GE(doc->items.size(), 2u);
  EXPECT_EQ(doc->items[1].where(), inc + ":2");
  write(t, "common.conf", "[container]\nttys = 4\n");
  auto edited = load_config(a, kOptions);
  ASSERT_OK(edited);
  EXPECT_EQ(edited->ttys, 4u);
  write(t, "common.conf", "[container]\nno_such_key = 1\n");
  for (int i = 0; i < 2; ++i) EXPECT_EQ(load_fails_with(a, inc + ":2: "), 0);
}

// An include unchanged for a while is found again by its status (no read); a change to it
// afterwards, even one that keeps its size and mtime, is read.
TEST(ConfigFiles, AnIncludeKeptByItsStatusIsReadAgainOnceItChanges) {
  IncludeParseCache cache;
  TempDir t;
  std::string inc = write(t, "common.conf", "[container]\nttys = 3\n");
  std::string a = write(t, "a.conf", "include = common.conf\n");
  std::string b = write(t, "b.conf", "include = common.conf\n[container]\nstop_timeout = 7\n");
  struct stat before;
  ASSERT_EQ(::stat(inc.c_str(), &before), 0);
  ::sleep(3);  // older than the cache's settling time: kept by its status from the first read on
  for (const auto& f : {a, b, a}) {
    auto c = load_config(f, kOptions);
    ASSERT_OK(c);
    EXPECT_EQ(c->ttys, 3u);
  }
  write(t, "common.conf", "[container]\nttys = 4\n");  // same size
  struct timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, inc.c_str(), times, 0), 0);  // and the old mtime
  auto edited = load_config(b, kOptions);
  ASSERT_OK(edited);
  EXPECT_EQ(edited->ttys, 4u);
  EXPECT_EQ(edited->stop_timeout, 7u);
}
