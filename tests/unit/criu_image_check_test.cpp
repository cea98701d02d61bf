// criu/image_check: pagemaps and page images of synthetic image directories, written in
// CRIU's encoding (magics, length-prefixed protobuf entries), checked before any CRIU runs.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "criu_wire_support.hpp"
#include "criu/image_check.hpp"
#include "support.hpp"

namespace cove::criu {
namespace {

constexpr uint64_t kPage = 4096;

using namespace cove::test::criu_wire;

std::string entry(const std::string& body) { return le32(uint32_t(body.size())) + body; }

struct Run {
  uint64_t vaddr;
  uint32_t nr_pages;
  int flags;            // -1: no flags field (images older than the flags)
  bool in_parent = false;
  bool compat = false;  // nr_pages in `compat_nr_pages` only (images older than CRIU 4)
};

void write(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }
void write_pages(const std::string& path, uint64_t pages) { write(path, std::string(pages * kPage, 'x')); }

// As CRIU 4 writes them: compat_nr_pages = 0 and nr_pages (field 5) after the flags.
std::string pagemap(uint32_t pages_id, const std::vector<Run>& runs) {
  std::string b = le32(0x54564319) + le32(kPagemapMagic) + entry(field(1, pages_id));
  for (const auto& r : runs) {
    std::string e = field(1, r.vaddr) + field(2, r.compat ? r.nr_pages : 0);
    if (r.in_parent) e += field(3, 1);
    if (r.flags >= 0) e += field(4, uint32_t(r.flags));
    if (!r.compat) e += field(5, r.nr_pages);
    b += entry(e);
  }
  return b;
}

TEST(CriuImageCheck, CountsOnlyPagesStoredInThePagesFile) {
  auto s = parse_pagemap(pagemap(7, {{0x400000, 3, kPagePresent},
                                     {0x500000, 5, kPageParent},
                                     {0x600000, 2, kPageLazy},                 // lazy, not in the file
                                     {0x700000, 4, kPageLazy | kPagePresent},  // lazy, dumped
                                     {0x800000, 1, -1, false, true},           // old image: present
                                     {0x900000, 6, -1, true, true},            // old image: parent
                                     {0xa00000, 2, kPagePresent, false, true}}));
  ASSERT_OK(s);
  EXPECT_EQ(s->pages_id, 7u);
  EXPECT_EQ(s->entries, 7u);
  EXPECT_EQ(s->present_pages, 3u + 4u + 1u + 2u);
  EXPECT_TRUE(s->verifiable);
}

// The bytes of a real pagemap entry of CRIU 4.2.1 (a busybox init): vaddr 0x400000,
// compat_nr_pages 0, flags PE_PRESENT, nr_pages 1.
TEST(CriuImageCheck, ReadsCriu4Entries) {
  std::string e = std::string("\x08\x80\x80\x80\x02\x10\x00\x20\x04\x28\x01", 11);
  auto s = parse_pagemap(le32(0x54564319) + le32(kPagemapMagic) + entry(field(1, 1)) + entry(e));
  ASSERT_OK(s);
  EXPECT_EQ(s->present_pages, 1u);
}

// A later format's entry (e.g. compressed pages, with sizes the file then holds instead) is not
// judged by this check's arithmetic.
TEST(CriuImageCheck, EntriesOfALaterFormatAreNotJudged) {
  std::string b = le32(0x54564319) + le32(kPagemapMagic) + entry(field(1, 1)) +
                  entry(field(1, 0x400000) + field(2, 0) + field(4, kPagePresent) + field(5, 8) + field(9, 1234));
  auto s = parse_pagemap(b);
  ASSERT_OK(s);
  EXPECT_FALSE(s->verifiable);
  test::TempDir dir;
  write(dir.file("pagemap-1.img"), b);
  write(dir.file("pages-1.img"), std::string(1234, 'z'));
  EXPECT_OK(check_page_images(dir.path(), kPage));
}

TEST(CriuImageCheck, RefusesMalformedPagemaps) {
  EXPECT_ERROR_CONTAINS(parse_pagemap("short"), "wrong magic");
  EXPECT_ERROR_CONTAINS(parse_pagemap(le32(0x54564319) + le32(0x12345678)), "wrong magic");
  EXPECT_ERROR_CONTAINS(parse_pagemap(le32(0x54564319) + le32(kPagemapMagic)), "no pagemap_head");
  std::string cut = pagemap(1, {{0x400000, 3, kPagePresent}});
  cut.resize(cut.size() - 2);
  EXPECT_ERROR_CONTAINS(parse_pagemap(cut), "entry at byte 14 needs 11 bytes, 9 are left");
  EXPECT_ERROR_CONTAINS(parse_pagemap(le32(0x54564319) + le32(kPagemapMagic) + entry(field(1, 1)) + entry(field(1, 5))),
                        "without vaddr or nr_pages");
}

class ImageDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write(dir_.file("pagemap-1.img"), pagemap(1, {{0x400000, 3, kPagePresent}, {0x500000, 2, kPageParent}}));
    write_pages(dir_.file("pages-1.img"), 3);
    write(dir_.file("pagemap-shmem-9.img"), pagemap(2, {{0, 2, kPagePresent}}));
    write_pages(dir_.file("pages-2.img"), 2);
    write(dir_.file("pagemap-5.img"), pagemap(3, {{0x400000, 4, kPageLazy}}));  // no pages file: none stored
    write(dir_.file("core-1.img"), "unrelated");
  }
  test::TempDir dir_;
};

TEST_F(ImageDirTest, AGoodDirectoryPasses) { EXPECT_OK(check_page_images(dir_.path(), kPage)); }

TEST_F(ImageDirTest, TruncatedPagesImageIsNamed) {
  ASSERT_EQ(::truncate(dir_.file("pages-1.img").c_str(), 2 * kPage + 100), 0);
  EXPECT_ERROR_CONTAINS(check_page_images(dir_.path(), kPage),
                        "damaged image in `" + dir_.path() +
                            "`: `pages-1.img` has 8292 bytes, but `pagemap-1.img` lists 3 pages of 4096 bytes (12288)");
}

TEST_F(ImageDirTest, LongerPagesImageIsRefusedToo) {
  write_pages(dir_.file("pages-2.img"), 3);
  EXPECT_ERROR_CONTAINS(check_page_images(dir_.path(), kPage), "`pages-2.img` has 12288 bytes");
}

TEST_F(ImageDirTest, MissingPagesImageIsNamed) {
  ASSERT_EQ(::unlink(dir_.file("pages-2.img").c_str()), 0);
  EXPECT_ERROR_CONTAINS(check_page_images(dir_.path(), kPage), "`pagemap-shmem-9.img` lists 2 pages in `pages-2.img`");
}

TEST_F(ImageDirTest, TruncatedPagemapIsNamed) {
  ASSERT_EQ(::truncate(dir_.file("pagemap-1.img").c_str(), 20), 0);
  EXPECT_ERROR_CONTAINS(check_page_images(dir_.path(), kPage), "`pagemap-1.img`: entry at byte");
}

// A FIFO in place of an image must not block the check.
TEST_F(ImageDirTest, FifoInPlaceOfAnImageDoesNotBlock) {
  ASSERT_EQ(::unlink(dir_.file("pages-1.img").c_str()), 0);
  ASSERT_EQ(::mkfifo(dir_.file("pages-1.img").c_str(), 0600), 0);
  EXPECT_ERROR_CONTAINS(check_page_images(dir_.path(), kPage), "`pages-1.img` is not a regular file");
  ASSERT_EQ(::unlink(dir_.file("pagemap-5.img").c_str()), 0);
  ASSERT_EQ(::mkfifo(dir_.file("pagemap-5.img").c_str(), 0600), 0);
  EXPECT_ERROR_CONTAINS(check_page_images(dir_.path(), kPage), "not a regular file");
}

// A symlink in place of an image is not followed.
TEST_F(ImageDirTest, SymlinkInPlaceOfAnImageIsRefused) {
  ASSERT_EQ(::unlink(dir_.file("pages-1.img").c_str()), 0);
  ASSERT_EQ(::symlink("/dev/zero", dir_.file("pages-1.img").c_str()), 0);
  EXPECT_ERROR_CONTAINS(check_page_images(dir_.path(), kPage), "pages-1.img");
}

}  // namespace
}  // namespace cove::criu
