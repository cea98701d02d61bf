#include "rootfs/mount.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "base/syscalls.hpp"

namespace cove::rootfs {

namespace {
std::string clean_rel(const std::string& rel) {
  size_t i = 0;
  while (i < rel.size() && rel[i] == '/') ++i;
  std::string out = rel.substr(i);
  while (!out.empty() && out.back() == '/') out.pop_back();
  return out;
}

Result<UniqueFd> resolve(int rootfd, const std::string& rel, uint64_t flags, mode_t mode = 0) {
  struct open_how how = {};
  how.flags = flags | O_CLOEXEC;
  how.mode = mode;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  int fd = sys::openat2(rootfd, rel.empty() ? "." : rel.c_str(), &how, sizeof how);
  if (fd < 0) return Error::from_errno(errno, "open `/" + rel + "` in rootfs");
  return UniqueFd(fd);
}
}  // namespace

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

namespace {

// Makes `name` (a file or a directory) in the directory `pfd`; one already there is fine.
Result<void> make_entry(int pfd, const std::string& name, bool file, const std::string& shown) {
  if (file) {
    int fd = ::openat(pfd, name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 && errno != EEXIST) return Error::from_errno(errno, "create `/" + shown + "` in rootfs");
    if (fd >= 0) ::close(fd);
  } else if (::mkdirat(pfd, name.c_str(), 0755) < 0 && errno != EEXIST) {
    return Error::from_errno(errno, "mkdir `/" + shown + "` in rootfs");
  }
  return {};
}

// The common case of a missing target, with its parent there: three lookups instead of one per
// component. Anything else (a missing parent, a parent that is not a directory, a `.` or `..`
// component) is left to the walk below, which reports it as it always has.
std::optional<Result<UniqueFd>> make_leaf_in_existing_parent(int rootfd, const std::string& rel, Create create) {
  auto parts = split(rel, '/');
  if (parts.empty() ||
      std::any_of(parts.begin(), parts.end(), [](const std::string& p) { return p.empty() || p == "." || p == ".."; }))
    return std::nullopt;
  auto pfd = resolve(rootfd, dirname_of(rel), O_PATH | O_DIRECTORY);
  if (!pfd) return std::nullopt;
  if (auto r = make_entry(pfd->get(), parts.back(), create == Create::kFile, rel); !r)
    return Result<UniqueFd>(std::move(r).error());
  return resolve(rootfd, rel, O_PATH);
}

}  // namespace

Result<UniqueFd> open_in_root(int rootfd, const std::string& rel_in, Create create) {
  std::string rel = clean_rel(rel_in);
  auto existing = resolve(rootfd, rel, O_PATH);
  if (existing || create == Create::kNone || existing.error().code() != ENOENT) return existing;
  if (auto made = make_leaf_in_existing_parent(rootfd, rel, create)) return std::move(*made);
  // Create missing parents one component at a time, each resolved in the root.
  auto parts = split(rel, '/');
  std::string cur;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].empty() || parts[i] == ".") continue;
    if (parts[i] == "..") return Error(EINVAL, "path `/" + rel + "` has a `..` component");
    std::string parent = cur;
    cur = cur.empty() ? parts[i] : cur + "/" + parts[i];
    bool last = i + 1 == parts.size();
    if (resolve(rootfd, cur, O_PATH)) continue;
    auto pfd = resolve(rootfd, parent, O_PATH | O_DIRECTORY);
    if (!pfd) return std::move(pfd).error();
    COVE_TRY(make_entry(pfd->get(), parts[i], last && create == Create::kFile, cur));
  }
  return resolve(rootfd, rel, O_PATH);
}

Result<void> do_mount(const std::string& source, const std::string& target_path, const char* fstype,
                      unsigned long flags, const std::string& data, const std::string& shown_target) {
  if (::mount(source.c_str(), target_path.c_str(), fstype, flags, data.empty() ? nullptr : data.c_str()) < 0)
    return Error::from_errno(errno, "mount `" + (fstype && *fstype ? std::string(fstype) : source) + "` on `" +
                                        shown_target + "`");
  return {};
}

std::string with_mount_context(std::string data, const std::string& selinux_context) {
  if (!selinux_context.empty()) data += std::string(data.empty() ? "" : ",") + "context=\"" + selinux_context + "\"";
  return data;
}

Result<void> mount_in_root(int rootfd, const std::string& source, const std::string& rel, const char* fstype,
                           unsigned long flags, const std::string& data, Create create) {
  auto fd = open_in_root(rootfd, rel, create);
  if (!fd) return std::move(fd).error();
  return do_mount(source, fd_path(fd->get()), fstype, flags, data, "/" + clean_rel(rel));
}

MountGuard::MountGuard(UniqueFd root) : path_(fd_path(root.get())), root_(std::move(root)) {}

MountGuard::MountGuard(MountGuard&& o) noexcept : path_(std::exchange(o.path_, {})), root_(std::move(o.root_)) {}

MountGuard& MountGuard::operator=(MountGuard&& o) noexcept {
  if (this != &o) {
    if (armed()) (void)unmount();
    path_ = std::exchange(o.path_, {});
    root_ = std::move(o.root_);
  }
  return *this;
}

MountGuard::~MountGuard() {
  if (!armed()) return;
  int saved = errno;
  if (auto r = unmount(); !r) log::warn("undo a mount: {}", r.error().message());
  errno = saved;
}

void MountGuard::commit() {
  path_.clear();
  root_.reset();
}

Result<void> MountGuard::unmount() {
  if (!armed()) return {};
  std::string path = std::exchange(path_, {});
  int r = ::umount2(path.c_str(), MNT_DETACH);
  int err = errno;
  root_.reset();
  if (r < 0) return Error::from_errno(err, "unmount `" + path + "`");
  return {};
}

namespace {
constexpr unsigned long kRemountable =
    MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME;

// The bind remount of the mount `top` (an O_PATH fd opened on its root) with `extra`; the bind
// is undone if the remount fails (it would otherwise stay, without its flags).
Result<void> remount_top(UniqueFd top, unsigned long extra, const std::string& shown) {
  std::string target = fd_path(top.get());
  MountGuard bind(std::move(top));
  if (::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | extra, nullptr) < 0)
    return Error::from_errno(errno, "remount `" + shown + "` with its options");
  bind.commit();
  return {};
}
}  // namespace

// After a bind: the mount flags the bind itself cannot set, by a bind remount.
Result<void> remount_in_root(int rootfd, const std::string& rel, unsigned long flags) {
  unsigned long extra = flags & kRemountable;
  if (!extra) return {};
  // Re-open: an fd opened before the bind still names the directory underneath it.
  auto top = open_in_root(rootfd, rel, Create::kNone);
  if (!top) return std::move(top).error();
  return remount_top(std::move(*top), extra, "/" + clean_rel(rel));
}

Result<void> bind_in_root(int rootfd, const std::string& source, const std::string& rel, bool recursive,
                          unsigned long flags, Create create) {
  auto fd = open_in_root(rootfd, rel, create);
  if (!fd) return std::move(fd).error();
  std::string target = fd_path(fd->get());
  if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND | (recursive ? MS_REC : 0), nullptr) < 0)
    return Error::from_errno(errno, "bind `" + source + "` on `/" + clean_rel(rel) + "`");
  return remount_in_root(rootfd, rel, flags);
}

namespace {
// open_tree(OPEN_TREE_CLONE) of `path` at `dirfd` (`extra`: more AT_* flags); `source` names it.
Result<UniqueFd> clone_at(int dirfd, const char* path, unsigned extra, bool recursive, const std::string& source) {
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | extra | (recursive ? AT_RECURSIVE : 0);
  UniqueFd tree(sys::open_tree(dirfd, path, flags));
  if (!tree) return Error::from_errno(errno, "clone mount of `" + source + "`");
  return tree;
}
}  // namespace

Result<UniqueFd> clone_tree(const std::string& source, bool recursive) {
  return clone_at(AT_FDCWD, source.c_str(), 0, recursive, source);
}

Result<UniqueFd> clone_tree_no_symlinks(const std::string& source, bool recursive) {
  struct open_how how = {};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  UniqueFd at(sys::openat2(AT_FDCWD, source.c_str(), &how, sizeof how));
  if (!at && errno == ELOOP)
    return Error(ELOOP, "`" + source + "` has a symlink in its path: give the resolved path (an idmapped bind follows none)");
  if (!at) return Error::from_errno(errno, "open `" + source + "`");
  return clone_at(at.get(), "", AT_EMPTY_PATH, recursive, source);
}

Result<void> attach_in_root(int rootfd, UniqueFd tree, const std::string& rel, unsigned long flags, Create create,
                            const std::string& what) {
  auto fd = open_in_root(rootfd, rel, create);
  if (!fd) return std::move(fd).error();
  if (sys::move_mount(tree.get(), "", fd->get(), "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return Error::from_errno(errno, "bind `" + what + "` on `/" + clean_rel(rel) + "`");
  return remount_in_root(rootfd, rel, flags);
}

Result<void> make_readonly_in_root(int rootfd, const std::string& rel) {
  auto fd = open_in_root(rootfd, rel, Create::kNone);
  if (!fd) return std::move(fd).error();
  std::string shown = "/" + clean_rel(rel);
  if (::mount(fd_path(fd->get()).c_str(), fd_path(fd->get()).c_str(), nullptr, MS_BIND, nullptr) < 0)
    return Error::from_errno(errno, "bind `" + shown + "` on itself");
  // A writable bind must not stay if the remount fails: remount_in_root undoes it.
  return remount_in_root(rootfd, rel, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
}

Result<void> symlink_in_root(int rootfd, const std::string& target, const std::string& rel_in) {
  std::string rel = clean_rel(rel_in);
  auto slash = rel.rfind('/');
  std::string parent = slash == std::string::npos ? "" : rel.substr(0, slash);
  std::string leaf = slash == std::string::npos ? rel : rel.substr(slash + 1);
  auto pfd = open_in_root(rootfd, parent, Create::kDir);
  if (!pfd) return std::move(pfd).error();
  // O_PATH dirfds work with symlinkat.
  if (::symlinkat(target.c_str(), pfd->get(), leaf.c_str()) < 0 && errno != EEXIST)
    return Error::from_errno(errno, "symlink `/" + rel + "`");
  return {};
}

FreshDir::FreshDir(UniqueFd dir, std::string rel) : dir_(std::move(dir)), rel_(clean_rel(rel)) {}

Result<FreshDir> FreshDir::open(int rootfd, const std::string& rel) {
  auto dir = open_in_root(rootfd, rel, Create::kNone);
  if (!dir) return std::move(dir).error();
  return FreshDir(std::move(*dir), rel);
}

Result<UniqueFd> FreshDir::at(const std::string& name) const {
  UniqueFd fd(::openat(dir_.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "open `" + shown(name) + "`");
  return fd;
}

Result<UniqueFd> FreshDir::make(const std::string& name, Create kind) const {
  COVE_TRY(make_entry(dir_.get(), name, kind == Create::kFile, rel_ + "/" + name));
  return at(name);
}

Result<void> FreshDir::mount(const std::string& source, const std::string& name, const char* fstype,
                             unsigned long flags, const std::string& data) const {
  auto target = make(name, Create::kDir);
  if (!target) return std::move(target).error();
  return do_mount(source, fd_path(target->get()), fstype, flags, data, shown(name));
}

Result<void> FreshDir::attach(UniqueFd tree, const std::string& name, unsigned long flags, Create kind,
                              const std::string& what) const {
  COVE_TRY(make_entry(dir_.get(), name, kind == Create::kFile, rel_ + "/" + name));
  if (sys::move_mount(tree.get(), "", dir_.get(), name.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return Error::from_errno(errno, "bind `" + what + "` on `" + shown(name) + "`");
  unsigned long extra = flags & kRemountable;
  if (!extra) return {};
  auto top = at(name);  // the mount's root now
  if (!top) return std::move(top).error();
  return remount_top(std::move(*top), extra, shown(name));
}

Result<void> FreshDir::bind(const std::string& source, const std::string& name) const {
  auto target = make(name, Create::kFile);
  if (!target) return std::move(target).error();
  if (::mount(source.c_str(), fd_path(target->get()).c_str(), nullptr, MS_BIND, nullptr) < 0)
    return Error::from_errno(errno, "bind `" + source + "` on `" + shown(name) + "`");
  return {};
}

Result<void> FreshDir::symlink(const std::string& target, const std::string& name) const {
  if (::symlinkat(target.c_str(), dir_.get(), name.c_str()) < 0)
    return Error::from_errno(errno, "symlink `" + shown(name) + "`");
  return {};
}

std::string FreshDir::shown(const std::string& name) const { return "/" + rel_ + "/" + name; }

}  // namespace cove::rootfs
