#include "images/output_file.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fmt/format.h>

#include "base/dir.hpp"
#include "base/fs.hpp"
#include "base/strings.hpp"

namespace cove::images {

namespace {

std::string mb(uint64_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20); }

Result<void> check_free(const std::string& dir, uint64_t needed) {
  struct statvfs vfs;
  if (::statvfs(dir.c_str(), &vfs) < 0) return Error::from_errno(errno, "statvfs `" + dir + "`");
  uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  if (needed > free_bytes) return Error(ENOSPC, fmt::format("needs {} MB, `{}` has {} MB free", mb(needed), dir, mb(free_bytes)));
  return {};
}

void remove_stale_partials(const std::string& dir, const std::string& prefix) {
  auto d = Dir::open(dir);
  if (!d) return;
  auto names = d->names();
  if (!names) return;
  for (const auto& n : *names) {
    if (!starts_with(n, prefix)) continue;
    std::string p = dir + "/" + n;
    UniqueFd fd(::open(p.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (fd && ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) (void)::unlink(p.c_str());
  }
}

}  // namespace

Result<OutputFile> OutputFile::create(const std::string& path, uint64_t needed, mode_t mode) {
  OutputFile f;
  f.path_ = absolute_path(path);
  f.dir_ = dirname_of(f.path_);
  struct stat st;
  if (::lstat(f.path_.c_str(), &st) == 0) return Error(EEXIST, "`" + path + "` already exists");
  std::string prefix = "." + basename_of(f.path_) + ".partial-";
  remove_stale_partials(f.dir_, prefix);
  COVE_TRY(check_free(f.dir_, needed));
  f.fd_.reset(::open(f.dir_.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, mode));
  if (f.fd_) return f;
  if (errno != EOPNOTSUPP && errno != EISDIR) return Error::from_errno(errno, "create a file in `" + f.dir_ + "`");
  std::string tmpl = f.dir_ + "/" + prefix + "XXXXXX";
  f.fd_.reset(::mkostemp(tmpl.data(), O_CLOEXEC));
  if (!f.fd_) return Error::from_errno(errno, "create `" + tmpl + "`");
  f.partial_ = tmpl;
  if (::flock(f.fd_.get(), LOCK_EX) < 0 || ::fchmod(f.fd_.get(), mode) < 0) return Error::from_errno(errno, "prepare `" + tmpl + "`");
  return f;
}

OutputFile::~OutputFile() {
  if (!partial_.empty() && !committed_) (void)::unlink(partial_.c_str());
}

Result<void> OutputFile::commit() {
  if (::fsync(fd_.get()) < 0) return Error::from_errno(errno, "sync `" + path_ + "`");
  if (partial_.empty()) {
    std::string self = "/proc/self/fd/" + std::to_string(fd_.get());
    if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, path_.c_str(), AT_SYMLINK_FOLLOW) < 0)
      return Error::from_errno(errno, "link `" + path_ + "`");
  } else if (::renameat2(AT_FDCWD, partial_.c_str(), AT_FDCWD, path_.c_str(), RENAME_NOREPLACE) < 0) {
    return Error::from_errno(errno, "rename to `" + path_ + "`");
  }
  committed_ = true;
  UniqueFd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir) (void)::fsync(dir.get());
  return {};
}

}  // namespace cove::images
