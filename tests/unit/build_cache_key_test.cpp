// build/layer_cache: the cache key of a layer changes with each of its inputs and nothing else;
// COPY's content hash follows the files' content and modes.
#include <sys/stat.h>

#include <fstream>

#include "build/copy_step.hpp"
#include "build/layer_cache.hpp"
#include "support.hpp"

using namespace cove::build;

TEST(BuildCacheKey, DependsOnEveryInput) {
  std::string k = layer_key("parent", "RUN make", {"A=1"}, "");
  EXPECT_EQ(k.size(), 64u);
  EXPECT_EQ(k, layer_key("parent", "RUN make", {"A=1"}, ""));
  EXPECT_NE(k, layer_key("parent2", "RUN make", {"A=1"}, ""));
  EXPECT_NE(k, layer_key("parent", "RUN make ", {"A=1"}, ""));
  EXPECT_NE(k, layer_key("parent", "RUN make", {"A=2"}, ""));
  EXPECT_NE(k, layer_key("parent", "RUN make", {}, ""));
  EXPECT_NE(k, layer_key("parent", "RUN make", {"A=1"}, "abc"));
  // Field boundaries count: moving text between fields changes the key.
  EXPECT_NE(layer_key("p", "RUN a", {"B=1"}, ""), layer_key("p", "RUN a\n", {"B=1"}, ""));
  EXPECT_NE(layer_key("p", "x", {"a", "b"}, ""), layer_key("p", "x", {"ab"}, ""));
}

TEST(BuildCacheKey, BaseKeys) {
  std::string k = base_key("template", "busybox", {}, "h1");
  EXPECT_NE(k, base_key("template", "busybox", {"--hostname", "x"}, "h1"));
  EXPECT_NE(k, base_key("template", "busybox", {}, "h2"));
  EXPECT_NE(k, base_key("image", "busybox", {}, "h1"));
}

TEST(BuildCacheKey, CopyContentHash) {
  cove::test::TempDir t;
  std::string d = t.path();
  ::mkdir((d + "/src").c_str(), 0755);
  std::ofstream(d + "/src/a") << "one";
  std::ofstream(d + "/file") << "x";
  auto h1 = copy_source_hash(d, "src");
  ASSERT_OK(h1);
  EXPECT_EQ(*copy_source_hash(d, "src"), *h1);
  std::ofstream(d + "/src/a") << "two";
  auto h2 = copy_source_hash(d, "src");
  ASSERT_OK(h2);
  EXPECT_NE(*h2, *h1);
  ::chmod((d + "/src/a").c_str(), 0600);
  EXPECT_NE(*copy_source_hash(d, "src"), *h2);
  ASSERT_OK(copy_source_hash(d, "file"));
  // Symlinks leading out of the recipe's directory are refused.
  ::symlink("/etc", (d + "/out").c_str());
  EXPECT_ERROR_CONTAINS(copy_source_hash(d, "out/passwd"), "leads out");
  EXPECT_ERROR_CONTAINS(copy_source_hash(d, "missing"), "COPY source `missing`");
}
