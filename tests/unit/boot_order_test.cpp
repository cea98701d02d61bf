#include "lifecycle/boot_order.hpp"

#include <algorithm>
#include <random>

#include "support.hpp"

namespace cove::lifecycle {
namespace {

using Names = std::vector<std::string>;

std::vector<Names> names_of(const BootPlan& p) {
  std::vector<Names> out;
  for (const auto& s : p.steps) out.push_back(s.names);
  return out;
}

// Lower orders first; the same order in one step, its delay the longest of them.
TEST(BootOrder, OrdersAscendWithTheLongestDelayOfAStep) {
  auto p = plan_boot({{"web", 10, 0, {}}, {"db", 0, 5, {}}, {"cache", 0, 2, {}}, {"mail", -3, 0, {}}, {"www", 10, 1, {}}});
  EXPECT_EQ(names_of(p), (std::vector<Names>{{"mail"}, {"cache", "db"}, {"web", "www"}}));
  ASSERT_EQ(p.steps.size(), 3u);
  EXPECT_EQ(p.steps[0].order, -3);
  EXPECT_EQ(p.steps[1].delay_s, 5u);
  EXPECT_EQ(p.steps[2].delay_s, 1u);
  EXPECT_TRUE(p.refused.empty());
}

// A container that shares another's namespace starts a step after it, its order raised to the
// other's when that one is later; a share of a container not in the plan orders nothing.
TEST(BootOrder, ASharerStartsAfterTheContainerItSharesWith) {
  auto p = plan_boot({{"app", 0, 0, {"router"}}, {"router", 5, 0, {}}, {"side", 5, 0, {"app"}}, {"lone", 0, 0, {"elsewhere"}},
                      {"peer", 5, 0, {}}});
  EXPECT_EQ(names_of(p), (std::vector<Names>{{"lone"}, {"peer", "router"}, {"app"}, {"side"}}));
  EXPECT_EQ(p.steps[2].order, 5);
  // Same order: one step deeper per share.
  p = plan_boot({{"a", 1, 0, {}}, {"b", 1, 0, {"a"}}, {"c", 1, 0, {"a", "b"}}, {"d", 1, 0, {}}});
  EXPECT_EQ(names_of(p), (std::vector<Names>{{"a", "d"}, {"b"}, {"c"}}));
  // A share of an earlier order does not hold a later container back.
  p = plan_boot({{"a", 0, 0, {}}, {"b", 9, 0, {"a"}}, {"c", 9, 0, {}}});
  EXPECT_EQ(names_of(p), (std::vector<Names>{{"a"}, {"b", "c"}}));
}

// Shares in a cycle can never start: every member is left out with the cycle named, and so is
// whatever shares with one of them; the rest of the plan is unchanged.
TEST(BootOrder, ACycleOfSharesIsLeftOutAndNamed) {
  auto p = plan_boot({{"x", 0, 0, {"y"}}, {"y", 0, 0, {"z"}}, {"z", 0, 0, {"x"}}, {"w", 0, 0, {"y"}}, {"ok", 0, 0, {}},
                      {"self", 0, 0, {"self"}}});
  EXPECT_EQ(names_of(p), (std::vector<Names>{{"ok"}}));
  std::map<std::string, std::string> why(p.refused.begin(), p.refused.end());
  ASSERT_EQ(why.size(), 5u) << ::testing::PrintToString(p.refused);
  for (const char* n : {"x", "y", "z"})
    EXPECT_NE(why[n].find("the containers share namespaces in a cycle: `x` → `y` → `z` → `x`"), std::string::npos)
        << n << ": " << why[n];
  EXPECT_EQ(why["w"], "it shares a namespace of `y`, which is left out");
  EXPECT_EQ(why["self"], "the containers share namespaces in a cycle: `self` → `self`");
}

// The plan depends on the entries, not on the order the directory listed them in.
TEST(BootOrder, TheSamePlanForAnyListingOrder) {
  std::vector<BootEntry> entries = {{"a", 2, 0, {"c"}}, {"b", 0, 1, {}}, {"c", 1, 0, {}}, {"d", 1, 3, {"b"}},
                                    {"e", 0, 0, {}},    {"f", 2, 0, {"a", "e"}}};
  auto want = names_of(plan_boot(entries));
  EXPECT_EQ(want, (std::vector<Names>{{"b", "e"}, {"c", "d"}, {"a"}, {"f"}}));
  std::mt19937 rng(7);
  for (int i = 0; i < 20; ++i) {
    std::shuffle(entries.begin(), entries.end(), rng);
    EXPECT_EQ(names_of(plan_boot(entries)), want);
  }
}

}  // namespace
}  // namespace cove::lifecycle
