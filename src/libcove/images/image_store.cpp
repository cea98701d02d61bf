#include "images/image_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "base/dir.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/scope_exit.hpp"
#include "base/strings.hpp"
#include "base/unique_fd.hpp"
#include "images/archive.hpp"
#include "images/store_detail.hpp"
#include "paths.hpp"

namespace cove::images {

namespace store_detail {

constexpr const char* kTempPrefix = ".tmp-";
const char* const kTempPrefixName = kTempPrefix;
constexpr const char* kAliasTarget = "../sha256/";
constexpr size_t kMinPrefix = 4;

namespace {
bool is_hex(const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789abcdef") == std::string::npos; }

}  // namespace

// flock on a file, released when the fd closes (a killed holder releases it too).
Result<UniqueFd> lock_file(const std::string& path, bool wait) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return Error::from_errno(errno, "open `" + path + "`");
  while (::flock(fd.get(), LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
    if (errno == EINTR) continue;
    return Error::from_errno(errno, "lock `" + path + "`");
  }
  return fd;
}

Result<void> make_dir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) < 0 && errno != EEXIST) return Error::from_errno(errno, "create `" + path + "`");
  struct stat st;
  if (::lstat(path.c_str(), &st) < 0) return Error::from_errno(errno, "stat `" + path + "`");
  if (!S_ISDIR(st.st_mode)) return Error(ENOTDIR, "`" + path + "` is not a directory");
  if ((st.st_mode & 07777) != mode && ::chmod(path.c_str(), mode) < 0) return Error::from_errno(errno, "chmod `" + path + "`");
  return {};
}

namespace {
std::string mb(uint64_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20); }

}  // namespace

// Room for `m`'s rootfs in `dir`: its data, a block per entry, and some slack.
Result<void> check_space(const std::string& dir, const ImageMetadata& m) {
  struct statvfs vfs;
  if (::statvfs(dir.c_str(), &vfs) < 0) return Error::from_errno(errno, "statvfs `" + dir + "`");
  uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  uint64_t needed = m.size + m.entries * 4096 + (16 << 20);
  if (needed > free_bytes)
    return Error(ENOSPC, fmt::format("the image needs {} MB, `{}` has {} MB free", mb(needed), dir, mb(free_bytes)));
  if (vfs.f_files != 0 && m.entries > vfs.f_favail)
    return Error(ENOSPC, fmt::format("the image needs {} inodes, `{}` has {} free", m.entries, dir, vfs.f_favail));
  return {};
}

namespace {
// The hash an alias names; "" when it names nothing valid.
std::string alias_hash(const std::string& link) {
  char buf[256];
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
  if (n <= 0) return "";
  std::string t(buf, static_cast<size_t>(n));
  if (!starts_with(t, kAliasTarget)) return "";
  std::string h = t.substr(std::string(kAliasTarget).size());
  return h.size() == 64 && is_hex(h) ? h : "";
}

Result<std::vector<std::string>> names_in(const std::string& dir) {
  auto d = Dir::open(dir);
  if (!d && d.error().code() == ENOENT) return std::vector<std::string>();
  if (!d) return std::move(d).error();
  auto names = d->names();
  if (!names) return std::move(names).error();
  std::sort(names->begin(), names->end());
  return std::move(*names);
}

}  // namespace

// A temp dir whose lock nobody holds belongs to an import or removal that died.
void remove_stale_temps(const std::string& root) {
  auto names = names_in(root);
  if (!names) return;
  for (const auto& n : *names) {
    if (!starts_with(n, kTempPrefix)) continue;
    std::string dir = root + "/" + n;
    UniqueFd fd(::open((dir + "/.lock").c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (fd && ::flock(fd.get(), LOCK_EX | LOCK_NB) < 0) continue;  // in use
    log::info("image store: removing `{}`, left by an import that did not finish", dir);
    if (auto r = remove_tree(dir); !r) log::warn("image store: {}", r.error().message());
  }
}

}  // namespace store_detail

using namespace store_detail;

ImageStore::ImageStore(const std::string& lxcpath)
    : lxcpath_(ContainerPaths(lxcpath, "x").lxcpath()), root_(lxcpath_ + "/.images") {}

std::vector<std::string> containers_using(const std::string& lxcpath, const std::string& image_dir) {
  std::vector<std::string> out;
  auto names = names_in(lxcpath);
  if (!names) return out;
  for (const auto& n : *names) {
    if (n.empty() || n[0] == '.') continue;
    auto text = read_regular_file(lxcpath + "/" + n + "/config", 1 << 20);
    if (!text) continue;
    for (const auto& line : split(*text, '\n')) {
      auto t = trim(line);
      auto eq = t.find('=');
      if (eq == std::string_view::npos || trim(t.substr(0, eq)) != "lower") continue;
      std::string v(trim(t.substr(eq + 1)));
      if (v == image_dir || starts_with(v, image_dir + "/")) {
        out.push_back(n);
        break;
      }
    }
  }
  return out;
}

Result<std::string> ImageStore::config_text(const StoredImage& image) {
  return read_regular_file(image.config_file(), kMaxSmallEntry);
}

Result<void> ImageStore::set_alias(const std::string& alias, const std::string& hash) {
  if (auto r = validate_name(alias); !r) return Error::invalid("alias: " + r.error().message());
  std::string link = alias_dir() + "/" + alias, tmp = alias_dir() + "/." + alias + ".new";
  (void)::unlink(tmp.c_str());
  if (::symlink((kAliasTarget + hash).c_str(), tmp.c_str()) < 0) return Error::from_errno(errno, "create `" + tmp + "`");
  if (::rename(tmp.c_str(), link.c_str()) < 0) return Error::from_errno(errno, "rename to `" + link + "`");
  return {};
}

std::string ImageStore::image_of_rootfs(const std::string& path) const {
  std::string prefix = sha_dir() + "/", suffix = "/rootfs";
  if (!starts_with(path, prefix) || path.size() != prefix.size() + 64 + suffix.size() || !path.ends_with(suffix))
    return "";
  std::string hash = path.substr(prefix.size(), 64);
  if (!is_hex(hash) || !is_directory(path)) return "";
  return hash;
}

Result<StoredImage> ImageStore::find(const std::string& ref) {
  std::string hash;
  if (validate_name(ref)) hash = alias_hash(alias_dir() + "/" + ref);
  if (hash.empty() && is_hex(ref) && ref.size() >= kMinPrefix) {
    auto names = names_in(sha_dir());
    if (!names) return std::move(names).error();
    std::vector<std::string> matches;
    for (const auto& n : *names)
      if (starts_with(n, ref)) matches.push_back(n);
    if (matches.size() > 1) return Error::invalid(fmt::format("`{}` names {} images; give more digits", ref, matches.size()));
    if (matches.size() == 1) hash = matches[0];
  }
  if (hash.empty() || !is_directory(sha_dir() + "/" + hash))
    return Error(ENOENT, fmt::format("no image `{}` in `{}`", printable(ref), root_));
  StoredImage img;
  img.hash = hash;
  img.dir = sha_dir() + "/" + hash;
  auto text = read_regular_file(img.dir + "/metadata.json", kMaxSmallEntry);
  if (!text) return std::move(text).error().context("image `" + hash + "`");
  auto meta = metadata_from_json(*text);
  if (!meta) return std::move(meta).error().context("image `" + hash + "`");
  img.metadata = std::move(*meta);
  auto aliases = names_in(alias_dir());
  if (!aliases) return std::move(aliases).error();
  for (const auto& a : *aliases)
    if (a[0] != '.' && alias_hash(alias_dir() + "/" + a) == hash) img.aliases.push_back(a);
  return img;
}

Result<std::vector<StoredImage>> ImageStore::list() {
  std::vector<StoredImage> out;
  if (!is_directory(root_)) return out;
  if (::geteuid() == 0) {
    auto lock = lock_file(root_ + "/.lock", true);
    if (!lock) return std::move(lock).error();
    remove_stale_temps(root_);
  }
  auto names = names_in(sha_dir());
  if (!names) return std::move(names).error();
  for (const auto& n : *names) {
    if (n.size() != 64 || !is_hex(n)) continue;
    auto img = find(n);
    if (!img) return std::move(img).error();
    out.push_back(std::move(*img));
  }
  std::stable_sort(out.begin(), out.end(), [](const StoredImage& a, const StoredImage& b) {
    return (a.aliases.empty() ? "~" : a.aliases[0]) < (b.aliases.empty() ? "~" : b.aliases[0]);
  });
  return out;
}

Result<void> ImageStore::remove(const std::string& ref) {
  auto lock = lock_file(root_ + "/.lock", true);
  if (!lock) return std::move(lock).error();
  auto img = find(ref);
  if (!img) return std::move(img).error();
  if (auto users = containers_using(lxcpath_, img->dir); !users.empty())
    return Error(EBUSY, fmt::format("image `{}` is in use by container{} `{}` (its `[rootfs] lower`)", ref,
                                    users.size() > 1 ? "s" : "", join(users, "`, `")));
  for (const auto& a : img->aliases)
    if (::unlink((alias_dir() + "/" + a).c_str()) < 0) return Error::from_errno(errno, "remove alias `" + a + "`");
  // Out of sight in one step; a removal cut short is a stale temp dir for the next import.
  remove_stale_temps(root_);
  std::string doomed = root_ + "/" + kTempPrefix + "rm-" + img->hash.substr(0, 16);
  if (::rename(img->dir.c_str(), doomed.c_str()) < 0) return Error::from_errno(errno, "rename `" + img->dir + "`");
  return remove_tree(doomed);
}

}  // namespace cove::images
