#include "base/signals.hpp"
#include "base/strings.hpp"
#include "support.hpp"

#include <csignal>

namespace cove {
namespace {

TEST(Strings, SplitAndTrim) {
  EXPECT_EQ(split_ws("  a  b\tc \n"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(split("a::b", ':'), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(trim("  x y  "), "x y");
}

TEST(Strings, LinesAndWordsWithoutCopies) {
  std::string text = "uid 1 2 /a\n\ngid  3\t4 /b c\nlast";
  auto lines = lines_of(text);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "uid 1 2 /a");
  EXPECT_EQ(lines[1], "");
  EXPECT_EQ(lines[3], "last");
  EXPECT_EQ(lines[0].data(), text.data());  // a view into the text
  EXPECT_EQ(lines_of("one\n").size(), 1u);
  EXPECT_TRUE(lines_of("").empty());
  std::string_view rest = lines[2];
  EXPECT_EQ(take_word(rest), "gid");
  EXPECT_EQ(take_word(rest), "3");
  EXPECT_EQ(take_word(rest), "4");
  EXPECT_EQ(take_word(rest), "/b");
  EXPECT_EQ(take_word(rest), "c");
  EXPECT_EQ(take_word(rest), "");
  EXPECT_EQ(take_word(rest), "");
}

TEST(Strings, StrictIntegers) {
  EXPECT_EQ(parse_int("-12"), -12);
  EXPECT_EQ(parse_int("12x"), std::nullopt);
  EXPECT_EQ(parse_uint("-1"), std::nullopt);
  EXPECT_EQ(parse_uint("99999999999999999999999"), std::nullopt);
  EXPECT_EQ(parse_uint(""), std::nullopt);
}

TEST(Strings, Sizes) {
  EXPECT_EQ(parse_size("512"), 512u);
  EXPECT_EQ(parse_size("64K"), 65536u);
  EXPECT_EQ(parse_size("1MiB"), 1048576u);
  EXPECT_EQ(parse_size("2G"), 2ULL << 30);
  EXPECT_EQ(parse_size("1X"), std::nullopt);
  EXPECT_EQ(parse_size("G"), std::nullopt);
  EXPECT_EQ(parse_size("99999999999T"), std::nullopt);
}

TEST(Strings, Bools) {
  EXPECT_EQ(parse_bool("yes"), true);
  EXPECT_EQ(parse_bool("0"), false);
  EXPECT_EQ(parse_bool("maybe"), std::nullopt);
}

TEST(Signals, NamesAndNumbers) {
  EXPECT_EQ(parse_signal("SIGPWR"), SIGPWR);
  EXPECT_EQ(parse_signal("PWR"), SIGPWR);
  EXPECT_EQ(parse_signal("15"), SIGTERM);
  EXPECT_EQ(parse_signal("SIGRTMIN+3"), SIGRTMIN + 3);
  EXPECT_EQ(parse_signal("SIGNOPE"), std::nullopt);
  EXPECT_EQ(parse_signal("0"), std::nullopt);
  EXPECT_EQ(signal_name(SIGKILL), "SIGKILL");
  EXPECT_EQ(signal_name(SIGRTMIN + 3), "SIGRTMIN+3");
}

}  // namespace
}  // namespace cove

namespace cove {
namespace {
TEST(Printable, ControlBytesAndBackslashAreEscaped) {
  EXPECT_EQ(printable("init"), "init");
  EXPECT_EQ(printable("\x1b]2;pwn\x07"), "\\x1b]2;pwn\\x07");
  EXPECT_EQ(printable("a\\b\x7f\n"), "a\\x5cb\\x7f\\x0a");
  EXPECT_EQ(printable("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 stays
}
}  // namespace
}  // namespace cove
