// build/recipe: instructions, continuations and comments, and every error with RECIPE:LINE.
#include "build/recipe.hpp"
#include "support.hpp"

using namespace cove::build;

namespace {

Recipe parse_ok(const std::string& text) {
  auto r = parse_recipe(text, "Recipe", "/src");
  EXPECT_TRUE(r) << (r ? "" : r.error().message());
  return r ? *r : Recipe{};
}

}  // namespace

TEST(BuildRecipe, EveryInstruction) {
  auto r = parse_ok(
      "# a comment\n"
      "FROM template:busybox --busybox /bin/busybox\n"
      "\n"
      "run echo one \\\n"
      "    && echo two\n"
      "COPY files/app.conf /etc/app/\n"
      "ENV GREETING=hello world\n"
      "CONFIG container.halt_signal = SIGTERM\n"
      "VERSION 1.0-rc1\n");
  ASSERT_EQ(r.steps.size(), 6u);
  EXPECT_EQ(r.steps[0].kind, StepKind::kFrom);
  EXPECT_EQ(r.steps[0].arg, "template");
  EXPECT_EQ(r.steps[0].ref, "busybox");
  EXPECT_EQ(r.steps[0].args, (std::vector<std::string>{"--busybox", "/bin/busybox"}));
  EXPECT_EQ(r.steps[0].line, 2u);
  EXPECT_EQ(r.steps[1].kind, StepKind::kRun);
  EXPECT_EQ(r.steps[1].arg, "echo one && echo two");
  EXPECT_EQ(r.steps[1].line, 4u);
  EXPECT_EQ(r.steps[2].arg, "files/app.conf");
  EXPECT_EQ(r.steps[2].ref, "/etc/app/");
  EXPECT_EQ(r.steps[2].line, 6u);
  EXPECT_EQ(r.steps[3].arg, "GREETING");
  EXPECT_EQ(r.steps[3].value, "hello world");
  EXPECT_EQ(r.steps[4].ref, "container");
  EXPECT_EQ(r.steps[4].key, "halt_signal");
  EXPECT_EQ(r.steps[4].value, "SIGTERM");
  EXPECT_EQ(r.version, "1.0-rc1");
  EXPECT_EQ(r.dir, "/src");
  EXPECT_TRUE(r.steps[1].makes_layer());
  EXPECT_FALSE(r.steps[3].makes_layer());
}

TEST(BuildRecipe, FromImageAndDottedSections) {
  auto r = parse_ok("FROM image:base\nCONFIG network.eth0.type = veth\n");
  EXPECT_EQ(r.steps[0].arg, "image");
  EXPECT_EQ(r.steps[0].ref, "base");
  EXPECT_EQ(r.steps[1].ref, "network.eth0");
  EXPECT_EQ(r.steps[1].key, "type");
}

TEST(BuildRecipe, ErrorsNameTheLineAndWhatIsAllowed) {
  EXPECT_ERROR_CONTAINS(parse_recipe("FROM template:busybox\nFETCH x\n", "R", "/"),
                        "R:2: unknown instruction `FETCH` (allowed: FROM, RUN, COPY, ENV, CONFIG, VERSION)");
  EXPECT_ERROR_CONTAINS(parse_recipe("RUN true\n", "R", "/"), "R:1: RUN before FROM");
  EXPECT_ERROR_CONTAINS(parse_recipe("# nothing\n\n", "R", "/"), "R:1: no FROM");
  EXPECT_ERROR_CONTAINS(parse_recipe("FROM busybox\n", "R", "/"), "R:1: FROM `busybox` is not `image:REF`");
  EXPECT_ERROR_CONTAINS(parse_recipe("FROM image:a\nFROM image:b\n", "R", "/"), "R:2: FROM must be the first");
  EXPECT_ERROR_CONTAINS(parse_recipe("FROM image:a x\n", "R", "/"), "takes no arguments");
  EXPECT_ERROR_CONTAINS(parse_recipe("FROM template:../evil\n", "R", "/"), "not a path");
  EXPECT_ERROR_CONTAINS(parse_recipe("FROM image:a\nCOPY ../x /x\n", "R", "/"), "R:2: COPY source `../x`");
  EXPECT_ERROR_CONTAINS(parse_recipe("FROM image:a\nCOPY a/../../x /x\n", "R", "/"), "without `..`");
  EXPECT_ERROR_CONTAINS(parse_recipe("FROM image:a\nCOPY /etc/passwd /x\n", "R", "/"), "relative to the recipe");
  EXPECT_ERROR_CONTAINS(parse_recipe("FROM image:a\nCOPY x etc/x\n", "R", "/"), "COPY destination `etc/x`");
  EXPECT_ERROR_CONTAINS(parse_recipe("FROM image:a\nCOPY x\n", "R", "/"), "COPY takes two words");
  EXPECT_ERROR_CONTAINS(parse_recipe("FROM image:a\nENV 1X=2\n", "R", "/"), "R:2: ENV name `1X`");
  EXPECT_ERROR_CONTAINS(parse_recipe("FROM image:a\nENV X\n", "R", "/"), "ENV takes KEY=VALUE");
  EXPECT_ERROR_CONTAINS(parse_recipe("FROM image:a\nRUN\n", "R", "/"), "RUN needs a shell command");
  EXPECT_ERROR_CONTAINS(parse_recipe("FROM image:a\nVERSION a b\n", "R", "/"), "R:2: VERSION `a b`");
  EXPECT_ERROR_CONTAINS(parse_recipe("FROM image:a\nCONFIG container.nosuchkey = 1\n", "R", "/"),
                        "R:2: CONFIG `container.nosuchkey`");
  EXPECT_ERROR_CONTAINS(parse_recipe("FROM image:a\nCONFIG container.halt_signal = SIGNOPE\n", "R", "/"),
                        "R:2: CONFIG `container.halt_signal`");
  EXPECT_ERROR_CONTAINS(parse_recipe("FROM image:a\nCONFIG idmap.uid = 0 100000 65536\n", "R", "/"),
                        "belongs to the host");
}

TEST(BuildRecipe, EveryErrorIsReported) {
  auto r = parse_recipe("FROM image:a\nNOPE\nENV =\nCOPY /a b\n", "R", "/");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("R:2:"), std::string::npos);
  EXPECT_NE(r.error().message().find("R:3:"), std::string::npos);
  EXPECT_NE(r.error().message().find("R:4:"), std::string::npos);
}

TEST(BuildRecipe, TooManyLayers) {
  std::string text = "FROM image:a\n";
  for (size_t i = 0; i < kMaxLayers; ++i) text += "RUN true\n";
  EXPECT_ERROR_CONTAINS(parse_recipe(text, "R", "/"), "more than 128 FROM/RUN/COPY steps");
}
