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

}  // namespace
}  // namespace cove::test
