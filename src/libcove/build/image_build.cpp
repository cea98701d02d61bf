// build_image(): the recipe's steps in order, each a cache hit or a layer made now, then the
// merged layers packed and imported. The steps themselves are in build_steps.cpp.
#include "build/image_build.hpp"

#include <sys/statvfs.h>
#include <time.h>

#include <fmt/format.h>

#include "base/fs.hpp"
#include "base/interrupt.hpp"
#include "base/scope_exit.hpp"
#include "build/build_steps.hpp"
#include "build/copy_step.hpp"
#include "build/recipe.hpp"
#include "build/watchdog.hpp"
#include "config/edit.hpp"
#include "config/key_table.hpp"
#include "config/load.hpp"
#include "images/archive.hpp"
#include "images/export_config.hpp"
#include "images/output_file.hpp"
#include "paths.hpp"
#include "storage/mount_api.hpp"

namespace cove::build {

namespace {

// A pax header per entry on top of the file data (as container_image.cpp estimates).
constexpr uint64_t kHeaderBytes = 1536;

std::string utc_now(const char* format) {
  time_t t = ::time(nullptr);
  struct tm tm;
  char buf[32];
  ::gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

Result<void> check_free_space(const std::string& dir) {
  struct statvfs sv;
  if (::statvfs(dir.c_str(), &sv) < 0) return Error::from_errno(errno, "statvfs `" + dir + "`");
  uint64_t free = static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize;
  if (free < kMinFreeBytes)
    return Error(ENOSPC, fmt::format("`{}` has {} MiB free; a build step needs at least {} MiB", dir, free >> 20,
                                     kMinFreeBytes >> 20));
  return {};
}

Result<void> check_interrupt() {
  if (interrupted()) return Error(ECANCELED, "interrupted");
  return {};
}

// The image's config: the base's, then each ENV as init.env and each CONFIG key, without what
// belongs to a host; checked by the config parser.
Result<std::string> image_config(const std::string& base, const Recipe& recipe) {
  std::string text = base;
  for (const auto& s : recipe.steps) {
    if (s.kind == StepKind::kEnv) text = config::set_key_in_text(text, "container", "init.env", s.arg + "=" + s.value, true);
    if (s.kind != StepKind::kConfig) continue;
    const auto* spec = config::find_key(s.ref, s.key);
    text = config::set_key_in_text(text, s.ref, s.key, s.value, spec && spec->repeatable);
  }
  text = images::exported_config(text);
  config::LoadOptions lo{"image", "/", false};
  if (auto r = config::load_config_string(text, "the image's config", lo); !r) return std::move(r).error();
  return text;
}

Result<images::ImageMetadata> describe(const std::string& tree, const std::string& source, const std::string& version) {
  auto size = images::measure_tree(tree);
  if (!size) return std::move(size).error();
  auto os = images::read_os_release(tree);
  if (!os) return std::move(os).error();
  images::ImageMetadata m;
  m.distro = os->id;
  m.release = os->version;
  m.arch = images::host_arch();
  m.created = utc_now("%Y-%m-%dT%H:%M:%SZ");
  m.cove_version = COVE_VERSION;
  m.size = size->bytes;
  m.entries = size->entries;
  m.source = source;
  m.version = version;
  return m;
}

class Build {
 public:
  Build(Recipe recipe, LayerCache& cache, Scratch& scratch, int watchdog_fd, const BuildOptions& opts)
      : recipe_(std::move(recipe)), steps_(cache, scratch, watchdog_fd, recipe_.dir), opts_(opts) {}

  Result<BuildReport> run(const std::string& lxcpath);

 private:
  void announce(size_t i, const Step& s, StepEvent::What what) {
    if (opts_.on_step) opts_.on_step(StepEvent{i + 1, recipe_.steps.size(), s.text, what});
  }
  Result<void> do_step(size_t i, const Step& s, BuildReport& rep);
  Result<void> make_image(const std::string& lxcpath, BuildReport& rep);

  Recipe recipe_;
  Steps steps_;
  const BuildOptions& opts_;
  std::vector<Layer> layers_;              // bottom (the base) first
  std::vector<std::string> env_;           // KEY=VALUE, in order
  std::vector<std::string> copy_hashes_;   // per step: a COPY's content hash
};

Result<void> Build::do_step(size_t i, const Step& s, BuildReport& rep) {
  COVE_TRY(check_interrupt());
  if (!s.makes_layer()) {
    if (s.kind == StepKind::kEnv) env_.push_back(s.arg + "=" + s.value);
    announce(i, s, StepEvent::What::kRecorded);
    return {};
  }
  COVE_TRY(check_free_space(steps_.cache().root()));
  std::string key;
  if (s.kind == StepKind::kFrom) {
    auto k = steps_.base_key_of(s);
    if (!k) return std::move(k).error();
    key = *k;
  } else {
    key = layer_key(layers_.back().key, s.text, env_, copy_hashes_[i]);
  }
  auto cached = steps_.find(s, key);
  if (!cached) return std::move(cached).error();
  if (*cached) {
    announce(i, s, StepEvent::What::kCached);
    ++rep.cached;
    layers_.push_back(**cached);
    return {};
  }
  announce(i, s, StepEvent::What::kRunning);
  Result<Layer> made = s.kind == StepKind::kFrom  ? steps_.make_base(s, key)
                       : s.kind == StepKind::kRun ? steps_.run(s, key, layers_, env_)
                                                  : steps_.copy(s, key, layers_);
  if (!made) return std::move(made).error();
  ++rep.ran;
  layers_.push_back(std::move(*made));
  return {};
}

Result<void> Build::make_image(const std::string& lxcpath, BuildReport& rep) {
  COVE_TRY(check_interrupt());
  std::string version = recipe_.version.empty() ? utc_now("%Y%m%d.%H%M%S") : recipe_.version;
  auto config = image_config(layers_.front().config, recipe_);
  if (!config) return std::move(config).error();
  // The merged tree: the only layer itself, or a read-only overlay of them all, detached
  // (reached through our fd only; gone when it closes).
  UniqueFd merged;
  std::string tree = layers_.front().tree;
  if (layers_.size() > 1) {
    std::vector<UniqueFd> fds;
    storage::OverlayLayers ol;
    for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) {
      auto t = storage::clone_path(it->tree);
      if (!t) return std::move(t).error().context("layer `" + it->key + "`");
      ol.lowers.push_back(t->get());
      fds.push_back(std::move(*t));
    }
    auto m = storage::mount_overlay(ol);
    if (!m) return std::move(m).error().context("merge the layers");
    merged = std::move(*m);
    tree = fmt::format("/proc/self/fd/{}", merged.get());
  }
  auto meta = describe(tree, layers_.front().source, version);
  if (!meta) return std::move(meta).error();
  std::string file = steps_.scratch().dir + "/image.tar.zst";
  auto out = images::OutputFile::create(file, meta->size + meta->entries * kHeaderBytes);
  if (!out) return std::move(out).error();
  images::PackOptions po;
  po.first = {{images::kMetadataEntry, images::metadata_to_json(*meta)}, {images::kConfigEntry, *config}};
  po.total = meta->size;
  po.progress = [&](uint64_t done, uint64_t total) {
    if (interrupted()) return false;
    return !opts_.progress || opts_.progress(done, total);
  };
  auto packed = images::pack_tree(tree, out->fd(), po);
  if (!packed) return std::move(packed).error().context("pack the image");
  COVE_TRY(out->commit());
  merged.reset();
  COVE_TRY(check_interrupt());
  auto imported = images::ImageStore(lxcpath).import(file, opts_.alias, po.progress);
  if (!imported) return std::move(imported).error().context("import the image");
  rep.image = std::move(imported->image);
  rep.already_present = imported->already_present;
  rep.version = version;
  return {};
}

Result<BuildReport> Build::run(const std::string& lxcpath) {
  BuildReport rep;
  rep.steps = recipe_.steps.size();
  // Inputs first: every COPY source is read (and hashed) before anything runs.
  copy_hashes_.resize(recipe_.steps.size());
  for (size_t i = 0; i < recipe_.steps.size(); ++i) {
    const auto& s = recipe_.steps[i];
    if (s.kind != StepKind::kCopy) continue;
    auto h = copy_source_hash(recipe_.dir, s.arg);
    if (!h) return std::move(h).error().context(fmt::format("{}:{}", recipe_.file, s.line));
    copy_hashes_[i] = *h;
  }
  for (size_t i = 0; i < recipe_.steps.size(); ++i) {
    const auto& s = recipe_.steps[i];
    if (auto r = do_step(i, s, rep); !r)
      return std::move(r).error().context(fmt::format("step {}/{} ({}:{}) `{}`", i + 1, recipe_.steps.size(),
                                                      recipe_.file, s.line, s.text));
  }
  COVE_TRY(make_image(lxcpath, rep));
  return rep;
}

}  // namespace

Result<BuildReport> build_image(const std::string& lxcpath, const BuildOptions& opts) {
  if (auto r = validate_name(opts.alias); !r) return Error::invalid("alias: " + r.error().message());
  auto recipe = load_recipe(opts.recipe_file);
  if (!recipe) return std::move(recipe).error();
  LayerCache cache(lxcpath);
  COVE_TRY(cache.open());
  auto scratch = cache.make_scratch();
  if (!scratch) return std::move(scratch).error();
  auto watchdog = start_watchdog(cache, scratch->id);
  if (!watchdog) {
    (void)cache.discard(*scratch);
    return std::move(watchdog).error();
  }
  ScopeExit cleanup([&] { (void)cache.discard(*scratch); });
  Build b(std::move(*recipe), cache, *scratch, watchdog->get(), opts);
  return b.run(lxcpath);
}

}  // namespace cove::build
