// Which container a tool acts on: never another path's container whose runtime key collides
// with ours, never a second monitor for one container reached through a symlink, never a
// start on host ids another container uses, never a name that escapes PATH, and never a dead
// monitor taken for a live one.
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "paths.hpp"
#include "support.hpp"

namespace cove::test {
namespace {

class IdentityTest : public ContainerTest {
 protected:
  // The state cove-ls -P PATH reports for NAME ("" when it is not listed).
  std::string ls_state(const std::string& path, const std::string& name) {
    auto r = run_tool("cove-ls", {"-P", path, "--json"});
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    if (!j.is_array()) return "";
    for (const auto& c : j)
      if (c.value("name", "") == name) return c.value("state", "");
    return "";
  }
  std::string state_in(const std::string& path, const std::string& name) {
    return trim_str(run_tool("cove-info", {"-P", path, "-n", name, "-s"}).out);
  }
};

// Two cove paths each with a container `x`; the first runs. A collision of their runtime keys
// (which cannot be brute-forced with a 128-bit hash) is simulated: the second's runtime dir is
// made an alias of the first's. Tools on the second path must not see or touch the first's.
TEST_F(IdentityTest, CollidingRuntimeKeyIsNotActedOn) {
  create_busybox("x");
  ASSERT_EQ(cove("cove-start", "x").status, 0);
  pid_t init = init_pid("x");
  std::string other = path_ + "/other";
  ASSERT_EQ(::mkdir(other.c_str(), 0711), 0);
  struct Cleanup {
    std::string other, alias;
    ~Cleanup() {
      ::unlink(alias.c_str());
      run_tool("cove-destroy", {"-P", other, "-n", "x", "-f"}, 30);
    }
  } cleanup{other, ContainerPaths(other, "x").runtime_dir()};
  auto r = run_tool("cove-create", {"-P", other, "-n", "x", "-t", "busybox"}, 120);
  ASSERT_EQ(r.status, 0) << r.err;
  std::string mine = ContainerPaths(path_, "x").runtime_dir();
  ASSERT_NE(mine, cleanup.alias);
  ASSERT_EQ(::symlink(mine.c_str(), cleanup.alias.c_str()), 0);

  EXPECT_EQ(ls_state(other, "x"), "STOPPED");
  EXPECT_EQ(state_in(other, "x"), "STOPPED");
  r = run_tool("cove-attach", {"-P", other, "-n", "x", "--", "hostname"});
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.out, "");
  r = run_tool("cove-stop", {"-P", other, "-n", "x", "-k"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("not running"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("`" + path_ + "/x`"), std::string::npos) << r.err;
  r = run_tool("cove-start", {"-P", other, "-n", "x"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("`" + path_ + "/x`"), std::string::npos) << r.err;
  // The first container was not touched, and its runtime dir is still there.
  EXPECT_EQ(state_in(path_, "x"), "RUNNING");
  EXPECT_EQ(init_pid("x"), init);
  EXPECT_TRUE(std::filesystem::exists(mine + "/state"));
}

// `cove-start -P LINK` with LINK a symlink to the real path is the same container: refused as
// already running, and listed through the link as the one that runs. So is a NAME that is a
// symlink to the container's directory.
TEST_F(IdentityTest, StartThroughSymlinkIsTheSameContainer) {
  create_busybox("x");
  std::string link = path_ + ".link";
  struct Unlink {
    std::string p;
    ~Unlink() {
      run_tool("cove-stop", {"-P", p, "-n", "x", "-k"}, 30);
      ::unlink(p.c_str());
    }
  } unlink_link{link};
  ASSERT_EQ(::symlink(path_.c_str(), link.c_str()), 0);
  ASSERT_EQ(::symlink("x", (path_ + "/alias").c_str()), 0);
  ASSERT_EQ(cove("cove-start", "x").status, 0);
  pid_t init = init_pid("x");

  auto r = run_tool("cove-start", {"-P", link, "-n", "x"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("already running"), std::string::npos) << r.err;
  r = cove("cove-start", "alias");
  if (r.status == 0) run_tool("cove-stop", {"-P", path_, "-n", "alias", "-k"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("already running"), std::string::npos) << r.err;

  EXPECT_EQ(ls_state(link, "x"), "RUNNING");
  auto info = run_tool("cove-info", {"-P", link, "-n", "x", "--json"});
  auto j = nlohmann::json::parse(info.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << info.out << info.err;
  EXPECT_EQ(j.value("init_pid", 0), init);
  // Stopped through the link, it is stopped.
  EXPECT_EQ(run_tool("cove-stop", {"-P", link, "-n", "x", "-k"}).status, 0);
  EXPECT_EQ(state_in(path_, "x"), "STOPPED");
}

// `uid = 0 BASE COUNT` of a container's config.
std::string idmap_base(const std::string& config) {
  std::smatch m;
  std::string text = read_text(config);
  return std::regex_search(text, m, std::regex("\nuid = 0 ([0-9]+) ")) ? m[1].str() : "";
}

// A config edited after create to another container's host ids must not start.
TEST_F(IdentityTest, StartRefusesIdsOfAnotherContainer) {
  create_busybox("a");
  create_busybox("b");
  std::string a_base = idmap_base(path_ + "/a/config"), b_base = idmap_base(path_ + "/b/config");
  ASSERT_FALSE(a_base.empty());
  ASSERT_FALSE(b_base.empty());
  ASSERT_NE(a_base, b_base);
  std::string b_cfg = read_text(path_ + "/b/config");
  b_cfg = std::regex_replace(b_cfg, std::regex("\n([ug]id) = 0 " + b_base + " "), "\n$1 = 0 " + a_base + " ");
  std::ofstream(path_ + "/b/config") << b_cfg;
  ASSERT_EQ(idmap_base(path_ + "/b/config"), a_base);

  ASSERT_EQ(cove("cove-start", "a").status, 0);
  auto r = cove("cove-start", "b");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("overlap"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(path_ + "/a"), std::string::npos) << r.err;
  EXPECT_EQ(state_in(path_, "b"), "STOPPED");
  EXPECT_FALSE(std::filesystem::exists(runtime_dir("b")));
}

// The check against running containers does not rely on the id-range registry: a container
// whose registry (another state dir) does not know `a` is still refused `a`'s ids while `a`
// runs (the runtime dir's index of running ranges), and gets them once `a` stops or its monitor
// is gone without cleaning up (a dead entry is dropped, not obeyed).
TEST_F(IdentityTest, RunningIdsAreRefusedWhateverTheRegistry) {
  create_busybox("a");
  create_busybox("b");
  std::string a_base = idmap_base(path_ + "/a/config"), b_base = idmap_base(path_ + "/b/config");
  ASSERT_NE(a_base, b_base);
  std::string b_cfg = read_text(path_ + "/b/config");
  b_cfg = std::regex_replace(b_cfg, std::regex("\n([ug]id) = 0 " + b_base + " "), "\n$1 = 0 " + a_base + " ");
  std::ofstream(path_ + "/b/config") << b_cfg;
  std::string other_registry = path_ + "/other-registry";
  auto start_b = [&] {
    return run_tool("cove-start", {"-P", path_, "-n", "b"}, 60, {"COVE_IDMAP_REGISTRY=" + other_registry});
  };
  ASSERT_EQ(cove("cove-start", "a").status, 0);
  auto r = start_b();
  EXPECT_EQ(r.status, 1) << "started on the ids of a running container";
  EXPECT_NE(r.err.find("of running container `" + path_ + "/a`"), std::string::npos) << r.err;
  EXPECT_EQ(state_in(path_, "b"), "STOPPED");
  ASSERT_EQ(cove("cove-stop", "a", {"-k"}).status, 0);
  r = start_b();
  EXPECT_EQ(r.status, 0) << "a stopped container's ids stayed taken: " << r.err;
  ASSERT_EQ(cove("cove-stop", "b", {"-k"}).status, 0);
  // `a` again, its monitor killed: its entry stays behind, and is found dead.
  ASSERT_EQ(cove("cove-start", "a").status, 0);
  pid_t mon = monitor_pid("a"), init = init_pid("a");
  ASSERT_GT(mon, 0);
  ASSERT_GT(init, 0);
  ASSERT_EQ(::kill(mon, SIGKILL), 0);
  ASSERT_EQ(::kill(init, SIGKILL), 0);
  ASSERT_TRUE(eventually([&] { return ::kill(mon, 0) < 0 && ::kill(init, 0) < 0; }, 5000));
  r = start_b();
  EXPECT_EQ(r.status, 0) << "a dead monitor's entry was obeyed: " << r.err;
  ASSERT_EQ(cove("cove-stop", "b", {"-k"}).status, 0);
  cove("cove-stop", "a", {"-k"});  // the stale cleanup of `a`
}

// A restore goes through the same check: a checkpointed container whose config now maps the
// ids of a running one is not restored, and its images stay as they were.
TEST_F(IdentityTest, RestoreRefusesIdsOfAnotherContainer) {
  COVE_REQUIRE_CRIU();
  create_busybox("a");
  create_busybox("b");
  std::string a_base = idmap_base(path_ + "/a/config"), b_base = idmap_base(path_ + "/b/config");
  ASSERT_NE(a_base, b_base);
  ASSERT_EQ(cove("cove-start", "b").status, 0);
  std::string img = path_ + "/images-b";
  auto r = cove("cove-checkpoint", "b", {"-D", img, "--stop"}, 120);
  ASSERT_EQ(r.status, 0) << r.err;
  std::string b_cfg = read_text(path_ + "/b/config");
  b_cfg = std::regex_replace(b_cfg, std::regex("\n([ug]id) = 0 " + b_base + " "), "\n$1 = 0 " + a_base + " ");
  std::ofstream(path_ + "/b/config") << b_cfg;
  ASSERT_EQ(cove("cove-start", "a").status, 0);
  std::vector<std::string> before;
  for (const auto& e : std::filesystem::directory_iterator(img)) before.push_back(e.path().filename());
  r = cove("cove-restore", "b", {"-D", img}, 120);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("overlap"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(path_ + "/a"), std::string::npos) << r.err;
  EXPECT_EQ(state_in(path_, "b"), "STOPPED");
  std::vector<std::string> after;
  for (const auto& e : std::filesystem::directory_iterator(img)) after.push_back(e.path().filename());
  std::sort(before.begin(), before.end());
  std::sort(after.begin(), after.end());
  EXPECT_EQ(before, after);
}

// Every tool that takes -n refuses a name that is not a plain name before doing anything.
TEST_F(IdentityTest, EveryToolRefusesABadNameFirst) {
  const std::string bad = "../../etc/x";
  const std::string why = validate_name(bad).error().message();
  ASSERT_EQ(why, "container name `../../etc/x` must not start with '.' or '-'");
  std::string img = path_ + "/images";
  const std::vector<std::pair<std::string, std::vector<std::string>>> tools = {
      {"cove-attach", {"--", "true"}},
      {"cove-cgroup", {"memory.max"}},
      {"cove-checkpoint", {"-D", img}},
      {"cove-console", {}},
      {"cove-create", {"-t", "busybox"}},
      {"cove-destroy", {"-f"}},
      {"cove-execute", {"--", "true"}},
      {"cove-freeze", {}},
      {"cove-info", {}},
      {"cove-restore", {"-D", img}},
      {"cove-start", {}},
      {"cove-stop", {"-k"}},
      {"cove-unfreeze", {}},
      {"cove-wait", {"-s", "RUNNING", "-t", "1"}},
  };
  for (const auto& [tool, extra] : tools) {
    auto r = cove(tool, bad, extra);
    EXPECT_EQ(r.status, 2) << tool << ": " << r.err;
    EXPECT_EQ(r.err, tool + ": " + why + "\n") << tool;
    EXPECT_EQ(r.out, "") << tool;
  }
  EXPECT_FALSE(std::filesystem::exists(img));
}

// After `kill -9` of the monitor the container is not RUNNING, even while the dead monitor is
// a zombie nobody has reaped yet (this test is its reaper and waits), and a start works at once.
TEST_F(IdentityTest, KilledMonitorIsNotRunningBeforeItIsReaped) {
  create_busybox("k");
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);  // the monitor becomes our child
  struct Reaper {
    ~Reaper() {
      ::prctl(PR_SET_CHILD_SUBREAPER, 0);
      while (::waitpid(-1, nullptr, WNOHANG) > 0) {
      }
    }
  } reaper;
  ASSERT_EQ(cove("cove-start", "k").status, 0);
  pid_t mon = monitor_pid("k");
  ASSERT_GT(mon, 0);
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, mon, 0));
  ASSERT_GE(pidfd, 0);
  ASSERT_EQ(::kill(mon, SIGKILL), 0);
  struct pollfd p = {pidfd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);  // it has exited: a zombie, not reaped
  ::close(pidfd);

  EXPECT_EQ(ls_state(path_, "k"), "STOPPED");
  EXPECT_EQ(trim_str(cove("cove-info", "k", {"-s"}).out), "STOPPED");
  EXPECT_EQ(info_json_field("k", "monitor_died"), "true");
  auto r = cove("cove-start", "k");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(trim_str(cove("cove-info", "k", {"-s"}).out), "RUNNING");
  EXPECT_NE(monitor_pid("k"), mon);
  ::waitpid(mon, nullptr, 0);
  EXPECT_EQ(cove("cove-stop", "k", {"-k"}).status, 0);
}

}  // namespace
}  // namespace cove::test
