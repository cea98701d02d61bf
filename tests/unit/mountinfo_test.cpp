// Unit tests of base/mountinfo and the one \ooo unescaper (fstab(5) and mountinfo).
#include <gtest/gtest.h>

#include "base/mountinfo.hpp"
#include "base/strings.hpp"
#include "support.hpp"

namespace cove {
namespace {

TEST(UnescapeOctal, EscapesOfABytePlainTextAndEdges) {
  EXPECT_EQ(unescape_octal("/a\\040b\\011c\\012d\\134e"), "/a b\tc\nd\\e");
  EXPECT_EQ(unescape_octal("\\040"), " ");
  EXPECT_EQ(unescape_octal("x\\04"), "x\\04");      // too short: kept
  EXPECT_EQ(unescape_octal("\\400\\777"), "\\400\\777");  // more than a byte: kept
  EXPECT_EQ(unescape_octal("\\08a"), "\\08a");      // not octal: kept
  EXPECT_EQ(unescape_octal("tail\\"), "tail\\");
}

TEST(Mountinfo, FieldsOptionalFieldsAndEscapes) {
  auto m = parse_mountinfo(
      "36 35 98:0 /mnt1 /mnt\\0402 rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue\n"
      "\n"
      "22 27 0:21 / /proc rw,relatime - proc proc rw\n");
  ASSERT_OK(m);
  ASSERT_EQ(m->size(), 2u);
  const auto& a = (*m)[0];
  EXPECT_EQ(a.id, 36);
  EXPECT_EQ(a.parent, 35);
  EXPECT_EQ(a.device, "98:0");
  EXPECT_EQ(a.root, "/mnt1");
  EXPECT_EQ(a.mountpoint, "/mnt 2");
  EXPECT_EQ(a.options, "rw,noatime");
  EXPECT_EQ(a.fstype, "ext3");
  EXPECT_EQ(a.source, "/dev/root");
  EXPECT_EQ(a.super_options, "rw,errors=continue");
  EXPECT_EQ((*m)[1].mountpoint, "/proc");
}

TEST(Mountinfo, MalformedLineIsAnErrorNamingIt) {
  EXPECT_ERROR_CONTAINS(parse_mountinfo("22 27 0:21 / /proc rw - proc proc rw\nnot a line\n"), "line 2");
  EXPECT_ERROR_CONTAINS(parse_mountinfo("22 27 0:21 / /proc rw - proc\n"), "line 1");  // no source, no super options
  EXPECT_ERROR_CONTAINS(parse_mountinfo("x 27 0:21 / /proc rw - proc proc rw\n"), "malformed");
  // A "-" among the first six fields is not the separator.
  EXPECT_ERROR_CONTAINS(parse_mountinfo("1 2 - / /p rw\n"), "malformed");
}

}  // namespace
}  // namespace cove
