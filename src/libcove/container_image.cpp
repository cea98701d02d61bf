// Container::export_image(): a stopped container's rootfs and config as an image archive.
#include <time.h>

#include <chrono>

#include <fmt/format.h>

#include "base/clock.hpp"
#include "base/fs.hpp"
#include "config/load.hpp"
#include "container.hpp"
#include "images/archive.hpp"
#include "images/export_config.hpp"
#include "images/output_file.hpp"
#include "paths.hpp"
#include "state/container_lock.hpp"
#include "storage/view.hpp"

namespace cove {

namespace {

constexpr int kLockTimeoutMs = 30000;
// A pax header per entry (~1.5 KB before compression) on top of the file data: compression
// only makes the archive smaller than this estimate.
constexpr uint64_t kHeaderBytes = 1536;

std::string utc_now() {
  time_t t = ::time(nullptr);
  struct tm tm;
  char buf[32];
  ::gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<images::ImageMetadata> describe(const std::string& name, const std::string& rootfs, const images::TreeSize& size) {
  images::ImageMetadata m;
  auto os = images::read_os_release(rootfs);
  if (!os) return std::move(os).error();
  m.distro = os->id;
  m.release = os->version;
  m.arch = images::host_arch();
  m.created = utc_now();
  m.cove_version = COVE_VERSION;
  m.size = size.bytes;
  m.entries = size.entries;
  m.source = name;
  return m;
}

}  // namespace

Result<ExportReport> Container::export_image(const std::string& file, const images::ProgressFn& progress) {
  COVE_TRY(validate_name(name_));
  auto started = std::chrono::steady_clock::now();
  ContainerPaths p(lxcpath_, name_);
  if (!exists()) return Error(ENOENT, fmt::format("no container `{}` in `{}`", name_, lxcpath_));
  // Held throughout: no start (nor destroy) changes the rootfs while it is read.
  auto lock = ContainerLock::acquire(p.lock_file(), name_, kLockTimeoutMs);
  if (!lock) return std::move(lock).error();
  auto st = state();
  if (st.state != ContainerState::kStopped)
    return Error(EBUSY, fmt::format("`{}` is {}; stop it before exporting", name_, state_name(st.state)));
  if (st.monitor_died) COVE_TRY(cleanup_stale_locked(st));
  config::LoadOptions lo;
  lo.name = name_;
  lo.default_rootfs = p.rootfs();
  auto cfg = config::load_config(p.config(), lo);
  if (!cfg) return std::move(cfg).error();
  auto config_text = read_file(p.config());
  if (!config_text) return std::move(config_text).error();
  auto view = storage::open_view(p.dir(), *cfg, /*writable=*/false);
  if (!view) return std::move(view).error().context("rootfs of `" + name_ + "`");
  auto size = images::measure_tree(view->path);
  if (!size) return std::move(size).error();
  auto meta = describe(name_, view->path, *size);
  if (!meta) return std::move(meta).error();
  auto out = images::OutputFile::create(file, size->bytes + size->entries * kHeaderBytes);
  if (!out) return std::move(out).error().context("export `" + name_ + "`");
  images::PackOptions po;
  po.shifted = view->shifted ? &*view->shifted : nullptr;
  po.first = {{images::kMetadataEntry, images::metadata_to_json(*meta)},
              {images::kConfigEntry, images::exported_config(*config_text)}};
  po.total = size->bytes;
  po.progress = progress;
  auto packed = images::pack_tree(view->path, out->fd(), po);
  if (!packed) return std::move(packed).error().context("export `" + name_ + "`");
  if (auto r = out->commit(); !r) return std::move(r).error().context("export `" + name_ + "`");
  ExportReport rep;
  rep.metadata = std::move(*meta);
  rep.metadata.content_hash = packed->content_hash;
  rep.file = file;
  rep.archive_bytes = packed->archive_bytes;
  rep.rootfs_bytes = packed->rootfs_bytes;
  rep.wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  return rep;
}

}  // namespace cove
