#include "build/copy_step.hpp"

#include <fcntl.h>
#include <nettle/sha2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <vector>

#include <fmt/format.h>

#include "base/dir.hpp"
#include "base/fs.hpp"
#include "base/strings.hpp"
#include "base/syscalls.hpp"
#include "base/unique_fd.hpp"

namespace cove::build {

namespace {

constexpr int kMaxDepth = 64;

Result<UniqueFd> open_beneath(const std::string& dir, const std::string& rel) {
  UniqueFd base(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!base) return Error::from_errno(errno, "open `" + dir + "`");
  struct open_how how = {};
  how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  UniqueFd fd(sys::openat2(base.get(), rel.c_str(), &how, sizeof how));
  if (!fd) {
    if (errno == EXDEV || errno == ELOOP)
      return Error(errno, fmt::format("COPY source `{}` leads out of the recipe's directory `{}`", rel, dir));
    return Error::from_errno(errno, fmt::format("COPY source `{}` in `{}`", rel, dir));
  }
  return fd;
}

// One entry of the source: `path` relative to the source ("" for itself).
struct SourceEntry {
  std::string path;
  struct stat st;
  int parent = -1;                 // the directory holding it
  std::string name;                // its name there
};
using Visit = std::function<Result<void>(const SourceEntry&)>;

Result<void> walk(int parent, const std::string& name, const std::string& path, int depth, const Visit& visit) {
  SourceEntry e{path, {}, parent, name};
  if (::fstatat(parent, name.c_str(), &e.st, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) < 0)
    return Error::from_errno(errno, "stat `" + path + "`");
  if (!S_ISREG(e.st.st_mode) && !S_ISDIR(e.st.st_mode) && !S_ISLNK(e.st.st_mode))
    return Error::invalid(fmt::format("COPY source `{}` is not a file, directory or symlink", path));
  COVE_TRY(visit(e));
  if (!S_ISDIR(e.st.st_mode)) return {};
  if (depth > kMaxDepth) return Error::invalid(fmt::format("COPY source `{}` is deeper than {} levels", path, kMaxDepth));
  // The source itself ("") is the O_PATH fd `parent`.
  UniqueFd dir(::openat(parent, name.empty() ? "." : name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir) return Error::from_errno(errno, "open `" + path + "`");
  std::vector<std::string> names;
  {
    auto d = Dir::open_at(dir.get());
    if (!d) return std::move(d).error();
    for (const DirEntry& de : *d) names.emplace_back(de.name);
  }
  std::sort(names.begin(), names.end());  // the hash must not depend on directory order
  for (const auto& n : names) COVE_TRY(walk(dir.get(), n, path.empty() ? n : path + "/" + n, depth + 1, visit));
  return {};
}

// The source as (dirfd, name) pairs: its parent opened beneath the recipe's directory.
Result<void> walk_source(const std::string& recipe_dir, const std::string& src, const Visit& visit) {
  auto fd = open_beneath(recipe_dir, src);
  if (!fd) return std::move(fd).error();
  return walk(fd->get(), "", "", 0, visit);
}

Result<std::string> read_link_at(int parent, const std::string& name) {
  std::string buf(4096, '\0');
  ssize_t n = ::readlinkat(parent, name.c_str(), buf.data(), buf.size());
  if (n < 0) return Error::from_errno(errno, "readlink `" + name + "`");
  buf.resize(static_cast<size_t>(n));
  return buf;
}

Result<UniqueFd> open_file(const SourceEntry& e) {
  // The source itself is an O_PATH fd, reopened for reading.
  UniqueFd fd(e.name.empty() ? ::open(fmt::format("/proc/self/fd/{}", e.parent).c_str(), O_RDONLY | O_CLOEXEC)
                             : ::openat(e.parent, e.name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "open `" + e.path + "`");
  return fd;
}

// Opens (making it, owned by the container's root) each directory of `path` in the rootfs.
Result<UniqueFd> open_dir_in_root(int root_fd, const std::string& path) {
  UniqueFd cur(::openat(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!cur) return Error::from_errno(errno, "open the rootfs");
  std::string done;
  for (const auto& comp : split(path, '/')) {
    if (comp.empty() || comp == ".") continue;
    done += "/" + comp;
    struct open_how how = {};
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    UniqueFd next(sys::openat2(root_fd, done.c_str(), &how, sizeof how));
    if (!next && errno == ENOENT) {
      if (::mkdirat(cur.get(), comp.c_str(), 0755) < 0 && errno != EEXIST)
        return Error::from_errno(errno, "mkdir `" + done + "` in the rootfs");
      if (::fchownat(cur.get(), comp.c_str(), 0, 0, AT_SYMLINK_NOFOLLOW) < 0)
        return Error::from_errno(errno, "chown `" + done + "` in the rootfs");
      next.reset(sys::openat2(root_fd, done.c_str(), &how, sizeof how));
    }
    if (!next) return Error::from_errno(errno, "open `" + done + "` in the rootfs");
    cur = std::move(next);
  }
  return cur;
}

bool is_dir_in_root(int root_fd, const std::string& path) {
  struct open_how how = {};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  UniqueFd fd(sys::openat2(root_fd, path.c_str(), &how, sizeof how));
  return static_cast<bool>(fd);
}

Result<void> copy_data(int from, int to, const std::string& what) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(from, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno(errno, "read `" + what + "`");
    if (n == 0) return {};
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return Error::from_errno(errno, "write `" + what + "` in the rootfs");
      off += w;
    }
  }
}

// One source entry written at `target` (an absolute path in the rootfs).
Result<void> write_entry(int root_fd, const SourceEntry& e, const std::string& target) {
  auto parent = open_dir_in_root(root_fd, dirname_of(target));
  if (!parent) return std::move(parent).error();
  std::string name = basename_of(target);
  int pfd = parent->get();
  mode_t mode = e.st.st_mode & 0777;
  if (S_ISDIR(e.st.st_mode)) {
    struct stat st;
    if (::fstatat(pfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode))
      if (::unlinkat(pfd, name.c_str(), 0) < 0) return Error::from_errno(errno, "replace `" + target + "`");
    if (::mkdirat(pfd, name.c_str(), mode) < 0 && errno != EEXIST) return Error::from_errno(errno, "mkdir `" + target + "`");
    UniqueFd d(::openat(pfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d || ::fchown(d.get(), 0, 0) < 0 || ::fchmod(d.get(), mode) < 0)
      return Error::from_errno(errno, "own `" + target + "`");
    return {};
  }
  if (::unlinkat(pfd, name.c_str(), 0) < 0 && errno != ENOENT)
    return Error::from_errno(errno, "replace `" + target + "` (a directory?)");
  if (S_ISLNK(e.st.st_mode)) {
    auto link = read_link_at(e.parent, e.name);
    if (!link) return std::move(link).error();
    if (::symlinkat(link->c_str(), pfd, name.c_str()) < 0) return Error::from_errno(errno, "symlink `" + target + "`");
    if (::fchownat(pfd, name.c_str(), 0, 0, AT_SYMLINK_NOFOLLOW) < 0) return Error::from_errno(errno, "own `" + target + "`");
    return {};
  }
  auto in = open_file(e);
  if (!in) return std::move(in).error();
  UniqueFd out(::openat(pfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!out) return Error::from_errno(errno, "create `" + target + "` in the rootfs");
  if (::fchown(out.get(), 0, 0) < 0 || ::fchmod(out.get(), mode) < 0) return Error::from_errno(errno, "own `" + target + "`");
  return copy_data(in->get(), out.get(), target);
}

}  // namespace

Result<std::string> copy_source_hash(const std::string& recipe_dir, const std::string& src) {
  struct sha256_ctx ctx;
  sha256_init(&ctx);
  auto add = [&](const std::string& s) {
    std::string f = fmt::format("{}:", s.size()) + s;
    sha256_update(&ctx, f.size(), reinterpret_cast<const uint8_t*>(f.data()));
  };
  auto r = walk_source(recipe_dir, src, [&](const SourceEntry& e) -> Result<void> {
    add(e.path);
    add(fmt::format("{:o} {}", e.st.st_mode, S_ISREG(e.st.st_mode) ? e.st.st_size : 0));
    if (S_ISLNK(e.st.st_mode)) {
      auto link = read_link_at(e.parent, e.name);
      if (!link) return std::move(link).error();
      add(*link);
    } else if (S_ISREG(e.st.st_mode)) {
      auto fd = open_file(e);
      if (!fd) return std::move(fd).error();
      uint8_t buf[65536];
      for (;;) {
        ssize_t n = ::read(fd->get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::from_errno(errno, "read `" + e.path + "`");
        if (n == 0) break;
        sha256_update(&ctx, static_cast<size_t>(n), buf);
      }
    }
    return {};
  });
  if (!r) return std::move(r).error();
  uint8_t digest[SHA256_DIGEST_SIZE];
  sha256_digest(&ctx, sizeof digest, digest);
  std::string hex;
  for (uint8_t b : digest) hex += fmt::format("{:02x}", b);
  return hex;
}

Result<void> copy_into_root(const std::string& recipe_dir, const std::string& src, int root_fd, const std::string& dst) {
  std::string base = dst;
  bool into = dst.size() > 1 && dst.back() == '/';
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  return walk_source(recipe_dir, src, [&](const SourceEntry& e) -> Result<void> {
    if (e.path.empty()) {
      if (S_ISDIR(e.st.st_mode)) return write_entry(root_fd, e, base);
      if (into || is_dir_in_root(root_fd, base)) base = (base == "/" ? "" : base) + "/" + basename_of(src);
      return write_entry(root_fd, e, base);
    }
    return write_entry(root_fd, e, (base == "/" ? "" : base) + "/" + e.path);
  });
}

}  // namespace cove::build
