// The steps of a build that make a layer (image_build.cpp decides which run): the base of a
// FROM (an image's rootfs, or a rootfs a template made once), a RUN in a build container over
// the layers so far (its upper layer, moved back to container ids, is the new layer) and a COPY
// (written into an overlay's upper layer that this process mounts, detached, over the layers).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "build/layer_cache.hpp"
#include "build/recipe.hpp"

namespace cove::build {

struct Layer {
  std::string key;
  std::string tree;                // container ids
  std::string config, source;      // the base's config text and the name in its /etc/hostname
};

class Steps {
 public:
  Steps(LayerCache& cache, Scratch& scratch, int watchdog_fd, std::string recipe_dir)
      : cache_(cache), scratch_(scratch), watchdog_fd_(watchdog_fd), recipe_dir_(std::move(recipe_dir)) {}
  LayerCache& cache() { return cache_; }
  const Scratch& scratch() const { return scratch_; }

  Result<std::string> base_key_of(const Step& from);
  // The layer `key` when it is there: the cache's, or for `FROM image:` the image's rootfs.
  Result<std::optional<Layer>> find(const Step& s, const std::string& key);
  Result<Layer> make_base(const Step& from, const std::string& key);
  Result<Layer> run(const Step& s, const std::string& key, const std::vector<Layer>& below,
                    const std::vector<std::string>& env);
  Result<Layer> copy(const Step& s, const std::string& key, const std::vector<Layer>& below);

 private:
  LayerCache& cache_;
  Scratch& scratch_;
  int watchdog_fd_;
  std::string recipe_dir_;
  std::string base_config_;        // of layer 0, for build containers
};

}  // namespace cove::build
