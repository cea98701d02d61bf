// cove-build (issue: images from a recipe), end to end through the tools on busybox: a recipe
// with every instruction gives an image whose container shows what the steps did; a second
// build runs no step (every step cached, the RUN's stamp unchanged); a changed line re-runs
// that step and the ones after only; bad recipes fail with RECIPE:LINE and change nothing; a
// build killed with SIGKILL during a RUN leaves no build container, mount, layer or image, and
// the next build succeeds; a disk that is too small is refused before any step.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support.hpp"

namespace cove::test {
namespace {

namespace fs = std::filesystem;

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class BuildTest : public ContainerTest {
 protected:
  void SetUp() override {
    ContainerTest::SetUp();
    src_ = path_ + "-src";
    fs::create_directories(src_ + "/files");
    std::ofstream(src_ + "/files/motd") << "copied in\n";
  }
  void TearDown() override {
    std::string base = path_;
    ContainerTest::TearDown();
    fs::remove_all(src_);
    auto l = run_cmd({"losetup", "-a"});
    EXPECT_EQ(l.out.find(base), std::string::npos) << "loop devices left: " << l.out;
    EXPECT_EQ(read_text("/proc/self/mountinfo").find(" " + base), std::string::npos) << "mounts left under " << base;
  }
  std::string write_recipe(const std::string& text, const std::string& name = "Recipe") {
    std::string f = src_ + "/" + name;
    std::ofstream(f) << text;
    return f;
  }
  RunResult build(const std::string& recipe, const std::string& alias, int timeout_s = 300) {
    return run_tool("cove-build", {"-P", path_, "-f", recipe, "-t", alias}, timeout_s);
  }
  std::string image_field(const std::string& alias, const std::string& field) {
    auto r = run_tool("cove-image", {"-P", path_, "show", alias});
    auto at = r.out.find(field + ": ");
    if (at == std::string::npos) return "";
    auto end = r.out.find('\n', at);
    return r.out.substr(at + field.size() + 2, end - at - field.size() - 2);
  }
  std::string image_file(const std::string& alias, const std::string& rel) {
    return read_text(image_field(alias, "rootfs") + rel);
  }
  // Build containers and scratch dirs of the cache (none once a build is over).
  std::vector<std::string> leftovers() {
    std::vector<std::string> out;
    std::string cache = path_ + "/.build-cache";
    if (fs::exists(cache + "/containers"))
      for (const auto& e : fs::directory_iterator(cache + "/containers"))
        if (e.path().filename().string()[0] != '.') out.push_back(e.path().string());
    if (fs::exists(cache))
      for (const auto& e : fs::directory_iterator(cache))
        if (e.path().filename().string().rfind("tmp-", 0) == 0) out.push_back(e.path().string());
    return out;
  }
  std::string src_;
};

const char* kRecipe =
    "# a test image\n"
    "FROM template:busybox\n"
    "RUN echo built > /etc/built; rm /bin/vi; \\\n"
    "    cat /proc/sys/kernel/random/uuid > /stamp\n"
    "COPY files/motd /etc/motd\n"
    "ENV GREETING=hello\n"
    "RUN echo \"$GREETING there\" > /etc/greeting\n"
    "CONFIG container.halt_signal = SIGTERM\n"
    "VERSION 1.2.3\n";

TEST_F(BuildTest, RecipeMakesAnImageWhoseContainerShowsEveryStep) {
  COVE_REQUIRE_ROOT();
  auto b = build(write_recipe(kRecipe), "built");
  ASSERT_EQ(b.status, 0) << b.out << b.err;
  EXPECT_NE(b.out.find("step 1/7: FROM template:busybox"), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("step 3/7: COPY files/motd /etc/motd"), std::string::npos) << b.out;
  auto list = run_tool("cove-image", {"-P", path_, "list"});
  EXPECT_NE(list.out.find("built"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("1.2.3"), std::string::npos) << list.out;
  EXPECT_TRUE(leftovers().empty());

  names_.push_back("app");
  auto c = cove("cove-create", "app", {"-t", "image:built"});
  ASSERT_EQ(c.status, 0) << c.err;
  std::string conf = read_text(path_ + "/app/config");
  EXPECT_NE(conf.find("init.env = GREETING=hello"), std::string::npos) << conf;
  EXPECT_NE(conf.find("halt_signal = SIGTERM"), std::string::npos) << conf;
  ASSERT_EQ(cove("cove-start", "app").status, 0);
  EXPECT_EQ(attach_out("app", {"/bin/sh", "-c", "cat /etc/built /etc/motd /etc/greeting; test -e /bin/vi || echo no-vi; "
                                                "echo $GREETING; stat -c %u /etc/motd"}),
            "built\ncopied in\nhello there\nno-vi\nhello\n0");
  cove("cove-stop", "app", {"-k"});
}

TEST_F(BuildTest, SecondBuildIsAllCachedAndAChangedLineRerunsOnlyFromThere) {
  COVE_REQUIRE_ROOT();
  std::string recipe = write_recipe(kRecipe);
  auto first = build(recipe, "one");
  ASSERT_EQ(first.status, 0) << first.out << first.err;
  std::string stamp = image_file("one", "/stamp");
  ASSERT_FALSE(stamp.empty());

  auto second = build(recipe, "two");
  ASSERT_EQ(second.status, 0) << second.out << second.err;
  EXPECT_EQ(count(second.out, "(cached)"), 4u) << second.out;  // FROM, RUN, COPY, RUN
  EXPECT_NE(second.out.find("4 cached, 0 run"), std::string::npos) << second.out;
  EXPECT_EQ(image_file("two", "/stamp"), stamp);
  EXPECT_EQ(image_field("one", "hash"), image_field("two", "hash"));

  // A changed COPY source re-runs the COPY and the RUN after it, not the RUN before.
  std::ofstream(src_ + "/files/motd") << "changed\n";
  auto third = build(recipe, "three");
  ASSERT_EQ(third.status, 0) << third.out << third.err;
  EXPECT_NE(third.out.find("step 2/7: RUN echo built"), std::string::npos);
  EXPECT_NE(third.out.find("random/uuid > /stamp (cached)"), std::string::npos) << third.out;
  EXPECT_EQ(third.out.find("/etc/motd (cached)"), std::string::npos) << third.out;
  EXPECT_EQ(third.out.find("/etc/greeting (cached)"), std::string::npos) << third.out;
  EXPECT_EQ(image_file("three", "/stamp"), stamp);
  EXPECT_EQ(image_file("three", "/etc/motd"), "changed\n");

  // A changed RUN line re-runs it (a new stamp).
  std::string text = kRecipe;
  text.replace(text.find("rm /bin/vi"), 10, "rm /bin/ed");
  auto fourth = build(write_recipe(text, "Recipe2"), "four");
  ASSERT_EQ(fourth.status, 0) << fourth.out << fourth.err;
  EXPECT_NE(fourth.out.find("step 1/7: FROM template:busybox (cached)"), std::string::npos) << fourth.out;
  EXPECT_NE(image_file("four", "/stamp"), stamp);
  EXPECT_TRUE(leftovers().empty());
}

TEST_F(BuildTest, BadRecipesFailWithFileAndLineAndChangeNothing) {
  COVE_REQUIRE_ROOT();
  for (auto [text, want] : std::vector<std::pair<std::string, std::string>>{
           {"FROM template:busybox\nFETCH x\n", "Bad:2: unknown instruction `FETCH` (allowed: FROM, RUN, COPY"},
           {"FROM template:busybox\nCOPY ../x /x\n", "Bad:2: COPY source `../x`"},
           {"RUN true\n", "Bad:1: RUN before FROM"},
           {"# empty\n", "Bad:1: no FROM"},
           {"FROM template:busybox\nCONFIG container.nokey = 1\n", "Bad:2: CONFIG `container.nokey`"},
           {"FROM template:busybox\nRUN exit 3\n", "the command exited with status 3"},
           {"FROM image:nosuch\n", "image `nosuch`"}}) {
    std::string f = write_recipe(text, "Bad");
    auto r = build(f, "bad");
    EXPECT_EQ(r.status, 1) << text;
    EXPECT_NE(r.err.find(want), std::string::npos) << text << "\n" << r.err;
    EXPECT_EQ(run_tool("cove-image", {"-P", path_, "list"}).out.find("bad"), std::string::npos) << text;
    EXPECT_TRUE(leftovers().empty()) << text;
  }
  // A symlink leading out of the recipe's directory.
  fs::create_symlink("/etc", src_ + "/etc-link");
  auto r = build(write_recipe("FROM template:busybox\nCOPY etc-link/passwd /x\n", "Bad"), "bad");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("leads out of the recipe's directory"), std::string::npos) << r.err;
}

TEST_F(BuildTest, KilledBuildLeavesNothingAndTheNextBuildSucceeds) {
  COVE_REQUIRE_ROOT();
  std::string recipe = write_recipe("FROM template:busybox\nRUN touch /started; sleep 30\n");
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string tool = builddir() + "/cove-build";
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 1);
    ::execl(tool.c_str(), tool.c_str(), "-P", path_.c_str(), "-f", recipe.c_str(), "-t", "killed", nullptr);
    ::_exit(127);
  }
  ASSERT_GT(pid, 0);
  // The RUN is under way once its build container runs the command.
  bool running = eventually([&] {
    for (const auto& l : leftovers())
      if (l.find("/containers/") != std::string::npos && fs::exists(l + "/overlay/upper/started")) return true;
    return false;
  }, 120000, 50);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(running) << "the build never reached its RUN";
  EXPECT_TRUE(eventually([&] { return leftovers().empty(); }, 30000, 50)) << "the watchdog did not clean up";
  EXPECT_EQ(run_tool("cove-image", {"-P", path_, "list"}).out.find("killed"), std::string::npos);
  EXPECT_EQ(run_cmd({"sh", "-c", "ls /run/cove | grep -c '^b-'"}).out.find_first_not_of("0\n"), std::string::npos)
      << "a build container's runtime dir is left";
  auto ls = run_tool("cove-ls", {"-P", path_});
  EXPECT_EQ(ls.out.find("b-"), std::string::npos) << ls.out;
  auto again = build(write_recipe("FROM template:busybox\nRUN echo fine > /fine\n"), "next");
  ASSERT_EQ(again.status, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("(cached)"), std::string::npos) << "the base layer made before the kill is reused";
  EXPECT_EQ(image_file("next", "/fine"), "fine\n");
}

TEST_F(BuildTest, TooSmallDiskIsRefusedBeforeAnyStep) {
  COVE_REQUIRE_ROOT();
  std::string small = path_ + "-small";
  fs::create_directories(small);
  ASSERT_EQ(run_cmd({"mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", small}).status, 0);
  auto r = run_tool("cove-build", {"-P", small + "/p", "-f", write_recipe(kRecipe), "-t", "small"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("MiB free; a build step needs at least 64 MiB"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("step 1/7"), std::string::npos) << r.out;
  run_cmd({"umount", small});
  fs::remove_all(small);
}

}  // namespace
}  // namespace cove::test
