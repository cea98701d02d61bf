#include "build/layer_cache.hpp"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "base/dir.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/sha256.hpp"
#include "base/strings.hpp"
#include "container.hpp"
#include "paths.hpp"

namespace cove::build {

namespace {

constexpr const char* kKeyFormat = "cove-build-layer/1";
constexpr std::string_view kScratchPrefix = "tmp-";
constexpr std::string_view kContainerPrefix = "b-";
constexpr int kCacheLockMs = 30000;

// Length-prefixed fields: no two different inputs hash the same text.
void add_field(std::string& out, const std::string& field) { out += fmt::format("{}:{}\n", field.size(), field); }

std::string canonical(const std::string& lxcpath) {
  char* real = ::realpath(lxcpath.c_str(), nullptr);
  if (!real) return absolute_path(lxcpath);
  std::string out(real);
  ::free(real);
  return out;
}

}  // namespace

std::string base_key(const std::string& kind, const std::string& ref, const std::vector<std::string>& args,
                     const std::string& source_hash) {
  std::string in;
  for (const auto& f : {std::string(kKeyFormat), std::string("FROM"), kind, ref}) add_field(in, f);
  add_field(in, std::to_string(args.size()));
  for (const auto& a : args) add_field(in, a);
  add_field(in, source_hash);
  return sha256_hex(in);
}

std::string layer_key(const std::string& parent_key, const std::string& step_text, const std::vector<std::string>& env,
                      const std::string& content_hash) {
  std::string in;
  for (const auto& f : {std::string(kKeyFormat), parent_key, step_text}) add_field(in, f);
  add_field(in, std::to_string(env.size()));
  for (const auto& e : env) add_field(in, e);
  add_field(in, content_hash);
  return sha256_hex(in);
}

LayerCache::LayerCache(const std::string& lxcpath) : lxcpath_(lxcpath), root_(lxcpath + "/.build-cache") {}

bool LayerCache::has(const std::string& key) const { return is_directory(tree(key)); }

Result<void> LayerCache::open() {
  COVE_TRY(mkdir_p(lxcpath_, 0711));
  lxcpath_ = canonical(lxcpath_);
  root_ = lxcpath_ + "/.build-cache";
  if (::mkdir(root_.c_str(), 0700) < 0 && errno != EEXIST) return Error::from_errno(errno, "create `" + root_ + "`");
  if (::chmod(root_.c_str(), 0700) < 0) return Error::from_errno(errno, "chmod `" + root_ + "`");
  COVE_TRY(mkdir_p(root_ + "/layers", 0700));
  COVE_TRY(mkdir_p(containers_dir(), 0711));
  sweep();
  return {};
}

Result<Scratch> LayerCache::make_scratch() {
  // Under the cache lock: a sweep never sees the new scratch before its lock is held.
  auto cache_lock = ContainerLock::acquire(root_ + "/.lock", "the build cache", kCacheLockMs);
  if (!cache_lock) return std::move(cache_lock).error();
  std::string tmpl = root_ + "/" + std::string(kScratchPrefix) + "XXXXXX";
  if (!::mkdtemp(tmpl.data())) return Error::from_errno(errno, "create a scratch dir in `" + root_ + "`");
  auto lock = ContainerLock::acquire(tmpl + "/.lock", "build scratch", 0);
  if (!lock) {
    (void)remove_tree(tmpl);
    return std::move(lock).error();
  }
  return Scratch{basename_of(tmpl).substr(kScratchPrefix.size()), tmpl, std::move(*lock)};
}

Result<void> LayerCache::commit(const Scratch& s, const std::string& key, const std::string& tree_dir,
                                const std::vector<std::pair<std::string, std::string>>& files) {
  std::string layer = s.dir + "/layer";
  if (is_directory(layer)) COVE_TRY(remove_tree(layer));
  if (::mkdir(layer.c_str(), 0700) < 0) return Error::from_errno(errno, "create `" + layer + "`");
  if (::rename(tree_dir.c_str(), (layer + "/tree").c_str()) < 0)
    return Error::from_errno(errno, "move `" + tree_dir + "` into the layer");
  for (const auto& [name, text] : files) COVE_TRY(write_file(layer + "/" + name, text, 0600));
  if (::rename(layer.c_str(), layer_dir(key).c_str()) == 0) return {};
  if (errno != EEXIST && errno != ENOTEMPTY) return Error::from_errno(errno, "store layer `" + key + "`");
  log::debug("layer `{}` was stored by another build meanwhile", key);
  return remove_tree(layer);
}

Result<void> LayerCache::remove_build(const std::string& id, int wait_ms) {
  std::string scratch = root_ + "/" + std::string(kScratchPrefix) + id;
  std::optional<ContainerLock> held;
  if (is_directory(scratch)) {
    auto lock = ContainerLock::acquire(scratch + "/.lock", "build " + id, wait_ms);
    if (!lock) return std::move(lock).error();
    held.emplace(std::move(*lock));
  }
  return remove_locked(id);
}

Result<void> LayerCache::remove_locked(const std::string& id) {
  Container ct(containers_dir(), std::string(kContainerPrefix) + id);
  if (is_directory(containers_dir() + "/" + ct.name()))
    if (auto r = ct.destroy(true); !r) return std::move(r).error().context("remove build container");
  std::string scratch = root_ + "/" + std::string(kScratchPrefix) + id;
  if (is_directory(scratch)) COVE_TRY(remove_tree(scratch));
  return {};
}

Result<void> LayerCache::discard(Scratch& s) { return remove_locked(s.id); }

void LayerCache::sweep() {
  auto cache_lock = ContainerLock::acquire(root_ + "/.lock", "the build cache", kCacheLockMs);
  if (!cache_lock) {
    log::warn("build cache: {}", cache_lock.error().message());
    return;
  }
  std::vector<std::string> ids;
  if (auto dir = Dir::open(root_)) {
    for (const DirEntry& e : *dir) {
      std::string n(e.name);
      if (starts_with(n, kScratchPrefix)) ids.push_back(n.substr(kScratchPrefix.size()));
    }
  }
  if (auto dir = Dir::open(containers_dir())) {
    for (const DirEntry& e : *dir) {
      std::string n(e.name);
      if (starts_with(n, kContainerPrefix) && !is_directory(root_ + "/" + std::string(kScratchPrefix) + n.substr(2)))
        ids.push_back(n.substr(kContainerPrefix.size()));
    }
  }
  for (const auto& id : ids) {
    auto r = remove_build(id, 0);
    if (!r && r.error().code() != EBUSY) log::warn("build cache: left by a killed build `{}`: {}", id, r.error().message());
    else if (r) log::info("build cache: removed what the killed build `{}` left", id);
  }
}

}  // namespace cove::build
