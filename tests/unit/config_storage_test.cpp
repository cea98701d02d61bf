// The [rootfs] keys and `[container] ephemeral` (config/keys_storage.cpp) and the rule that
// ties them to their backend (config/validate.cpp): values, FILE:LINE errors, what is allowed.
#include <gtest/gtest.h>

#include <string>

#include "config/load.hpp"

namespace cove::config {
namespace {

const LoadOptions kOptions{"web", "/var/lib/cove/web/rootfs"};
const char kIdmap[] = "[idmap]\nuid = 0 100000 65536\ngid = 0 100000 65536\n";

Result<ContainerConfig> load(const std::string& text) { return load_config_string(kIdmap + text, "s.conf", kOptions); }

std::string error_of(const std::string& text) {
  auto c = load(text);
  EXPECT_FALSE(c.has_value()) << text;
  return c ? "" : c.error().message();
}

TEST(ConfigStorage, DefaultsToDirWithoutQuota) {
  auto c = load("");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->storage.backend, StorageBackend::kDir);
  EXPECT_FALSE(c->storage.size);
  EXPECT_TRUE(c->storage.lower.empty());
  EXPECT_FALSE(c->storage.ephemeral);
}

TEST(ConfigStorage, EveryBackendWithItsKeys) {
  auto loop = load("[rootfs]\nbackend = loop\nsize = 2G\n");
  ASSERT_TRUE(loop) << loop.error().message();
  EXPECT_EQ(loop->storage.backend, StorageBackend::kLoop);
  EXPECT_EQ(*loop->storage.size, 2ULL << 30);
  auto ovl = load("[rootfs]\nbackend = overlay\nlower = /srv/a\nlower = /srv/b\nsize = 512M\n[container]\nephemeral = yes\n");
  ASSERT_TRUE(ovl) << ovl.error().message();
  EXPECT_EQ(ovl->storage.lower, (std::vector<std::string>{"/srv/a", "/srv/b"}));
  EXPECT_TRUE(ovl->storage.ephemeral);
  auto btrfs = load("[rootfs]\nbackend = btrfs\n");
  ASSERT_TRUE(btrfs) << btrfs.error().message();
  EXPECT_EQ(btrfs->storage.backend, StorageBackend::kBtrfs);
}

TEST(ConfigStorage, BadValuesNameFileLineKeyAndWhatIsAllowed) {
  auto e = error_of("[rootfs]\nbackend = zfs\n");
  EXPECT_NE(e.find("s.conf:5"), std::string::npos) << e;
  EXPECT_NE(e.find("dir|overlay|loop|btrfs"), std::string::npos) << e;
  e = error_of("[rootfs]\nbackend = loop\nsize = lots\n");
  EXPECT_NE(e.find("`lots` is not a size"), std::string::npos) << e;
  e = error_of("[rootfs]\nbackend = loop\nsize = 1M\n");
  EXPECT_NE(e.find("smallest size, 16M"), std::string::npos) << e;
  e = error_of("[rootfs]\nbackend = overlay\nlower = /a:b\n");
  EXPECT_NE(e.find("overlayfs cannot take"), std::string::npos) << e;
  e = error_of("[container]\nephemeral = maybe\n");
  EXPECT_NE(e.find("not a boolean"), std::string::npos) << e;
}

TEST(ConfigStorage, KeysMustFitTheBackend) {
  EXPECT_NE(error_of("[rootfs]\nbackend = loop\n").find("needs [rootfs] size"), std::string::npos);
  EXPECT_NE(error_of("[rootfs]\nbackend = overlay\n").find("needs at least one [rootfs] lower"), std::string::npos);
  EXPECT_NE(error_of("[rootfs]\nsize = 1G\n").find("not `dir`"), std::string::npos);
  EXPECT_NE(error_of("[rootfs]\nbackend = loop\nsize = 1G\nlower = /x\n").find("is for backend `overlay`"),
            std::string::npos);
  auto e = error_of("[rootfs]\nbackend = loop\nsize = 1G\n[idmap]\nrootfs = shift\n");
  EXPECT_NE(e.find("works on backend `dir` only"), std::string::npos) << e;
}

}  // namespace
}  // namespace cove::config
