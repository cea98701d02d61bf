// A second "host" on one machine: the tools read COVE_CONFIG, a host config with a private
// container path, runtime dir, state dir, cache dir and network dir, and work without -P; nothing
// of it appears under the default host's /run/cove. A bad host config fails every tool with
// FILE:LINE before it does anything.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "host_config.hpp"
#include "paths.hpp"
#include "state/container_state.hpp"
#include "support.hpp"

namespace cove::test {
namespace {

bool exists(const std::string& p) { return ::access(p.c_str(), F_OK) == 0; }

bool is_socket(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

// Entries of the default host's runtime dir that name `name` (its plain key or a hashed one).
std::vector<std::string> default_runtime_entries(const std::string& name) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(HostConfig{}.runtime_dir, ec)) {
    std::string fn = e.path().filename().string();
    if (fn == name || fn.rfind(name + "-", 0) == 0 || fn.find("-" + name + "-") != std::string::npos)
      out.push_back(e.path().string());
  }
  return out;
}

class HostConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    COVE_REQUIRE_ROOT();
    std::string tmpl = scratch_dir() + "/cove-it.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    ::chmod(dir_.c_str(), 0711);
    if ((dir_ + "/run").size() > kMaxRuntimeDirLength)
      GTEST_SKIP() << "scratch dir `" << dir_ << "` is too long for a runtime_dir";
    conf_ = dir_ + "/cove.conf";
    write_config(good_config());
  }

  void TearDown() override {
    if (dir_.empty()) return;
    write_config(good_config());  // a test may have broken it
    for (const auto& n : names_) {
      tool("cove-stop", {"-n", n, "-k"}, 30);
      tool("cove-destroy", {"-n", n, "-f"}, 30);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string good_config() const {
    return "# a second host\n[host]\npath = " + path() + "\nruntime_dir = " + run() + "\nstate_dir = " + state() +
           "\ncache_dir = " + dir_ + "/cache\nnetwork_dir = " + dir_ + "/networks\n";
  }
  void write_config(const std::string& text) const { std::ofstream(conf_) << text; }

  // cove-<tool> under this test's host config: no -P. An empty COVE_IDMAP_REGISTRY is unset: the
  // registry is the state_dir's even when the caller points the other tests elsewhere.
  RunResult tool(const std::string& t, const std::vector<std::string>& args, int timeout_s = 60) {
    return run_tool(t, args, timeout_s, {"COVE_CONFIG=" + conf_, "COVE_IDMAP_REGISTRY="});
  }

  std::string path() const { return dir_ + "/containers"; }
  std::string run() const { return dir_ + "/run"; }
  // The container's key under this host (NAME-hash: only /var/lib/cove gives the bare name).
  std::string key(const std::string& name) const { return ContainerPaths(path(), name).key(); }
  std::string state() const { return dir_ + "/state"; }

  std::string dir_, conf_;
  std::vector<std::string> names_;
};

TEST_F(HostConfigTest, ToolsWorkWithoutPUnderThePrivateHost) {
  const std::string name = "hostcfg";
  ASSERT_TRUE(default_runtime_entries(name).empty()) << "left by another run: " << default_runtime_entries(name)[0];
  names_.push_back(name);
  auto r = tool("cove-create", {"-n", name, "-t", "busybox"}, 120);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(exists(path() + "/" + name + "/config"));

  // The id range the create allocated is recorded in the private state dir.
  std::string registry = read_text(state() + "/.idmap-registry");
  EXPECT_NE(registry.find(path() + "/" + name + "/config"), std::string::npos) << registry;

  r = tool("cove-start", {"-n", name});
  ASSERT_EQ(r.status, 0) << r.err;
  // The container's runtime dir is under the private runtime dir.
  EXPECT_TRUE(exists(run() + "/" + key(name) + "/state"));
  EXPECT_TRUE(is_socket(run() + "/" + key(name) + "/command"));
  EXPECT_TRUE(default_runtime_entries(name).empty()) << default_runtime_entries(name)[0];

  r = tool("cove-ls", {});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(name), std::string::npos) << r.out;
  r = tool("cove-info", {"-n", name, "-s"});
  EXPECT_EQ(trim_str(r.out), "RUNNING") << r.err;
  r = tool("cove-attach", {"-n", name, "--", "echo", "inside"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(trim_str(r.out), "inside");

  r = tool("cove-stop", {"-n", name});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(exists(run() + "/" + key(name)));
  r = tool("cove-destroy", {"-n", name});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(exists(path() + "/" + name));
  EXPECT_TRUE(default_runtime_entries(name).empty());
}

// The monitor was handed the config it started under: a changed file does not move it.
TEST_F(HostConfigTest, MonitorKeepsTheConfigItStartedUnder) {
  const std::string name = "hostcfg-keep";
  names_.push_back(name);
  ASSERT_EQ(tool("cove-create", {"-n", name, "-t", "busybox"}, 120).status, 0);
  ASSERT_EQ(tool("cove-start", {"-n", name}).status, 0);
  auto rs = decode_runtime_state(read_text(run() + "/" + key(name) + "/state"));
  ASSERT_TRUE(rs) << rs.error().message();
  ASSERT_GT(rs->init_pid, 0);

  // Another runtime dir in the file now; init ends; the monitor cleans up where it started.
  write_config("[host]\npath = " + path() + "\nruntime_dir = " + dir_ + "/run2\nstate_dir = " + state() + "\n");
  ASSERT_EQ(::kill(rs->init_pid, SIGKILL), 0);
  EXPECT_TRUE(eventually([&] { return !exists(run() + "/" + key(name)); }))
      << "the monitor did not remove its runtime dir " << run() << "/" << name;
  EXPECT_FALSE(exists(dir_ + "/run2/" + name));
  write_config(good_config());
  EXPECT_EQ(trim_str(tool("cove-info", {"-n", name, "-s"}).out), "STOPPED");
}

// Templates find the host's cache and network dirs as COVE_CACHE_DIR and COVE_NETWORK_DIR; an
// explicit environment variable wins.
TEST_F(HostConfigTest, TemplatesGetTheCacheAndNetworkDirs) {
  std::string script = dir_ + "/cove-envdump";
  std::ofstream(script) << "#!/bin/sh\n"
                           "while [ $# -gt 0 ]; do [ \"$1\" = --path ] && path=$2; shift; done\n"
                           "printf '%s\\n%s\\n' \"$COVE_CACHE_DIR\" \"$COVE_NETWORK_DIR\" > \"$path/template-env\"\n";
  ASSERT_EQ(::chmod(script.c_str(), 0755), 0);
  names_.insert(names_.end(), {"hostcfg-t1", "hostcfg-t2"});
  auto r = run_tool("cove-create", {"-n", "hostcfg-t1", "-t", script}, 60,
                    {"COVE_CONFIG=" + conf_, "COVE_IDMAP_REGISTRY=", "COVE_CACHE_DIR=", "COVE_NETWORK_DIR="});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read_text(path() + "/hostcfg-t1/template-env"), dir_ + "/cache\n" + dir_ + "/networks\n");
  r = run_tool("cove-create", {"-n", "hostcfg-t2", "-t", script}, 60,
               {"COVE_CONFIG=" + conf_, "COVE_IDMAP_REGISTRY=", "COVE_CACHE_DIR=/x/cache", "COVE_NETWORK_DIR="});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read_text(path() + "/hostcfg-t2/template-env"), "/x/cache\n" + dir_ + "/networks\n");
}

TEST_F(HostConfigTest, BadHostConfigFailsEveryToolWithFileAndLine) {
  const std::string name = "hostcfg-bad";
  names_.push_back(name);
  write_config("[host]\npath = " + path() + "\n\nruntime_dir = run\nlxcpath = /x\n");
  auto r = tool("cove-ls", {});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("cove-ls: " + conf_ + ":4: key `runtime_dir`: `run` is not an absolute path"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(conf_ + ":5: key `lxcpath`: unknown in [host]"), std::string::npos) << r.err;

  // It changes nothing: no container, no container path.
  r = tool("cove-create", {"-n", name, "-t", "busybox"}, 120);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(conf_ + ":4:"), std::string::npos) << r.err;
  EXPECT_FALSE(exists(path()));

  write_config("[hots]\npath = " + path() + "\n");
  r = tool("cove-ls", {});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(conf_ + ":1: section `[hots]`: unknown (allowed: [host])"), std::string::npos) << r.err;

  // COVE_CONFIG naming a missing file is an error, not the defaults.
  r = run_tool("cove-ls", {}, 60, {"COVE_CONFIG=" + dir_ + "/missing.conf"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("open `" + dir_ + "/missing.conf`: No such file or directory"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace cove::test
