// images: metadata.json round trip and validation, the exported config, os-release, arch names.
#include "images/export_config.hpp"
#include "images/image_info.hpp"
#include "support.hpp"

using namespace cove::images;

TEST(ImageMetadata, JsonRoundTrip) {
  ImageMetadata m;
  m.distro = "debian";
  m.release = "12";
  m.arch = "amd64";
  m.created = "2025-01-31T12:00:00Z";
  m.cove_version = "0.1.0";
  m.content_hash = std::string(64, 'a');
  m.size = 123456789012;
  m.entries = 4242;
  m.source = "web";
  m.version = "1.2.3";
  auto back = metadata_from_json(metadata_to_json(m));
  ASSERT_OK(back);
  EXPECT_EQ(*back, m);
}

TEST(ImageMetadata, HostileJsonRefused) {
  EXPECT_ERROR_CONTAINS(metadata_from_json("not json"), "not a JSON object");
  EXPECT_ERROR_CONTAINS(metadata_from_json("[]"), "not a JSON object");
  EXPECT_ERROR_CONTAINS(metadata_from_json(R"({"format": 2})"), "`format` is not 1");
  EXPECT_ERROR_CONTAINS(metadata_from_json(R"({"format": 1, "distro": 5})"), "`distro` is not a string");
  EXPECT_ERROR_CONTAINS(metadata_from_json(R"({"format": 1, "distro": "a\u001b[2Jb"})"), "control characters");
  EXPECT_ERROR_CONTAINS(metadata_from_json(R"({"format": 1, "size": -1})"), "`size` is not an unsigned number");
  EXPECT_ERROR_CONTAINS(metadata_from_json(R"({"format": 1, "content_hash": "md5:00"})"), "`content_hash`");
  EXPECT_OK(metadata_from_json(R"({"format": 1, "future_key": [1, 2]})"));
}

TEST(ImageConfig, HostSpecificKeysDropped) {
  std::string in =
      "# cove container `web`\n"
      "include = /usr/share/cove/config/common.conf\n"
      "\n"
      "[idmap]\n"
      "# Allocated by cove-create from the host id pool\n"
      "uid = 0 1638400 65536\n"
      "gid = 0 1638400 65536\n"
      "rootfs = shift\n"
      "\n"
      "[container]\n"
      "rootfs = /var/lib/cove/web/rootfs\n"
      "init = /sbin/init\n"
      "console.log = /var/log/web.console\n"
      "log.file = /var/log/web.log\n"
      "log.level = info\n"
      "\n"
      "[network.eth0]\n"
      "type = veth\n"
      "hwaddr = 02:00:00:12:34:56\n"
      "\n"
      "[rootfs]\n"
      "backend = overlay\n"
      "lower = /var/lib/cove/.images/sha256/ab/rootfs\n";
  std::string out = exported_config(in);
  for (const char* gone : {"include", "1638400", "/var/lib/cove/web/rootfs", "console.log", "log.file", "hwaddr",
                           "lower"})
    EXPECT_EQ(out.find(gone), std::string::npos) << gone << " in:\n" << out;
  for (const char* kept : {"[idmap]\n", "rootfs = shift", "init = /sbin/init", "log.level = info", "type = veth",
                           "backend = overlay"})
    EXPECT_NE(out.find(kept), std::string::npos) << kept << " not in:\n" << out;
}

TEST(ImageConfig, SectionLeftEmptyGoes) {
  std::string out = exported_config("[container]\ninit = /sbin/init\n\n[idmap]\n# ids\nuid = 0 100000 65536\n");
  EXPECT_EQ(out.find("[idmap]"), std::string::npos) << out;
  EXPECT_NE(out.find("init = /sbin/init"), std::string::npos) << out;
}

TEST(ImageConfig, OsRelease) {
  auto r = parse_os_release("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n");
  EXPECT_EQ(r.id, "debian");
  EXPECT_EQ(r.version, "12");
  auto sid = parse_os_release("ID='debian'\nVERSION_CODENAME=trixie\n");
  EXPECT_EQ(sid.version, "trixie");
  EXPECT_EQ(parse_os_release("ID=\"\x1b[2J\"\n").id, "\\x1b[2J");
}

TEST(ImageConfig, DebianArchNames) {
  EXPECT_EQ(debian_arch("x86_64"), "amd64");
  EXPECT_EQ(debian_arch("aarch64"), "arm64");
  EXPECT_EQ(debian_arch("ppc64le"), "ppc64el");
  EXPECT_EQ(debian_arch("sparc64"), "sparc64");
}
