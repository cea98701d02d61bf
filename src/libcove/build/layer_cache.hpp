// The layer cache of `cove-build` in a cove path, PATH/.build-cache (mode 0700: layers hold
// set-user-ID files and device nodes owned by container ids, which are host ids 0.. on disk):
//   layers/KEY/{tree/, step, config, source}   a complete layer: tree/ holds container ids and
//                                               overlayfs's whiteouts and opaque dirs; config and
//                                               source only for a base made by a template
//   containers/                                 the cove path of build containers (never PATH
//                                               itself: no user sees them in cove-ls)
//   tmp-ID/                                     a build's scratch (.lock flock'd while it runs;
//                                               the layer being made, the archive)
//   .lock                                       flock: scratch creation and sweeps
// KEY = sha256 of the parent layer's key and the step's inputs (layer_key()). A layer appears
// under its KEY only complete (renamed from the scratch), so an existing KEY is a cache hit. A
// killed build leaves only tmp-ID (and maybe containers/b-ID), which sweep() removes once the
// scratch's lock is free. Caller: build/image_build.cpp.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "state/container_lock.hpp"

namespace cove::build {

// The key of a FROM: the image's content hash, or the template with its arguments and the
// hash of its executable.
std::string base_key(const std::string& kind, const std::string& ref, const std::vector<std::string>& args,
                     const std::string& source_hash);
// The key of a RUN or COPY: the parent layer, the step's text, the ENV in effect (in order) and
// for COPY the content hash of what is copied ("" for RUN).
std::string layer_key(const std::string& parent_key, const std::string& step_text, const std::vector<std::string>& env,
                      const std::string& content_hash);

struct Scratch {
  std::string id;                  // 6 characters: tmp-ID, containers/b-ID
  std::string dir;                 // PATH/.build-cache/tmp-ID
  ContainerLock lock;
  std::string container_name() const { return "b-" + id; }
};

class LayerCache {
 public:
  explicit LayerCache(const std::string& lxcpath);
  const std::string& root() const { return root_; }
  std::string containers_dir() const { return root_ + "/containers"; }
  std::string layer_dir(const std::string& key) const { return root_ + "/layers/" + key; }
  std::string tree(const std::string& key) const { return layer_dir(key) + "/tree"; }
  bool has(const std::string& key) const;

  // Makes the directories; removes what killed builds left (sweep).
  Result<void> open();
  // A new scratch with its lock held.
  Result<Scratch> make_scratch();
  // Moves `tree_dir` (on this filesystem) into place as layer `key`, with `files` (name, text)
  // beside it. Another build that made the same key first wins: ours is removed.
  Result<void> commit(const Scratch& s, const std::string& key, const std::string& tree_dir,
                      const std::vector<std::pair<std::string, std::string>>& files);
  // Removes the build container and the scratch of `id` once its lock is free, waiting up to
  // `wait_ms` for it.
  Result<void> remove_build(const std::string& id, int wait_ms);
  // Removes the build container and the scratch of our own build (its lock held).
  Result<void> discard(Scratch& s);
  // Removes every scratch whose lock is free, and build containers whose scratch is gone.
  void sweep();

 private:
  Result<void> remove_locked(const std::string& id);
  std::string lxcpath_, root_;
};

}  // namespace cove::build
