// Numbers in config values are decimal (issue 10): `cpus = 0x10` is an error, not 16; `-1` means
// `max` for the limit keys (as LXC users write it) and the key table, which generates
// cove.conf(5), says so.
#include <gtest/gtest.h>

#include <string>

#include "config/key_table.hpp"
#include "config/load.hpp"
#include "support.hpp"

namespace cove::config {
namespace {

const LoadOptions kOpts{"web", "/var/lib/cove/web/rootfs", false};

Result<cgroup::ResourceLimits> limits_of(const std::string& cgroup_section) {
  auto c = load_config_string("[cgroup]\n" + cgroup_section, "t.conf", kOpts);
  if (!c) return std::move(c).error();
  return c->cgroup.limits;
}

TEST(ConfigNumbers, CpusIsDecimalOnly) {
  for (const char* bad : {"0x10", "0X2", "0x1p4", "1e1", "inf", "nan", "+2", "2.", ".5", "1,5"}) {
    auto l = limits_of(std::string("cpus = ") + bad + "\n");
    EXPECT_FALSE(l.has_value()) << "`cpus = " << bad << "` was accepted";
    if (!l) {
      EXPECT_NE(l.error().message().find("is not a CPU count"), std::string::npos) << l.error().message();
    }
  }
  auto l = limits_of("cpus = 16\n");
  ASSERT_OK(l);
  EXPECT_EQ(l->cpu_max, (cgroup::CpuMax{1600000, 100000}));
  l = limits_of("cpus = 0.25\n");
  ASSERT_OK(l);
  EXPECT_EQ(l->cpu_max, (cgroup::CpuMax{25000, 100000}));
  l = limits_of("cpus = 010\n");  // decimal ten, not octal eight
  ASSERT_OK(l);
  EXPECT_EQ(l->cpu_max, (cgroup::CpuMax{1000000, 100000}));
}

TEST(ConfigNumbers, OtherNumericKeysRefuseHex) {
  for (const char* line : {"memory.max = 0x10\n", "pids.max = 0x10\n", "cpu.weight = 0x10\n", "cpu.max = 0x1000\n",
                           "hugetlb.2MB.max = 0x10\n", "io.max = 8:0 rbps=0x10\n"})
    EXPECT_FALSE(limits_of(line).has_value()) << line;
}

TEST(ConfigNumbers, MinusOneIsMaxAndDocumented) {
  auto l = limits_of("memory.max = -1\nmemory.swap.max = -1\npids.max = -1\nhugetlb.2MB.max = -1\n"
                     "io.max = 8:0 rbps=-1\n");
  ASSERT_OK(l);
  ASSERT_TRUE(l->memory_max.has_value());
  EXPECT_FALSE(l->memory_max->has_value());
  ASSERT_TRUE(l->pids_max.has_value());
  EXPECT_FALSE(l->pids_max->has_value());
  ASSERT_EQ(l->hugetlb_max.size(), 1u);
  EXPECT_FALSE(l->hugetlb_max[0].max.has_value());
  // Other negative numbers stay errors.
  EXPECT_FALSE(limits_of("memory.max = -2\n").has_value());
  EXPECT_FALSE(limits_of("pids.max = -10\n").has_value());
  for (const char* key : {"memory.max", "memory.high", "memory.swap.max", "pids.max", "hugetlb.2MB.max",
                          "hugetlb.1GB.max", "io.max"}) {
    const KeySpec* k = find_key("cgroup", key);
    ASSERT_NE(k, nullptr) << key;
    EXPECT_NE(k->allowed.find("`-1`"), std::string_view::npos) << key << ": " << k->allowed;
  }
}

}  // namespace
}  // namespace cove::config
