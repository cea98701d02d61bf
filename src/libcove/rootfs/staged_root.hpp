// StagedRoot: a detached mount tree (an idmapped clone of a rootfs, from open_tree) attached at
// a directory it makes, for as long as another program needs it there by path (CRIU's `root`
// for a restore: CRIU bind-mounts it, and a bind of an idmapped mount keeps its mapping).
// `release()` (or destruction) detaches it and removes the directory.
#pragma once

#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace cove::rootfs {

class StagedRoot {
 public:
  StagedRoot() = default;
  ~StagedRoot() { release(); }
  StagedRoot(const StagedRoot&) = delete;
  StagedRoot& operator=(const StagedRoot&) = delete;

  // Attaches `tree` on `path` (made 0700 if missing); returns `path`.
  Result<std::string> attach(const UniqueFd& tree, const std::string& path);
  void release();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool mounted_ = false;
};

}  // namespace cove::rootfs
