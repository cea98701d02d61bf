// The monitor's environment (monitor/launch.hpp): glibc's malloc cache off for the monitor, the
// caller's GLIBC_TUNABLES kept for what the monitor runs.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "monitor/launch.hpp"

namespace cove::monitor {
namespace {

std::vector<std::string> env_for(std::vector<std::string> in) {
  std::vector<char*> p;
  for (auto& s : in) p.push_back(s.data());
  p.push_back(nullptr);
  return monitor_environment(p.data());
}

TEST(MonitorEnvironment, TurnsTheMallocCacheOffAndKeepsTheRest) {
  auto env = env_for({"PATH=/usr/bin", "HOME=/root"});
  EXPECT_EQ(env, (std::vector<std::string>{"PATH=/usr/bin", "HOME=/root", "GLIBC_TUNABLES=glibc.malloc.tcache_count=0"}));
}

TEST(MonitorEnvironment, TheCallersTunablesComeLastAndTravelForTheMonitorsChildren) {
  auto env = env_for({"GLIBC_TUNABLES=glibc.malloc.tcache_count=3", "PATH=/bin", "COVE_CALLER_GLIBC_TUNABLES=forged"});
  EXPECT_EQ(env, (std::vector<std::string>{"PATH=/bin",
                                           "GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.tcache_count=3",
                                           "COVE_CALLER_GLIBC_TUNABLES=glibc.malloc.tcache_count=3"}));
}

TEST(MonitorEnvironment, RestoreGivesTheCallersValueBackOrNone) {
  ::setenv("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0:x=1", 1);
  ::setenv("COVE_CALLER_GLIBC_TUNABLES", "x=1", 1);
  restore_caller_tunables();
  ASSERT_NE(::getenv("GLIBC_TUNABLES"), nullptr);
  EXPECT_STREQ(::getenv("GLIBC_TUNABLES"), "x=1");
  EXPECT_EQ(::getenv("COVE_CALLER_GLIBC_TUNABLES"), nullptr);
  ::setenv("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0", 1);
  restore_caller_tunables();
  EXPECT_EQ(::getenv("GLIBC_TUNABLES"), nullptr);
}

}  // namespace
}  // namespace cove::monitor
