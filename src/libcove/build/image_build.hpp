// `cove-build`: an image made from a recipe (build/recipe.hpp) in real cove containers, each
// FROM/RUN/COPY step a layer of the cache (build/layer_cache.hpp) keyed by its inputs, so that
// an unchanged step is not run again; the merged layers are packed and imported into the image
// store of the cove path under an alias, with the recipe's version. See doc/design/build.md.
//
// It sits above the façade (container.hpp): a RUN is a container made, started, attached to
// and destroyed through the same paths as the cove-* tools. Nothing half-made survives a
// failure, a Ctrl+C (the tool's interrupt flag, base/interrupt.hpp) or a SIGKILL (the
// watchdog, build/watchdog.hpp, and the next build's sweep).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/result.hpp"
#include "images/image_info.hpp"
#include "images/image_store.hpp"

namespace cove::build {

struct StepEvent {
  enum class What { kRunning, kCached, kRecorded };  // a layer made now, found, or a setting
  size_t index = 0, total = 0;                        // 1-based
  std::string text;
  What what = What::kRunning;
};

struct BuildOptions {
  std::string recipe_file;
  std::string alias;
  std::function<void(const StepEvent&)> on_step;      // before each step
  images::ProgressFn progress;                        // packing and importing the result
};

struct BuildReport {
  images::StoredImage image;
  bool already_present = false;                       // the store had this rootfs already
  size_t steps = 0, cached = 0, ran = 0;
  std::string version;
};

// A step is refused (ENOSPC) when the cove path's filesystem has less free than this.
inline constexpr uint64_t kMinFreeBytes = 64ull << 20;

Result<BuildReport> build_image(const std::string& lxcpath, const BuildOptions& opts);

}  // namespace cove::build
