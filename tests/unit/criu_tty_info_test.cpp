// criu/tty_info: the console's session patch on tty-info images written by hand in CRIU's
// encoding (magics, length-prefixed tty_info_entry messages).
#include <fstream>
#include <sstream>

#include "criu/tty_info.hpp"
#include "criu_wire_support.hpp"
#include "support.hpp"

namespace cove::criu {
namespace {

using namespace cove::test::criu_wire;

constexpr uint32_t kTtyInfoMagic = 0x59433025;  // TTY_INFO_MAGIC (criu/include/magic.h)

std::string entry(const std::string& body) { return le32(uint32_t(body.size())) + body; }
std::string header() { return le32(0x54564319) + le32(kTtyInfoMagic); }

// A tty_info_entry as CRIU writes a pty's: id, type, locked, exclaves, packet_mode, sid, pgrp,
// rdev, then termios and pty as nested messages.
std::string tty(uint32_t id, uint64_t type, uint64_t rdev, uint64_t sid, uint64_t pgrp) {
  return entry(field(1, id) + field(2, type) + field(3, 0) + field(4, 0) + field(5, 0) + field(6, sid) + field(7, pgrp) +
               field(8, rdev) + nested(9, field(1, 0x500) + field(2, 0x5) + field(3, 0xbf)) + nested(12, field(1, id)));
}

constexpr uint64_t kPts0 = (136u << 8) | 0;
constexpr uint64_t kPts3 = (136u << 8) | 3;

TEST(CriuTtyInfo, PtsRdevIsWhatCriuRecords) {
  EXPECT_EQ(pts_rdev(0), 0x8800u);
  EXPECT_EQ(pts_rdev(3), 0x8803u);
}

TEST(CriuTtyInfo, GivesTheConsoleWithoutASessionInitsSession) {
  std::string b = header() + tty(1, kTtyTypePty, kPts3, 0, 0) + tty(2, kTtyTypePty, kPts0, 0, 0);
  std::string want = header() + tty(1, kTtyTypePty, kPts3, 0, 0) + tty(2, kTtyTypePty, kPts0, 1, 1);
  EXPECT_TRUE(give_console_a_session(b, 0));
  EXPECT_EQ(b, want);  // in place: only the two varints changed
}

TEST(CriuTtyInfo, LeavesAConsoleWithASessionAndOtherTtysAlone) {
  std::string b = header() + tty(1, kTtyTypePty, kPts0, 7, 7) +  // has a session
                  tty(2, 2, kPts0, 0, 0) +                          // not a pty (console type)
                  tty(3, kTtyTypePty, kPts3, 0, 0);                 // another pts
  std::string before = b;
  EXPECT_FALSE(give_console_a_session(b, 0));
  EXPECT_EQ(b, before);
}

TEST(CriuTtyInfo, StopsAtADamagedEntryKeepingWhatCameBefore) {
  std::string good = tty(1, kTtyTypePty, kPts0, 0, 0);
  std::string b = header() + good + le32(1000) + "short";
  EXPECT_TRUE(give_console_a_session(b, 0));
  EXPECT_EQ(b, header() + tty(1, kTtyTypePty, kPts0, 1, 1) + le32(1000) + "short");
  std::string truncated = header() + good.substr(0, good.size() - 3);
  std::string before = truncated;
  EXPECT_FALSE(give_console_a_session(truncated, 0));
  EXPECT_EQ(truncated, before);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(CriuTtyInfo, FixesTheImageFileInItsDirectory) {
  test::TempDir dir;
  std::ofstream(dir.file("tty-info.img"), std::ios::binary) << header() + tty(1, kTtyTypePty, kPts0, 0, 0);
  ASSERT_OK(fix_console_session(dir.path(), 0));
  EXPECT_EQ(slurp(dir.file("tty-info.img")), header() + tty(1, kTtyTypePty, kPts0, 1, 1));
  ASSERT_OK(fix_console_session(dir.path(), 0));  // nothing left to change
  EXPECT_EQ(slurp(dir.file("tty-info.img")), header() + tty(1, kTtyTypePty, kPts0, 1, 1));
  EXPECT_ERROR_CONTAINS(fix_console_session(dir.path() + "/none", 0), "tty-info.img");
}

}  // namespace
}  // namespace cove::criu
