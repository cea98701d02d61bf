// Compares two directory trees file by file, for the image tests: type, mode (set-id bits
// included), owners, size, mtime, device numbers, symlink targets, extended attributes (names
// and values: ACLs and file capabilities are attributes too), link counts and which names
// share an inode, and the allocation of sparse files. Returns one line per difference.
#pragma once

#include <string>
#include <vector>

namespace cove::test {

struct TreeCompareOptions {
  bool mtimes = true;
  bool root_mtime = false;   // the top directory's own mtime
};

std::vector<std::string> compare_trees(const std::string& a, const std::string& b,
                                       const TreeCompareOptions& opts = {});

}  // namespace cove::test
