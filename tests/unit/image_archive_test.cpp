// images/archive: a pack/unpack round trip of a tree with every kind of file, and hostile or
// damaged archives refused without writing outside the destination.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fstream>

#include "base/fs.hpp"
#include "base/unique_fd.hpp"
#include "images/archive.hpp"
#include "support.hpp"
#include "../common/tree_compare.hpp"

using namespace cove;
using namespace cove::images;
using cove::test::TempDir;

namespace {

std::string le(std::initializer_list<uint32_t> words) {
  std::string out;
  for (uint32_t w : words) out.append(reinterpret_cast<const char*>(&w), 4);  // x86: little-endian
  return out;
}
std::string le16s(std::initializer_list<uint16_t> halves) {
  std::string out;
  for (uint16_t h : halves) out.append(reinterpret_cast<const char*>(&h), 2);
  return out;
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// A tree with one of each kind of entry pack_tree() keeps.
void make_tree(const std::string& root) {
  ASSERT_EQ(::mkdir(root.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((root + "/etc").c_str(), 0750), 0);
  write_text(root + "/etc/hostname", "box\n");
  write_text(root + "/suid", "#!/bin/sh\n");
  ASSERT_EQ(::chmod((root + "/suid").c_str(), 04755), 0);
  write_text(root + "/empty", "");
  ASSERT_EQ(::symlink("/etc/hostname", (root + "/abs-link").c_str()), 0);
  ASSERT_EQ(::symlink("etc", (root + "/rel-link").c_str()), 0);
  write_text(root + "/etc/linked", "one inode, two names\n");
  ASSERT_EQ(::link((root + "/etc/linked").c_str(), (root + "/linked2").c_str()), 0);
  ASSERT_EQ(::mkfifo((root + "/fifo").c_str(), 0600), 0);
  {
    UniqueFd fd(::open((root + "/sparse").c_str(), O_WRONLY | O_CREAT, 0644));
    ASSERT_TRUE(fd.valid());
    std::string block(4096, 'x');
    ASSERT_EQ(::pwrite(fd.get(), block.data(), block.size(), 5 << 20), 4096);
    ASSERT_EQ(::ftruncate(fd.get(), 10 << 20), 0);
  }
  write_text(root + "/hole-only", "");
  ASSERT_EQ(::truncate((root + "/hole-only").c_str(), 1 << 20), 0);
  std::string big;
  for (int i = 0; i < 300000; ++i) big += std::to_string(i) + "\n";
  write_text(root + "/etc/big", big);
  (void)::setxattr((root + "/etc/hostname").c_str(), "user.note", "hello", 5, 0);
  struct timespec ts[2] = {{0, UTIME_OMIT}, {1234567890, 123456789}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (root + "/etc/hostname").c_str(), ts, 0), 0);
  if (::geteuid() == 0) {
    ASSERT_EQ(::lchown((root + "/etc/hostname").c_str(), 1234, 5678), 0);
    ASSERT_EQ(::mknod((root + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
    ASSERT_EQ(::setxattr((root + "/etc").c_str(), "trusted.t", "v", 1, 0), 0);
    // A POSIX ACL (owner rwx, user 1000 r, group r-x, mask r-x, others none), also as the
    // directory's default, and a v2 file capability (cap_net_bind_service, effective).
    std::string acl = le({2}) + le16s({1, 7}) + le({0xffffffff}) + le16s({2, 4}) + le({1000}) + le16s({4, 5}) +
                      le({0xffffffff}) + le16s({0x10, 5}) + le({0xffffffff}) + le16s({0x20, 0}) + le({0xffffffff});
    ASSERT_EQ(::setxattr((root + "/suid").c_str(), "system.posix_acl_access", acl.data(), acl.size(), 0), 0);
    ASSERT_EQ(::setxattr((root + "/etc").c_str(), "system.posix_acl_default", acl.data(), acl.size(), 0), 0);
    std::string caps = le({0x02000001, 1u << 10, 0, 0, 0});
    ASSERT_EQ(::setxattr((root + "/etc/big").c_str(), "security.capability", caps.data(), caps.size(), 0), 0);
  }
}

Result<PackResult> pack_to(const std::string& tree, const std::string& file) {
  UniqueFd out(::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!out) return Error::from_errno(errno, "open");
  PackOptions o;
  o.first = {{kMetadataEntry, "{\"format\": 1}"}, {kConfigEntry, "[container]\n"}};
  return pack_tree(tree, out.get(), o);
}

Result<UnpackResult> unpack_from(const std::string& file, const std::string& dest) {
  UniqueFd in(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) return Error::from_errno(errno, "open");
  return unpack_tree(in.get(), dest, 0, nullptr);
}

struct RawEntry {
  std::string path;
  mode_t type = AE_IFREG;
  std::string data;      // file content or symlink target
  std::string hardlink;
};

// An archive written directly with libarchive: the head entries, then `entries` as given.
void write_raw(const std::string& file, const std::vector<RawEntry>& entries, bool head = true) {
  struct archive* a = archive_write_new();
  archive_write_set_format_pax(a);
  archive_write_add_filter_zstd(a);
  ASSERT_EQ(archive_write_open_filename(a, file.c_str()), ARCHIVE_OK);
  std::vector<RawEntry> all;
  if (head) all = {{kMetadataEntry, AE_IFREG, "{}", ""}, {kConfigEntry, AE_IFREG, "", ""}};
  all.insert(all.end(), entries.begin(), entries.end());
  for (const auto& r : all) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, r.path.c_str());
    archive_entry_set_filetype(e, r.type);
    archive_entry_set_perm(e, 0644);
    if (!r.hardlink.empty()) archive_entry_set_hardlink(e, r.hardlink.c_str());
    if (r.type == AE_IFLNK) archive_entry_set_symlink(e, r.data.c_str());
    if (r.type == AE_IFREG && r.hardlink.empty()) archive_entry_set_size(e, static_cast<la_int64_t>(r.data.size()));
    ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK) << r.path;
    if (r.type == AE_IFREG && r.hardlink.empty()) archive_write_data(a, r.data.data(), r.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

}  // namespace

TEST(ImageArchive, RoundTripKeepsEveryKindOfFile) {
  TempDir t;
  std::string tree = t.file("tree"), file = t.file("image.tar.zst"), dest = t.file("dest");
  make_tree(tree);
  auto packed = pack_to(tree, file);
  ASSERT_OK(packed);
  EXPECT_EQ(packed->content_hash.size(), 64u);
  ASSERT_EQ(::mkdir(dest.c_str(), 0700), 0);
  auto unpacked = unpack_from(file, dest);
  ASSERT_OK(unpacked);
  EXPECT_EQ(unpacked->content_hash, packed->content_hash);
  EXPECT_EQ(unpacked->entries, packed->entries);
  auto diffs = cove::test::compare_trees(tree, dest);
  EXPECT_TRUE(diffs.empty()) << ::testing::PrintToString(diffs);
}

TEST(ImageArchive, SameTreeSameHash) {
  TempDir t;
  make_tree(t.file("tree"));
  auto a = pack_to(t.file("tree"), t.file("a"));
  auto b = pack_to(t.file("tree"), t.file("b"));
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_EQ(a->content_hash, b->content_hash);
  ASSERT_EQ(::chmod(t.file("tree/empty").c_str(), 0600), 0);
  auto c = pack_to(t.file("tree"), t.file("c"));
  ASSERT_OK(c);
  EXPECT_NE(a->content_hash, c->content_hash);
}

TEST(ImageArchive, HeadEntries) {
  TempDir t;
  make_tree(t.file("tree"));
  ASSERT_OK(pack_to(t.file("tree"), t.file("a")));
  UniqueFd in(::open(t.file("a").c_str(), O_RDONLY | O_CLOEXEC));
  auto head = read_archive_head(in.get());
  ASSERT_OK(head);
  EXPECT_EQ(head->metadata, "{\"format\": 1}");
  EXPECT_EQ(head->config, "[container]\n");
}

TEST(ImageArchive, MeasureTreeCountsEachInodeOnce) {
  TempDir t;
  ASSERT_EQ(::mkdir(t.file("tree").c_str(), 0755), 0);
  write_text(t.file("tree/a"), std::string(1000, 'a'));
  ASSERT_EQ(::link(t.file("tree/a").c_str(), t.file("tree/b").c_str()), 0);
  auto size = measure_tree(t.file("tree"));
  ASSERT_OK(size);
  EXPECT_EQ(size->bytes, 1000u);
  EXPECT_EQ(size->entries, 3u);  // the root, a, b
}

// Each hostile archive fails, and nothing appears next to the destination.
class HostileArchive : public ::testing::Test {
 protected:
  void expect_refused(const std::vector<RawEntry>& entries, const std::string& error) {
    std::string box = t_.file("box" + std::to_string(++n_));
    std::string file = box + ".tar.zst", dest = box + "/dest";
    ASSERT_EQ(::mkdir(box.c_str(), 0700), 0);
    ASSERT_EQ(::mkdir(dest.c_str(), 0700), 0);
    write_raw(file, entries);
    EXPECT_ERROR_CONTAINS(unpack_from(file, dest), error);
    EXPECT_FALSE(path_exists(box + "/x"));
    EXPECT_FALSE(path_exists(t_.file("victim/file")));
    EXPECT_FALSE(path_exists(t_.file("x")));
  }
  TempDir t_;
  int n_ = 0;
};

TEST_F(HostileArchive, DotDotRefused) { expect_refused({{"rootfs/../x", AE_IFREG, "evil", ""}}, "`..` component"); }

TEST_F(HostileArchive, AbsolutePathRefused) {
  expect_refused({{"/etc/passwd", AE_IFREG, "evil", ""}}, "outside `rootfs/`");
  expect_refused({{"rootfs//etc/passwd", AE_IFREG, "evil", ""}}, "empty");
}

TEST_F(HostileArchive, EntryThroughSymlinkRefused) {
  ASSERT_EQ(::mkdir(t_.file("victim").c_str(), 0700), 0);
  expect_refused({{"rootfs/", AE_IFDIR, "", ""},
                  {"rootfs/link", AE_IFLNK, t_.file("victim"), ""},
                  {"rootfs/link/file", AE_IFREG, "evil", ""}},
                 "symlink");
}

TEST_F(HostileArchive, HardLinkOutsideRefused) {
  expect_refused({{"rootfs/passwd", AE_IFREG, "", "/etc/passwd"}}, "outside `rootfs/`");
  expect_refused({{"rootfs/passwd", AE_IFREG, "", "rootfs/../../x"}}, "`..` component");
}

TEST_F(HostileArchive, OtherEntriesRefused) { expect_refused({{"elsewhere", AE_IFREG, "x", ""}}, "outside `rootfs/`"); }

TEST_F(HostileArchive, WrongOrderRefused) {
  std::string file = t_.file("a"), dest = t_.file("d");
  ASSERT_EQ(::mkdir(dest.c_str(), 0700), 0);
  write_raw(file, {{kConfigEntry, AE_IFREG, "", ""}}, false);
  EXPECT_ERROR_CONTAINS(unpack_from(file, dest), "expected `metadata.json`, found `config`");
}

TEST(ImageArchive, DamagedArchivesRefused) {
  TempDir t;
  std::string dest = t.file("d");
  ASSERT_EQ(::mkdir(dest.c_str(), 0700), 0);
  // No recorded hash: a truncated archive.
  write_raw(t.file("short"), {{"rootfs/", AE_IFDIR, "", ""}, {"rootfs/a", AE_IFREG, "a", ""}});
  EXPECT_ERROR_CONTAINS(unpack_from(t.file("short"), dest), "archive ends before `rootfs.sha256`");
  // A recorded hash that is not the entries'.
  write_raw(t.file("lie"), {{"rootfs/", AE_IFDIR, "", ""}, {kHashEntry, AE_IFREG, std::string(64, '0'), ""}});
  EXPECT_ERROR_CONTAINS(unpack_from(t.file("lie"), t.file("d")), "content hash mismatch");
  // Cut in the middle of the compressed stream.
  make_tree(t.file("tree"));
  ASSERT_OK(pack_to(t.file("tree"), t.file("good")));
  struct stat st;
  ASSERT_EQ(::stat(t.file("good").c_str(), &st), 0);
  ASSERT_EQ(::truncate(t.file("good").c_str(), st.st_size / 2), 0);
  ASSERT_EQ(::mkdir(t.file("d2").c_str(), 0700), 0);
  auto r = unpack_from(t.file("good"), t.file("d2"));
  EXPECT_FALSE(r.has_value());
  // Not an archive at all.
  write_text(t.file("junk"), "this is not a tar file\n");
  UniqueFd in(::open(t.file("junk").c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_FALSE(read_archive_head(in.get()).has_value());
}
