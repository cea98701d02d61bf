// criu/stats (CRIU's stats-dump / stats-restore files decoded from the wire format) and
// criu/image_meta (cove's record in an image directory, and what a restore refuses).
#include <fstream>

#include "criu_wire_support.hpp"
#include "criu/wire.hpp"
#include "criu/image_meta.hpp"
#include "criu/stats.hpp"
#include "support.hpp"

namespace cove::criu {
namespace {

using namespace cove::test::criu_wire;

std::string stats_file(const std::string& entry) {
  return le32(0x55105940) + le32(0x57093306) + le32(uint32_t(entry.size())) + entry;
}

TEST(CriuStats, DecodesDumpStats) {
  std::string dump = field(1, 1500) + field(2, 45000) + field(3, 2000) + field(4, 3000) + field(5, 123456789012ull) +
                     field(6, 0) + field(7, 789) + field(9, 0);
  auto s = parse_dump_stats(stats_file(nested(1, dump)));
  ASSERT_OK(s);
  EXPECT_EQ(s->freezing_time_us, 1500u);
  EXPECT_EQ(s->frozen_time_us, 45000u);
  EXPECT_EQ(s->memwrite_time_us, 3000u);
  EXPECT_EQ(s->pages_scanned, 123456789012ull);
  EXPECT_EQ(s->pages_written, 789u);
}

TEST(CriuStats, DecodesRestoreStats) {
  std::string rst = field(1, 0) + field(2, 0) + field(3, 900) + field(4, 51000) + field(5, 321);
  auto s = parse_restore_stats(stats_file(nested(2, rst)));
  ASSERT_OK(s);
  EXPECT_EQ(s->forking_time_us, 900u);
  EXPECT_EQ(s->restore_time_us, 51000u);
  EXPECT_EQ(s->pages_restored, 321u);
  EXPECT_ERROR_CONTAINS(parse_dump_stats(stats_file(nested(2, rst))), "no dump statistics");
}

TEST(CriuStats, RejectsGarbage) {
  EXPECT_ERROR_CONTAINS(parse_dump_stats("short"), "too short");
  EXPECT_ERROR_CONTAINS(parse_dump_stats(le32(1) + le32(2) + le32(0)), "not a CRIU stats file");
  std::string truncated = stats_file(nested(1, field(1, 5)));
  truncated.resize(truncated.size() - 1);
  EXPECT_FALSE(parse_dump_stats(truncated).has_value());
}

ImageMeta sample() {
  ImageMeta m;
  m.cove_version = "0.1.0";
  m.criu_version = "4.2.1";
  m.container = "web";
  m.rootfs = "/var/lib/cove/web/rootfs";
  m.uid_map = {{0, 100000, 65536}};
  m.gid_map = {{0, 100000, 65536}};
  m.console_pts = 0;
  m.tty_pts = {1, 2};
  m.mounts = {{"dev-null", "/dev/null", "/dev/null"}, {"bind-1", "/srv", "/host/dir"}};
  m.pipes = {{1234, true}};
  m.stats.frozen_time_us = 42;
  return m;
}

TEST(CriuImageMeta, RoundTrips) {
  auto m = sample();
  auto back = decode_meta(encode_meta(m));
  ASSERT_OK(back);
  EXPECT_EQ(back->container, "web");
  EXPECT_EQ(back->uid_map, m.uid_map);
  EXPECT_EQ(back->tty_pts, m.tty_pts);
  ASSERT_EQ(back->mounts.size(), 2u);
  EXPECT_EQ(back->mounts[1].source, "/host/dir");
  ASSERT_EQ(back->pipes.size(), 1u);
  EXPECT_EQ(back->pipes[0].inode, 1234u);
  EXPECT_TRUE(back->pipes[0].write_end);
  EXPECT_EQ(back->stats.frozen_time_us, 42u);
}

TEST(CriuImageMeta, RefusesOtherContainersNewerFormatsAndNewerCriu) {
  auto m = sample();
  EXPECT_OK(check_restorable(m, "web", "4.2.1"));
  EXPECT_ERROR_CONTAINS(check_restorable(m, "db", "4.2.1"), "the checkpoint is of container `web`, not `db`");
  EXPECT_OK(check_restorable(m, "", "4.2.1"));  // any name (cove-oci restore under a new id)
  m.format = kImageFormat + 1;
  EXPECT_ERROR_CONTAINS(check_restorable(m, "web", "4.2.1"), "image format");
  m = sample();
  m.criu_version = "5.0.0";
  EXPECT_ERROR_CONTAINS(check_restorable(m, "web", "4.2.1"), "newer than this host's CRIU 4.2.1");
}

TEST(CriuImageMeta, ReadFromDirectory) {
  test::TempDir dir;
  EXPECT_ERROR_CONTAINS(read_meta(dir.path()), "holds no cove checkpoint");
  EXPECT_ERROR_CONTAINS(read_meta(dir.file("nope")), "no image directory");
  ASSERT_OK(write_meta(dir.path(), sample()));
  auto m = read_meta(dir.path());
  ASSERT_OK(m);
  EXPECT_EQ(m->container, "web");
  std::ofstream(dir.file(kMetaFile)) << "{not json";
  EXPECT_ERROR_CONTAINS(read_meta(dir.path()), "malformed");
}

TEST(CriuImageMeta, NetworkLockOnlyWhenSomethingButLoopback) {
  EXPECT_FALSE(needs_network_lock({"lo"}));
  EXPECT_TRUE(needs_network_lock({"lo", "eth0"}));
  EXPECT_TRUE(needs_network_lock({}));  // unknown (a record of an older cove)
  ImageMeta m;
  m.container = "c1";
  m.interfaces = {"lo", "veth0"};
  auto back = decode_meta(encode_meta(m));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->interfaces, m.interfaces);
  EXPECT_EQ(back->external_netns, "");
  m.external_netns = kExternalNetnsKey;
  back = decode_meta(encode_meta(m));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->external_netns, "extRootNetNS");
}

TEST(CriuImageMeta, CompareVersions) {
  EXPECT_EQ(compare_versions("4.2.1", "4.2.1"), 0);
  EXPECT_LT(compare_versions("4.1.1", "4.2.1"), 0);
  EXPECT_GT(compare_versions("4.10", "4.9.9"), 0);
  EXPECT_EQ(compare_versions("4.2", "4.2.0"), 0);
}

}  // namespace
}  // namespace cove::criu

namespace cove::criu {
namespace {
using namespace cove::test::criu_wire;

// The tty-info patch writes varints in place at the offsets decode() reports.
TEST(CriuWire, DecodeReportsWhereEachVarintValueStarts) {
  std::string msg = field(2, 1) + nested(3, field(1, 5)) + field(6, 0) + field(8, 300);
  auto f = wire::decode(msg, 0, msg.size());
  ASSERT_TRUE(f.has_value()) << f.error().message();
  EXPECT_EQ(f->get(8), 300u);
  EXPECT_EQ(msg[f->varint_at.at(6)], '\0');
  msg[f->varint_at.at(6)] = 1;
  auto g = wire::decode(msg, 0, msg.size());
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->get(6), 1u);
  EXPECT_EQ(g->get(2), 1u);
}

}  // namespace
}  // namespace cove::criu
