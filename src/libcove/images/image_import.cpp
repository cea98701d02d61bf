// ImageStore::import(): archive -> PATH/.images/sha256/HASH, through a locked temp dir.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "base/fs.hpp"
#include "base/scope_exit.hpp"
#include "base/log.hpp"
#include "base/unique_fd.hpp"
#include "images/archive.hpp"
#include "images/image_store.hpp"
#include "images/store_detail.hpp"
#include "paths.hpp"

namespace cove::images {

using namespace store_detail;

namespace {

struct ImportSource {
  UniqueFd fd;
  ImageMetadata metadata;
  std::string config;
};

Result<ImportSource> open_source(const std::string& file) {
  ImportSource s;
  s.fd.reset(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!s.fd) return Error::from_errno(errno, "open `" + file + "`");
  struct stat st;
  if (::fstat(s.fd.get(), &st) < 0) return Error::from_errno(errno, "stat `" + file + "`");
  if (!S_ISREG(st.st_mode)) return Error::invalid("`" + file + "` is not a regular file");
  auto head = read_archive_head(s.fd.get());
  if (!head) return std::move(head).error().context("`" + file + "`");
  auto meta = metadata_from_json(head->metadata);
  if (!meta) return std::move(meta).error().context("`" + file + "`");
  s.metadata = std::move(*meta);
  s.config = std::move(head->config);
  return s;
}

// A temp dir in the store with its lock held (made under the store lock, so that no cleanup
// sees it unlocked).
struct TempImport {
  std::string dir;
  UniqueFd lock;
};

Result<TempImport> make_temp(const std::string& root) {
  auto store_lock = lock_file(root + "/.lock", true);
  if (!store_lock) return std::move(store_lock).error();
  remove_stale_temps(root);
  std::string tmpl = root + "/" + kTempPrefixName + "XXXXXX";
  if (!::mkdtemp(tmpl.data())) return Error::from_errno(errno, "create a temp dir in `" + root + "`");
  TempImport t{tmpl, UniqueFd()};
  auto lock = lock_file(t.dir + "/.lock", false);
  if (!lock) {
    (void)remove_tree(t.dir);
    return std::move(lock).error();
  }
  t.lock = std::move(*lock);
  return t;
}

Result<void> write_image_files(const std::string& dir, const ImageMetadata& m, const std::string& config) {
  COVE_TRY(write_file(dir + "/metadata.json", metadata_to_json(m), 0644));
  COVE_TRY(write_file(dir + "/config", config, 0644));
  if (::chmod(dir.c_str(), 0755) < 0) return Error::from_errno(errno, "chmod `" + dir + "`");
  return {};
}

}  // namespace

Result<ImportReport> ImageStore::import(const std::string& file, const std::string& alias, const ProgressFn& progress) {
  if (!alias.empty())
    if (auto r = validate_name(alias); !r) return Error::invalid("alias: " + r.error().message());
  auto src = open_source(file);
  if (!src) return std::move(src).error();
  COVE_TRY(mkdir_p(lxcpath_, 0711));
  COVE_TRY(make_dir(root_, 0700));
  COVE_TRY(make_dir(sha_dir(), 0755));
  COVE_TRY(make_dir(alias_dir(), 0755));
  COVE_TRY(check_space(root_, src->metadata));
  auto tmp = make_temp(root_);
  if (!tmp) return std::move(tmp).error();
  ScopeExit cleanup([&] { (void)remove_tree(tmp->dir); });
  std::string rootfs = tmp->dir + "/rootfs";
  if (::mkdir(rootfs.c_str(), 0755) < 0) return Error::from_errno(errno, "create `" + rootfs + "`");
  auto unpacked = unpack_tree(src->fd.get(), rootfs, src->metadata.size, progress);
  if (!unpacked) return std::move(unpacked).error().context("import `" + file + "`");
  ImportReport report;
  report.rootfs_bytes = unpacked->rootfs_bytes;
  ImageMetadata meta = src->metadata;
  meta.content_hash = unpacked->content_hash;
  COVE_TRY(write_image_files(tmp->dir, meta, src->config));
  // On disk before it has its name: a crash never leaves a named image half-written.
  UniqueFd root_fd(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd || ::syncfs(root_fd.get()) < 0) return Error::from_errno(errno, "sync `" + root_ + "`");
  auto store_lock = lock_file(root_ + "/.lock", true);
  if (!store_lock) return std::move(store_lock).error();
  std::string final_dir = sha_dir() + "/" + meta.content_hash;
  if (is_directory(final_dir)) {
    report.already_present = true;
    log::info("image `{}` is already in the store; keeping its metadata and config", meta.content_hash);
  } else {
    if (::unlink((tmp->dir + "/.lock").c_str()) < 0) return Error::from_errno(errno, "remove the import lock");
    if (::rename(tmp->dir.c_str(), final_dir.c_str()) < 0) return Error::from_errno(errno, "rename to `" + final_dir + "`");
    cleanup.dismiss();
  }
  if (!alias.empty()) COVE_TRY(set_alias(alias, meta.content_hash));
  auto img = find(meta.content_hash);
  if (!img) return std::move(img).error();
  report.image = std::move(*img);
  return report;
}

}  // namespace cove::images
