// The recipe of `cove-build`: a line-based text (`#` comments, `\` at the end of a line joins
// the next) of instructions, one per line:
//   FROM image:REF | FROM template:NAME [ARGS...]   the base: first, exactly once
//   RUN SHELL-COMMAND                                run with /bin/sh -c in the build container
//   COPY SRC DST                                     SRC relative to the recipe's directory
//   ENV KEY=VALUE                                    for later RUNs, and the image's init.env
//   CONFIG SECTION.KEY = VALUE                       a cove.conf key of the image's config
//   VERSION V                                        the image's version
// Pure text in, typed steps out: parse_recipe() collects every error ("RECIPE:LINE: ...") and
// nothing of a build runs before the whole recipe parses. Caller: build/image_build.cpp.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"

namespace cove::build {

enum class StepKind { kFrom, kRun, kCopy, kEnv, kConfig, kVersion };
const char* step_kind_name(StepKind k);

struct Step {
  StepKind kind = StepKind::kRun;
  unsigned line = 0;               // where the instruction starts in the recipe
  std::string text;                // as written, continuations joined: what progress shows
  std::string arg;                 // FROM: image|template; RUN: the command; COPY: SRC;
                                   // ENV/CONFIG: the key (CONFIG: SECTION.KEY); VERSION: V
  std::string ref;                 // FROM: REF or NAME; COPY: DST; CONFIG: the section
  std::string value;               // ENV, CONFIG: the value; CONFIG: also `key` below
  std::string key;                 // CONFIG: KEY
  std::vector<std::string> args;   // FROM template: its arguments
  bool makes_layer() const { return kind == StepKind::kFrom || kind == StepKind::kRun || kind == StepKind::kCopy; }
};

struct Recipe {
  std::string file;                // as given
  std::string dir;                 // the directory COPY sources are relative to
  std::vector<Step> steps;         // steps[0] is the FROM
  std::string version;             // the last VERSION ("" when none)
};

// Overlayfs stacks at most 500 lower layers; a recipe stays far below.
inline constexpr size_t kMaxLayers = 128;
inline constexpr size_t kMaxRecipeBytes = 1 << 20;

// `label` names the recipe in errors; `dir` is where COPY sources are.
Result<Recipe> parse_recipe(const std::string& text, const std::string& label, const std::string& dir);
// Reads `file` (a regular file of at most kMaxRecipeBytes) and parses it.
Result<Recipe> load_recipe(const std::string& file);

}  // namespace cove::build
