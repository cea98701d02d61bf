#include "rootfs/masked_paths.hpp"

#include <sys/mount.h>
#include <sys/stat.h>

#include "base/unique_fd.hpp"
#include "rootfs/mount.hpp"

namespace cove::rootfs {

Result<void> mask_paths(int rootfd, const std::vector<std::string>& rels, const std::string& mount_context) {
  constexpr unsigned long kMaskFlags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  // The root of the one empty tmpfs that every masked directory shows, once it is mounted: one
  // superblock for all of them, so a checkpoint archives (and a restore unpacks) one empty
  // tmpfs instead of one per masked directory (CRIU dumps the content of a superblock once and
  // restores its other mounts as binds).
  UniqueFd empty_dir;
  for (const auto& rel : rels) {
    auto fd = open_in_root(rootfd, rel, Create::kNone);
    if (!fd) {
      if (fd.error().code() == ENOENT) continue;
      return std::move(fd).error().context("mask `/" + rel + "`");
    }
    struct stat st;
    if (::fstat(fd->get(), &st) < 0) return Error::from_errno(errno, "stat `/" + rel + "`");
    std::string target = fd_path(fd->get());
    if (S_ISDIR(st.st_mode) && empty_dir) {
      COVE_TRY(bind_in_root(rootfd, fd_path(empty_dir.get()), rel, false, kMaskFlags, Create::kNone));
    } else if (S_ISDIR(st.st_mode)) {
      // Read-only from its first mount on: the superblock itself is read-only.
      COVE_TRY(do_mount("tmpfs", target, "tmpfs", kMaskFlags, with_mount_context("size=0,mode=555", mount_context),
                        "/" + rel));
      auto root = open_in_root(rootfd, rel, Create::kNone);  // now resolves to the tmpfs
      if (!root) return std::move(root).error().context("mask `/" + rel + "`");
      empty_dir = std::move(*root);
    } else {
      if (::mount("/dev/null", target.c_str(), nullptr, MS_BIND, nullptr) < 0)
        return Error::from_errno(errno, "mask `/" + rel + "` with /dev/null");
    }
  }
  return {};
}

Result<void> make_paths_readonly(int rootfd, const std::vector<std::string>& rels) {
  for (const auto& rel : rels) {
    auto r = make_readonly_in_root(rootfd, rel);
    if (!r && r.error().code() != ENOENT) return r;
  }
  return {};
}

}  // namespace cove::rootfs
