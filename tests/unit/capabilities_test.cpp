// Capability sets computed from keep/drop lists, and their printed form.
#include "security/capabilities.hpp"
#include "support.hpp"

namespace cove::security {
namespace {

TEST(Capabilities, DropFromAll) {
  uint64_t b = compute_bounding({}, {16, 17}, 40);
  EXPECT_EQ(b, ((1ULL << 41) - 1) & ~((1ULL << 16) | (1ULL << 17)));
}

TEST(Capabilities, KeepThenDrop) {
  EXPECT_EQ(compute_bounding({0, 5, 21}, {21}, 40), (1ULL << 0) | (1ULL << 5));
  // Numbers beyond the kernel's last capability are ignored.
  EXPECT_EQ(compute_bounding({0, 45}, {}, 40), 1ULL);
}

TEST(Capabilities, Describe) {
  EXPECT_EQ(describe_caps((1ULL << 0) | (1ULL << 21), 40), "chown sys_admin");
  EXPECT_EQ(describe_caps(0, 40), "(none)");
}

TEST(Capabilities, KernelLastCapIsSane) {
  int last = kernel_last_cap();
  EXPECT_GE(last, 37);
  EXPECT_LT(last, 64);
}

}  // namespace
}  // namespace cove::security
