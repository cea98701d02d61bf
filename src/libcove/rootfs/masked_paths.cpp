#include "rootfs/masked_paths.hpp"

#include <sys/mount.h>
#include <sys/stat.h>

#include "rootfs/mount.hpp"

namespace cove::rootfs {

Result<void> mask_paths(int rootfd, const std::vector<std::string>& rels, const std::string& mount_context) {
  for (const auto& rel : rels) {
    auto fd = open_in_root(rootfd, rel, Create::kNone);
    if (!fd) {
      if (fd.error().code() == ENOENT) continue;
      return std::move(fd).error().context("mask `/" + rel + "`");
    }
    struct stat st;
    if (::fstat(fd->get(), &st) < 0) return Error::from_errno(errno, "stat `/" + rel + "`");
    std::string target = fd_path(fd->get());
    if (S_ISDIR(st.st_mode)) {
      std::string data = "size=0,mode=555";
      if (!mount_context.empty()) data += ",context=\"" + mount_context + "\"";
      COVE_TRY(do_mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, data, "/" + rel));
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
