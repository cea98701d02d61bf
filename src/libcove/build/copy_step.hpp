// COPY of a recipe: files of the recipe's directory into a layer. The source is resolved
// beneath the recipe's directory (openat2 RESOLVE_BENEATH: `..`, absolute paths and symlinks
// leading out are refused); inside a copied directory, symlinks are copied as symlinks, never
// followed. The destination is written through an fd of the build's rootfs with every path
// resolved as inside it (RESOLVE_IN_ROOT), owned by the container's root (container ids: the
// layers hold them). Regular files, directories and symlinks only. Caller: image_build.cpp.
#pragma once

#include <string>

#include "base/result.hpp"

namespace cove::build {

// SHA-256 over the source's entries (relative path, type, mode, size, data, link target): what
// the cache key of the COPY depends on.
Result<std::string> copy_source_hash(const std::string& recipe_dir, const std::string& src);

// Copies `src` to `dst` in the tree `root_fd`. A directory's contents go into `dst` (made as
// needed); a file goes to `dst`, or into it when `dst` ends with `/` or is a directory.
Result<void> copy_into_root(const std::string& recipe_dir, const std::string& src, int root_fd, const std::string& dst);

}  // namespace cove::build
