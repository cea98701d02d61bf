// The host config file (/etc/cove/cove.conf, or $COVE_CONFIG): defaults, each key, and the
// FILE:LINE errors of bad input.
#include <stdlib.h>

#include <fstream>

#include "host_config.hpp"
#include "paths.hpp"
#include "support.hpp"

namespace cove::test {
namespace {

const HostConfig kDefaults;

void write(const std::string& file, const std::string& text) { std::ofstream(file) << text; }

// Sets an environment variable for one test.
class EnvVar {
 public:
  EnvVar(const char* name, const std::string& value) : name_(name) {
    if (const char* old = ::getenv(name)) old_ = old, had_ = true;
    ::setenv(name, value.c_str(), 1);
  }
  ~EnvVar() { had_ ? (void)::setenv(name_, old_.c_str(), 1) : (void)::unsetenv(name_); }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

TEST(HostConfig, DefaultsAreTodaysPaths) {
  EXPECT_EQ(kDefaults.path, "/var/lib/cove");
  EXPECT_EQ(kDefaults.runtime_dir, "/run/cove");
  EXPECT_EQ(kDefaults.state_dir, "/var/lib/cove");
  EXPECT_EQ(kDefaults.cache_dir, "/var/cache/cove");
  EXPECT_EQ(kDefaults.network_dir, "/etc/cove/networks");
  EXPECT_EQ(kDefaults.source, "");
  // Never initialised (as in these tests): the defaults.
  EXPECT_EQ(host_config().path, "/var/lib/cove");
  EXPECT_EQ(ContainerPaths("/var/lib/cove", "web").runtime_dir(), "/run/cove/web");
}

TEST(HostConfig, EmptyFileIsTheDefaults) {
  auto c = parse_host_config("# nothing\n[host]\n", "/etc/cove/cove.conf");
  ASSERT_OK(c);
  EXPECT_EQ(c->path, kDefaults.path);
  EXPECT_EQ(c->runtime_dir, kDefaults.runtime_dir);
  EXPECT_EQ(c->source, "/etc/cove/cove.conf");
}

TEST(HostConfig, EachKeySetsItsDirectory) {
  auto c = parse_host_config(
      "[host]\n"
      "path = /srv/h2/containers\n"
      "runtime_dir = /run/cove-h2/\n"
      "state_dir = /srv/h2/state\n"
      "cache_dir = /srv/h2/cache\n"
      "network_dir = /srv/h2/networks\n",
      "h2.conf");
  ASSERT_OK(c);
  EXPECT_EQ(c->path, "/srv/h2/containers");
  EXPECT_EQ(c->runtime_dir, "/run/cove-h2");  // trailing slash dropped
  EXPECT_EQ(c->state_dir, "/srv/h2/state");
  EXPECT_EQ(c->cache_dir, "/srv/h2/cache");
  EXPECT_EQ(c->network_dir, "/srv/h2/networks");
  auto keys = host_keys(*c);
  ASSERT_EQ(keys.size(), 5u);
  EXPECT_EQ(keys[0], (std::pair<std::string, std::string>{"path", "/srv/h2/containers"}));
}

TEST(HostConfig, KeysNotGivenKeepTheirDefaults) {
  auto c = parse_host_config("[host]\nruntime_dir = /run/h2\n", "h2.conf");
  ASSERT_OK(c);
  EXPECT_EQ(c->runtime_dir, "/run/h2");
  EXPECT_EQ(c->path, kDefaults.path);
  EXPECT_EQ(c->state_dir, kDefaults.state_dir);
  EXPECT_EQ(c->cache_dir, kDefaults.cache_dir);
  EXPECT_EQ(c->network_dir, kDefaults.network_dir);
}

TEST(HostConfig, UnknownKeyIsAnErrorWithFileAndLine) {
  EXPECT_ERROR_CONTAINS(parse_host_config("[host]\npath = /srv\nlxcpath = /srv\n", "/etc/cove/cove.conf"),
                        "/etc/cove/cove.conf:3: key `lxcpath`: unknown in [host] (allowed: path, runtime_dir, "
                        "state_dir, cache_dir, network_dir)");
}

TEST(HostConfig, UnknownSectionIsAnErrorWithFileAndLine) {
  EXPECT_ERROR_CONTAINS(parse_host_config("[host]\n\n[container]\npath = /srv\n", "c.conf"),
                        "c.conf:3: section `[container]`: unknown (allowed: [host])");
  EXPECT_ERROR_CONTAINS(parse_host_config("path = /srv\n", "c.conf"),
                        "c.conf:1: key `path`: outside any section (allowed: under [host])");
}

TEST(HostConfig, RelativeAndEmptyPathsAreRefused) {
  EXPECT_ERROR_CONTAINS(parse_host_config("[host]\nstate_dir = var/lib/cove\n", "c.conf"),
                        "c.conf:2: key `state_dir`: `var/lib/cove` is not an absolute path (allowed: an absolute path)");
  EXPECT_ERROR_CONTAINS(parse_host_config("[host]\ncache_dir =\n", "c.conf"),
                        "c.conf:2: key `cache_dir`: empty (allowed: an absolute path)");
}

TEST(HostConfig, RuntimeDirMustLeaveRoomForTheCommandSocket) {
  std::string longest = "/" + std::string(kMaxRuntimeDirLength - 1, 'r');
  EXPECT_OK(parse_host_config("[host]\nruntime_dir = " + longest + "\n", "c.conf"));
  EXPECT_ERROR_CONTAINS(parse_host_config("[host]\nruntime_dir = " + longest + "x\n", "c.conf"),
                        "c.conf:2: key `runtime_dir`: `" + longest + "x` is longer than 34 characters");
}

TEST(HostConfig, EveryErrorIsReported) {
  auto c = parse_host_config("[host]\nfoo = 1\npath = rel\n[bar]\n", "c.conf");
  ASSERT_FALSE(c);
  const std::string& m = c.error().message();
  EXPECT_NE(m.find("c.conf:2:"), std::string::npos) << m;
  EXPECT_NE(m.find("c.conf:3:"), std::string::npos) << m;
  EXPECT_NE(m.find("c.conf:4:"), std::string::npos) << m;
}

TEST(HostConfig, SetHostKeyChecksLikeTheFile) {
  HostConfig c;
  EXPECT_OK(set_host_key(c, "path", "/srv/x/"));
  EXPECT_EQ(c.path, "/srv/x");
  EXPECT_ERROR_CONTAINS(set_host_key(c, "nope", "/x"), "key `nope`: unknown in [host]");
  EXPECT_ERROR_CONTAINS(set_host_key(c, "path", "x"), "key `path`: `x` is not an absolute path");
}

TEST(HostConfig, LoadReadsTheFileAndItsIncludes) {
  TempDir d;
  write(d.file("cove.conf"), "[host]\npath = /srv/a\ninclude = more.conf\n");
  write(d.file("more.conf"), "[host]\nstate_dir = /srv/state\n");
  auto c = load_host_config(d.file("cove.conf"), true);
  ASSERT_OK(c);
  EXPECT_EQ(c->path, "/srv/a");
  EXPECT_EQ(c->state_dir, "/srv/state");
  EXPECT_EQ(c->source, d.file("cove.conf"));
}

TEST(HostConfig, MissingFileIsTheDefaultsOnlyWhereItMayBeAbsent) {
  TempDir d;
  auto absent = load_host_config(d.file("cove.conf"), /*must_exist=*/false);
  ASSERT_OK(absent);
  EXPECT_EQ(absent->path, kDefaults.path);
  EXPECT_EQ(absent->source, "");
  EXPECT_ERROR_CONTAINS(load_host_config(d.file("cove.conf"), /*must_exist=*/true),
                        "host config: open `" + d.file("cove.conf") + "`: No such file or directory");
}

TEST(HostConfig, CoveConfigNamingAMissingFileIsAnError) {
  TempDir d;
  EnvVar env(kHostConfigEnv, d.file("missing.conf"));
  EXPECT_ERROR_CONTAINS(load_selected_host_config(), "open `" + d.file("missing.conf") + "`");
}

TEST(HostConfig, CoveConfigSelectsTheFile) {
  TempDir d;
  write(d.file("h2.conf"), "[host]\nruntime_dir = /run/h2\n");
  EnvVar env(kHostConfigEnv, d.file("h2.conf"));
  auto c = load_selected_host_config();
  ASSERT_OK(c);
  EXPECT_EQ(c->runtime_dir, "/run/h2");
  EXPECT_EQ(c->source, d.file("h2.conf"));
}

TEST(HostConfig, CoveConfigWithBadInputIsAnError) {
  TempDir d;
  write(d.file("h2.conf"), "[host]\n\nruntime_dir = run\n");
  EnvVar env(kHostConfigEnv, d.file("h2.conf"));
  EXPECT_ERROR_CONTAINS(load_selected_host_config(), d.file("h2.conf") + ":3: key `runtime_dir`: `run` is not");
}

}  // namespace
}  // namespace cove::test
