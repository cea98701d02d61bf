#include "images/tree_walk.hpp"

#include <fcntl.h>

#include <algorithm>
#include <vector>

#include "base/dir.hpp"
#include "base/syscalls.hpp"
#include "base/unique_fd.hpp"

namespace cove::images {

namespace {

Result<UniqueFd> open_below(int root_fd, const std::string& rel) {
  struct open_how how = {};
  how.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  int fd = sys::openat2(root_fd, rel.c_str(), &how, sizeof how);
  if (fd < 0) return Error::from_errno(errno, "open `" + rel + "`");
  return UniqueFd(fd);
}

Result<std::vector<std::string>> sorted_names(int dirfd, const std::string& rel) {
  auto dir = Dir::open_at(dirfd);
  if (!dir) return std::move(dir).error().context("list `" + rel + "`");
  auto names = dir->names();
  if (!names) return std::move(names).error().context("list `" + rel + "`");
  std::sort(names->begin(), names->end());
  return std::move(*names);
}

}  // namespace

Result<void> walk_tree(const std::string& root, const TreeVisit& visit) {
  UniqueFd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd) return Error::from_errno(errno, "open `" + root + "`");
  struct stat rst;
  if (::fstat(root_fd.get(), &rst) < 0) return Error::from_errno(errno, "stat `" + root + "`");
  COVE_TRY(visit(root_fd.get(), ".", "", rst));
  std::vector<std::string> stack{""};
  while (!stack.empty()) {
    std::string rel = std::move(stack.back());
    stack.pop_back();
    UniqueFd dfd;
    if (!rel.empty()) {
      auto d = open_below(root_fd.get(), rel);
      if (!d && d.error().code() == EXDEV) continue;  // a mount point: another filesystem
      if (!d) return std::move(d).error();
      dfd = std::move(*d);
    }
    int fd = rel.empty() ? root_fd.get() : dfd.get();
    auto names = sorted_names(fd, rel.empty() ? root : rel);
    if (!names) return std::move(names).error();
    std::vector<std::string> subdirs;
    for (const auto& name : *names) {
      std::string child = rel.empty() ? name : rel + "/" + name;
      struct stat st;
      if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) return Error::from_errno(errno, "stat `" + child + "`");
      COVE_TRY(visit(fd, name, child, st));
      if (S_ISDIR(st.st_mode)) subdirs.push_back(child);
    }
    stack.insert(stack.end(), subdirs.rbegin(), subdirs.rend());
  }
  return {};
}

}  // namespace cove::images
