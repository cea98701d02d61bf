// Pure parts of networking: rate text (base/strings), the htb parameters derived from a rate
// (network/traffic) and interface-name rules (network/link).
#include "base/strings.hpp"
#include "network/link.hpp"
#include "network/traffic.hpp"
#include "support.hpp"

namespace cove {
namespace {

TEST(NetworkRate, ParsesTcStyleRates) {
  EXPECT_EQ(parse_rate("100mbit"), 100000000u);
  EXPECT_EQ(parse_rate("1gbit"), 1000000000u);
  EXPECT_EQ(parse_rate("512kbit"), 512000u);
  EXPECT_EQ(parse_rate("10mbps"), 80000000u);  // bytes per second
  EXPECT_EQ(parse_rate("3kbps"), 24000u);
  EXPECT_EQ(parse_rate("2gbps"), 16000000000u);
  EXPECT_EQ(parse_rate("1500"), 1500u);
  EXPECT_EQ(parse_rate("1500bit"), 1500u);
  EXPECT_EQ(parse_rate(" 20Mbit "), 20000000u);
  EXPECT_EQ(parse_rate("40GBIT"), 40000000000u);
}

TEST(NetworkRate, RejectsMalformedZeroAndOverflowingRates) {
  for (const char* bad : {"", "mbit", "0", "0mbit", "-5mbit", "5 mbit", "5mb", "5mbits", "5xbit", "0x10mbit",
                          "18446744073709551615kbit", "99999999999999999999", "3000000000gbps"})
    EXPECT_EQ(parse_rate(bad), std::nullopt) << "`" << bad << "`";
  EXPECT_EQ(parse_rate("18446744073709551615"), UINT64_MAX);
}

TEST(NetworkRate, FormatsWithTheLargestExactUnit) {
  EXPECT_EQ(format_rate(100000000), "100mbit");
  EXPECT_EQ(format_rate(1000000000), "1gbit");
  EXPECT_EQ(format_rate(40000000000), "40gbit");
  EXPECT_EQ(format_rate(1500000), "1500kbit");
  EXPECT_EQ(format_rate(1000), "1kbit");
  EXPECT_EQ(format_rate(123), "123bit");
  EXPECT_EQ(format_rate(1000001), "1000001bit");
  EXPECT_EQ(format_rate(0), "0bit");
}

TEST(NetworkRate, FormatIsParseRatesInverse) {
  for (uint64_t rate : std::vector<uint64_t>{1, 999, 1000, 8000, 1500000, 20000000, 123456789, 10000000000,
                                             UINT64_MAX, UINT64_MAX / 1000 * 1000})
    EXPECT_EQ(parse_rate(format_rate(rate)), rate) << format_rate(rate);
}

TEST(NetworkRate, HtbParamsFromARate) {
  auto p = network::htb_params(20000000);  // 20mbit = 2.5 MB/s
  ASSERT_OK(p);
  EXPECT_EQ(p->rate_bytes, 2500000u);
  EXPECT_EQ(p->burst, 25000u);     // 10 ms at the rate
  EXPECT_EQ(p->quantum, 200000u);  // rate/10 = 250000, capped at the kernel's limit

  p = network::htb_params(1000);  // the smallest: 125 B/s
  ASSERT_OK(p);
  EXPECT_EQ(p->rate_bytes, 125u);
  EXPECT_EQ(p->burst, 4096u);
  EXPECT_EQ(p->quantum, 1600u);

  p = network::htb_params(100000000000ULL);  // 100gbit: above 32 bits of bytes per second
  ASSERT_OK(p);
  EXPECT_EQ(p->rate_bytes, 12500000000u);
  EXPECT_EQ(p->burst, 125000000u);

  p = network::htb_params(UINT64_MAX);
  ASSERT_OK(p);
  EXPECT_EQ(p->burst, 1u << 30);  // capped: the kernel takes a 32-bit buffer

  EXPECT_ERROR_CONTAINS(network::htb_params(999), "rate `999bit`: below the smallest rate 1kbit");
  EXPECT_ERROR_CONTAINS(network::htb_params(0), "below the smallest rate");
}

TEST(NetworkLinkName, KernelRules) {
  for (const char* good : {"eth0", "a", "veth-ab12.3_x", "123456789012345", "br@0"}) EXPECT_OK(network::check_ifname(good));
  EXPECT_ERROR_CONTAINS(network::check_ifname(""), "empty interface name");
  EXPECT_ERROR_CONTAINS(network::check_ifname("1234567890123456"), "`1234567890123456`: longer than 15 bytes");
  EXPECT_ERROR_CONTAINS(network::check_ifname("."), "not allowed");
  EXPECT_ERROR_CONTAINS(network::check_ifname(".."), "not allowed");
  for (const char* bad : {"a/b", "a:b", "a b", "a\tb", "a\nb", "\x7f"})
    EXPECT_ERROR_CONTAINS(network::check_ifname(bad), "no `/`, `:`, whitespace or control characters");
}

}  // namespace
}  // namespace cove
