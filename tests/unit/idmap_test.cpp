#include "ns/idmap.hpp"
#include "support.hpp"

namespace cove::ns {
namespace {

TEST(IdMap, FormatAndLookup) {
  std::vector<IdMapEntry> m = {{0, 1000000, 65536}, {65536, 2000000, 10}};
  EXPECT_EQ(format_idmap(m), "0 1000000 65536\n65536 2000000 10\n");
  EXPECT_EQ(host_id_of(m, 0), 1000000u);
  EXPECT_EQ(host_id_of(m, 65535), 1065535u);
  EXPECT_EQ(host_id_of(m, 65537), 2000001u);
  EXPECT_EQ(host_id_of(m, 70000), std::nullopt);
}

TEST(IdMap, ParseSubid) {
  auto r = parse_subid("alice:100000:65536\nbad line\nbob:165536:65536\nzero:1:0\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].first, 165536u);
  EXPECT_EQ(r[1].count, 65536u);
}

TEST(IdMap, ScanConfigRanges) {
  std::string text =
      "[container]\nuid = 5 5 5\n[idmap]\n# comment\nuid = 0 1065536 65536\ngid = 0 1065536 65536\n"
      "uid = 65536 3000000 1\n";
  auto r = scan_config_ranges(text, "uid");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].first, 1065536u);
  EXPECT_EQ(r[1].first, 3000000u);
}

TEST(IdMap, AllocationSkipsUsedRanges) {
  EXPECT_EQ(*allocate_range({}), kPoolFirst);
  // First range taken -> the next aligned one.
  std::vector<HostRange> used = {{kPoolFirst, kRangeSize}};
  auto a = allocate_range(used);
  ASSERT_OK(a);
  EXPECT_GE(*a, kPoolFirst + kRangeSize);
  // A subuid range straddling the pool start is avoided too.
  used = {{kPoolFirst - 10, 20}, {kPoolFirst + 2 * kRangeSize, 5}};
  a = allocate_range(used);
  ASSERT_OK(a);
  for (const auto& u : used) EXPECT_TRUE(*a >= u.first + u.count || *a + kRangeSize <= u.first) << *a;
}

TEST(IdMap, AllocationFailsWhenPoolIsFull) {
  std::vector<HostRange> used = {{0, 1ULL << 32}};
  EXPECT_ERROR_CONTAINS(allocate_range(used), "no free host id range");
}

}  // namespace
}  // namespace cove::ns
