// Small edits the host makes in a stopped container's rootfs (a copy's hostname): every path
// resolves inside the tree (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, no symlink as
// the last component), only regular files are touched, and a missing file is left missing.
#pragma once

#include <string>

#include "base/result.hpp"

namespace cove::storage {

// Replaces each whitespace-separated word `from` with `to` in ROOT/REL.
Result<void> replace_word_in_root_file(const std::string& root, const std::string& rel, const std::string& from,
                                       const std::string& to);
// Empties ROOT/REL if it has content.
Result<void> truncate_root_file(const std::string& root, const std::string& rel);

}  // namespace cove::storage
