// The walk of a tree to archive: pre-order (a directory before what it holds), names sorted
// (the same tree always gives the same order, hence the same content hash), never following a
// symlink, never entering another mount (a mount point inside is visited, not entered).
// Holds two descriptors at any depth: the root and the directory being listed, reached again
// from the root with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV).
#pragma once

#include <sys/stat.h>

#include <functional>
#include <string>

#include "base/result.hpp"

namespace cove::images {

// `rel` is the entry's path below the root ("" for the root itself, given with dirfd = the
// root's descriptor and name "."); `dirfd` + `name` reach it without following anything.
using TreeVisit = std::function<Result<void>(int dirfd, const std::string& name, const std::string& rel,
                                             const struct stat& st)>;

Result<void> walk_tree(const std::string& root, const TreeVisit& visit);

}  // namespace cove::images
