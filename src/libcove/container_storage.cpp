// The façade's storage operations: copies and snapshot clones (cove-copy), snapshots
// (cove-snapshot), quota growth and what a container takes on disk. Each works on a stopped
// container under its lock; a copy is made under the new name's partial marker and rolled back
// on any failure or Ctrl+C, and the source is only read.
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "base/clock.hpp"
#include "base/fs.hpp"
#include "base/interrupt.hpp"
#include "base/list_dir.hpp"
#include "base/log.hpp"
#include "base/scope_exit.hpp"
#include "base/strings.hpp"
#include "config/edit.hpp"
#include "config/ini_reader.hpp"
#include "config/load.hpp"
#include "container.hpp"
#include "container_internal.hpp"
#include "ns/idmap_registry.hpp"
#include "rootfs/ownership_shift.hpp"
#include "state/container_lock.hpp"
#include "storage/backend.hpp"
#include "storage/rootfs_edit.hpp"
#include "storage/view.hpp"

namespace cove {
namespace {

using config::StorageBackend;
using detail::kLockTimeoutMs;

Result<void> require_stopped(const Container& c) {
  auto st = c.state();
  if (st.state != ContainerState::kStopped)
    return Error(EBUSY, fmt::format("`{}` is {}; stop it first", c.name(), state_name(st.state)));
  return {};
}

Result<std::unique_ptr<storage::Backend>> backend_of(const config::ContainerConfig& cfg) {
  return storage::backend_for(cfg.storage.backend);
}

Result<StorageBackend> parse_backend_name(const std::string& name) {
  for (auto b : {StorageBackend::kDir, StorageBackend::kOverlay, StorageBackend::kLoop, StorageBackend::kBtrfs})
    if (name == config::storage_backend_name(b)) return b;
  return Error::invalid("`" + name + "` is not a storage backend (allowed: dir, overlay, loop, btrfs)");
}

// --- the copy's storage settings --------------------------------------------------------------

// What backend, quota and lowers the copy gets. A snapshot clone shares the source's files:
// a btrfs snapshot, or an overlay over the source's rootfs (dir) or its lowers (overlay); a
// loop image has no cheaper clone than a sparse (reflinked where possible) copy.
Result<config::StorageConfig> copy_storage_config(const config::ContainerConfig& src, const CopyOptions& o) {
  config::StorageConfig out = src.storage;
  out.ephemeral = o.ephemeral;
  if (o.snapshot || o.ephemeral) {
    if (!o.backend.empty()) return Error::invalid("-B chooses a full copy's backend; a snapshot clone's follows the source's");
    if (src.storage.backend == StorageBackend::kDir) {
      out.backend = StorageBackend::kOverlay;
      out.lower = {src.rootfs};
      out.size = o.size;
    } else if (o.size && src.storage.backend == StorageBackend::kOverlay) {
      return Error::invalid("--size: a snapshot clone of an overlay keeps the source's upper layer and its quota");
    } else if (o.size) {
      out.size = o.size;
    }
    return out;
  }
  if (!o.backend.empty()) {
    auto b = parse_backend_name(o.backend);
    if (!b) return std::move(b).error();
    if (*b == StorageBackend::kOverlay && src.storage.backend != StorageBackend::kOverlay)
      return Error::invalid("a full copy cannot be an overlay (it has no lower layer): use -s for an overlay clone");
    if (*b != StorageBackend::kOverlay) out.lower.clear();
    if (*b == StorageBackend::kDir) out.size.reset();
    out.backend = *b;
  }
  if (o.size) out.size = o.size;
  if (out.backend == StorageBackend::kLoop && !out.size) {
    // A full copy into a loop image needs a size: the source's use plus room to grow.
    return Error::invalid("a copy into backend `loop` needs --size");
  }
  return out;
}

// The source's config text for the copy: without its id ranges, MAC addresses, rootfs path
// and storage keys (set anew), with its hostname if it named itself.
std::string copy_config_text(std::string text, const config::ContainerConfig& src, const std::string& src_default_rootfs,
                             const std::string& new_name, const config::StorageConfig& st) {
  using namespace config;
  text = remove_key_in_text(text, "idmap", "uid");
  text = remove_key_in_text(text, "idmap", "gid");
  for (const auto& nic : src.nics) text = remove_key_in_text(text, "network." + nic.name, "hwaddr");
  if (src.hostname == src.name) text = set_key_in_text(text, "container", "hostname", new_name, false);
  if (src.rootfs == src_default_rootfs) text = remove_key_in_text(text, "container", "rootfs");
  text = remove_key_in_text(text, "container", "ephemeral");
  if (st.ephemeral) text = set_key_in_text(text, "container", "ephemeral", "true", false);
  text = remove_section_in_text(text, "rootfs");
  text += fmt::format("\n[rootfs]\n# cove-copy of `{}`\nbackend = {}\n", src.name, storage_backend_name(st.backend));
  if (st.size) text += fmt::format("size = {}\n", *st.size);
  for (const auto& l : st.lower) text += "lower = " + l + "\n";
  return text;
}

// --- progress and space -----------------------------------------------------------------------

// Reports what the destination filesystem has taken so far against `total`, every 200 ms.
class ProgressWatch {
 public:
  ProgressWatch(const images::ProgressFn& fn, const std::string& dir, uint64_t total) {
    if (!fn) return;
    uint64_t start = free_bytes(dir);
    thread_ = std::thread([this, fn, dir, total, start] {
      while (!stop_) {
        uint64_t now = free_bytes(dir);
        fn(start > now ? start - now : 0, total);
        for (int i = 0; i < 4 && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });
  }
  ~ProgressWatch() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  static uint64_t free_bytes(const std::string& dir) {
    struct statvfs sv;
    if (::statvfs(dir.c_str(), &sv) < 0) return 0;
    return static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize;
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

Result<void> require_space(const std::string& dir, uint64_t need) {
  uint64_t have = ProgressWatch::free_bytes(dir);
  if (have < need + need / 20)
    return Error(ENOSPC, fmt::format("the copy needs about {} MiB, and `{}` has {} MiB free", (need >> 20) + 1, dir,
                                     have >> 20));
  return {};
}

// --- storage of the copy ----------------------------------------------------------------------

// A full copy into another backend: the new storage made empty, both trees mounted here, the
// files copied with cp -a, ids brought back to the container's own if the source's were host ids.
Result<void> copy_across(const ContainerPaths& sp, const config::ContainerConfig& src, const ContainerPaths& dp,
                         const config::ContainerConfig& dst) {
  auto db = backend_of(dst);
  if (!db) return std::move(db).error();
  COVE_TRY((*db)->create(storage::layout_of(dp.dir(), dst)));
  auto from = storage::open_view(sp.dir(), src, false);
  if (!from) return std::move(from).error();
  auto to = storage::open_view(dp.dir(), dst, true);
  if (!to) return std::move(to).error();
  COVE_TRY(storage::copy_tree(from->path + "/.", to->path));
  if (from->shifted) return storage::reshift_tree(to->path, {from->shifted->uid_map, from->shifted->gid_map}, {});
  return {};
}

// The storage of a copy whose config is written: shared (snapshot clone), copied within its
// backend, or copied across backends.
Result<void> make_copy_storage(const ContainerPaths& sp, const config::ContainerConfig& src, const ContainerPaths& dp,
                               const config::ContainerConfig& dst) {
  auto sl = storage::layout_of(sp.dir(), src);
  auto dl = storage::layout_of(dp.dir(), dst);
  auto db = backend_of(dst);
  if (!db) return std::move(db).error();
  if (src.storage.backend == StorageBackend::kDir && dst.storage.backend == StorageBackend::kOverlay)
    return (*db)->create(dl);  // an overlay over the source's rootfs
  if (src.storage.backend != dst.storage.backend) return copy_across(sp, src, dp, dst);
  COVE_TRY((*db)->copy(sl, dl));
  COVE_TRY(mkdir_p(dl.rootfs, 0755));
  if (dst.storage.backend == StorageBackend::kOverlay) return storage::reshift_overlay_upper(dl, sl.maps);
  if (dst.storage.backend == StorageBackend::kLoop && dst.storage.size && src.storage.size &&
      *dst.storage.size > *src.storage.size)
    return (*db)->resize(dl, *dst.storage.size, 0);
  return {};
}

}  // namespace

Result<void> Container::copy(const CopyOptions& opts) {
  COVE_TRY(validate_name(name_));
  COVE_TRY(validate_name(opts.new_name));
  ContainerPaths sp(lxcpath_, name_);
  if (!exists()) return Error(ENOENT, fmt::format("no container `{}` in `{}`", name_, lxcpath_));
  auto slock = ContainerLock::acquire(sp.lock_file(), name_, kLockTimeoutMs);
  if (!slock) return std::move(slock).error();
  COVE_TRY(require_stopped(*this));
  auto src = detail::load_config_of(sp);
  if (!src) return std::move(src).error();
  auto st = copy_storage_config(*src, opts);
  if (!st) return std::move(st).error();
  auto text = config::read_config_text(sp.config());
  if (!text) return std::move(text).error();

  std::string dpath = opts.new_path.empty() ? lxcpath_ : opts.new_path;
  COVE_TRY(mkdir_p(dpath, 0711));
  ContainerPaths dp(dpath, opts.new_name);
  // What the copy will take: nothing to speak of for a clone that shares the source's files
  // (an overlay over it, a btrfs snapshot), else what the source takes (a walk of its tree).
  bool shares = (st->backend == StorageBackend::kOverlay && src->storage.backend == StorageBackend::kDir) ||
                ((opts.snapshot || opts.ephemeral) && src->storage.backend == StorageBackend::kBtrfs);
  uint64_t total = 0;
  if (!shares) {
    auto b = backend_of(*src);
    if (!b) return std::move(b).error();
    auto used = (*b)->used_bytes(storage::layout_of(sp.dir(), *src));
    if (used) {
      total = *used;
      COVE_TRY(require_space(dpath, total));
    }
  }
  COVE_TRY(detail::claim_container_dir(opts.new_name, dp));
  ScopeExit rollback([&] { detail::remove_container_files(dp); });
  auto dlock = ContainerLock::acquire(dp.lock_file(), opts.new_name, kLockTimeoutMs);
  if (!dlock) return std::move(dlock).error();
  COVE_TRY(write_file(dp.partial_marker(), "cove-copy in progress\n"));
  std::string dtext = copy_config_text(*text, *src, sp.rootfs(), opts.new_name, *st);
  COVE_TRY(write_file(dp.config(), dtext, 0644));
  auto dcfg = detail::load_config_of(dp, false);
  if (!dcfg) return std::move(dcfg).error().context("the copy's config");
  if (auto ids = detail::claim_host_ids(dp, *dcfg, dtext); !ids) return std::move(ids).error();
  dcfg = detail::load_config_of(dp);
  if (!dcfg) return std::move(dcfg).error().context("the copy's config");
  {
    ProgressWatch watch(shares ? images::ProgressFn() : opts.progress, dpath, total);
    COVE_TRY(make_copy_storage(sp, *src, dp, *dcfg));
  }
  if (interrupted()) return Error(EINTR, "interrupted");
  COVE_TRY(detail::personalize_rootfs(dp, *dcfg, name_));
  if (interrupted()) return Error(EINTR, "interrupted");
  if (::unlink(dp.partial_marker().c_str()) < 0) return Error::from_errno(errno, "remove partial marker");
  rollback.dismiss();
  return {};
}

// --- snapshots --------------------------------------------------------------------------------

namespace {

Result<void> check_snapshot_name(const std::string& name) {
  if (auto r = validate_name(name); !r) return Error::invalid("snapshot name `" + name + "`: " + r.error().message());
  return {};
}

std::string next_snapshot_name(const std::string& dir) {
  for (int i = 0;; ++i) {
    std::string n = "snap" + std::to_string(i);
    if (!path_exists(dir + "/" + n)) return n;
  }
}

struct Locked {
  ContainerPaths p;
  config::ContainerConfig cfg;
  std::unique_ptr<storage::Backend> backend;
  storage::Layout layout;
};

// The stopped container under its lock, with its storage.
Result<Locked> open_stopped(const Container& c, std::optional<ContainerLock>& lock) {
  ContainerPaths p(c.lxcpath(), c.name());
  if (!c.exists()) return Error(ENOENT, fmt::format("no container `{}` in `{}`", c.name(), c.lxcpath()));
  auto l = ContainerLock::acquire(p.lock_file(), c.name(), kLockTimeoutMs);
  if (!l) return std::move(l).error();
  lock.emplace(std::move(*l));
  COVE_TRY(require_stopped(c));
  auto cfg = detail::load_config_of(p);
  if (!cfg) return std::move(cfg).error();
  auto b = backend_of(*cfg);
  if (!b) return std::move(b).error();
  auto layout = storage::layout_of(p.dir(), *cfg);
  return Locked{p, std::move(*cfg), std::move(*b), std::move(layout)};
}

}  // namespace

Result<std::string> Container::snapshot_create(const std::string& name) {
  std::optional<ContainerLock> lock;
  auto c = open_stopped(*this, lock);
  if (!c) return std::move(c).error();
  std::string dir = c->layout.snapshots_dir();
  COVE_TRY(mkdir_p(dir, 0700));
  std::string snap = name.empty() ? next_snapshot_name(dir) : name;
  COVE_TRY(check_snapshot_name(snap));
  std::string tmp = dir + "/." + snap + ".partial";
  if (path_exists(dir + "/" + snap)) return Error(EEXIST, fmt::format("`{}` has a snapshot `{}` already", name_, snap));
  (void)c->backend->destroy_snapshot(c->layout, tmp);
  COVE_TRY(mkdir_p(tmp, 0700));
  ScopeExit rollback([&] { (void)c->backend->destroy_snapshot(c->layout, tmp); });
  COVE_TRY(write_file(tmp + "/created", std::to_string(realtime_ms()) + "\n", 0600));
  COVE_TRY(c->backend->snapshot(c->layout, tmp));
  if (interrupted()) return Error(EINTR, "interrupted");
  if (::rename(tmp.c_str(), (dir + "/" + snap).c_str()) < 0) return Error::from_errno(errno, "name snapshot `" + snap + "`");
  rollback.dismiss();
  return snap;
}

Result<std::vector<SnapshotInfo>> Container::snapshot_list() const {
  ContainerPaths p(lxcpath_, name_);
  if (!exists()) return Error(ENOENT, fmt::format("no container `{}` in `{}`", name_, lxcpath_));
  std::vector<SnapshotInfo> out;
  std::string dir = p.dir() + "/snapshots";
  if (!is_directory(dir)) return out;
  auto names = list_dir(dir);
  if (!names) return std::move(names).error();
  for (const auto& n : *names) {
    if (n.empty() || n[0] == '.') continue;
    SnapshotInfo s;
    s.name = n;
    if (auto t = read_file(dir + "/" + n + "/created")) s.created_ms = static_cast<int64_t>(parse_uint(trim(*t)).value_or(0));
    if (auto b = storage::tree_bytes(dir + "/" + n)) s.bytes = *b;
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const SnapshotInfo& a, const SnapshotInfo& b) { return a.created_ms < b.created_ms; });
  return out;
}

Result<void> Container::snapshot_restore(const std::string& name) {
  COVE_TRY(check_snapshot_name(name));
  std::optional<ContainerLock> lock;
  auto c = open_stopped(*this, lock);
  if (!c) return std::move(c).error();
  std::string snap = c->layout.snapshots_dir() + "/" + name;
  if (!is_directory(snap)) return Error(ENOENT, fmt::format("`{}` has no snapshot `{}`", name_, name));
  return c->backend->restore_snapshot(c->layout, snap);
}

Result<void> Container::snapshot_destroy(const std::string& name) {
  COVE_TRY(check_snapshot_name(name));
  std::optional<ContainerLock> lock;
  ContainerPaths p(lxcpath_, name_);
  auto l = ContainerLock::acquire(p.lock_file(), name_, kLockTimeoutMs);
  if (!l) return std::move(l).error();
  auto cfg = detail::load_config_of(p);
  if (!cfg) return std::move(cfg).error();
  auto b = backend_of(*cfg);
  if (!b) return std::move(b).error();
  auto layout = storage::layout_of(p.dir(), *cfg);
  std::string snap = layout.snapshots_dir() + "/" + name;
  if (!is_directory(snap)) return Error(ENOENT, fmt::format("`{}` has no snapshot `{}`", name_, name));
  return (*b)->destroy_snapshot(layout, snap);
}

// --- quota ------------------------------------------------------------------------------------

Result<void> Container::resize(uint64_t size) {
  ContainerPaths p(lxcpath_, name_);
  if (!exists()) return Error(ENOENT, fmt::format("no container `{}` in `{}`", name_, lxcpath_));
  auto lock = ContainerLock::acquire(p.lock_file(), name_, kLockTimeoutMs);
  if (!lock) return std::move(lock).error();
  auto cfg = detail::load_config_of(p);
  if (!cfg) return std::move(cfg).error();
  if (cfg->storage.size && size < *cfg->storage.size)
    return Error::invalid(fmt::format("{} bytes is below the current size {}; shrinking is not supported", size,
                                      *cfg->storage.size));
  auto b = backend_of(*cfg);
  if (!b) return std::move(b).error();
  auto st = state();
  pid_t init = st.state == ContainerState::kStopped ? 0 : st.runtime.init_pid;
  auto text = config::read_config_text(p.config());
  if (!text) return std::move(text).error();
  std::string edited = config::set_key_in_text(*text, "rootfs", "size", std::to_string(size), false);
  if (auto r = config::load_config_string(edited, p.config(), config::LoadOptions{p.name(), p.rootfs()}); !r)
    return std::move(r).error();
  COVE_TRY((*b)->resize(storage::layout_of(p.dir(), *cfg), size, init));
  return write_file_atomic(p.config(), edited, 0644);
}

Result<StorageInfo> Container::storage_info() const {
  ContainerPaths p(lxcpath_, name_);
  auto cfg = detail::load_config_of(p);
  if (!cfg) return std::move(cfg).error();
  auto b = backend_of(*cfg);
  if (!b) return std::move(b).error();
  StorageInfo out;
  out.backend = (*b)->name();
  out.size = cfg->storage.size;
  out.lower = cfg->storage.lower;
  if (auto u = (*b)->used_bytes(storage::layout_of(p.dir(), *cfg))) out.used_bytes = *u;
  return out;
}

Result<void> Container::destroy_if_ephemeral() {
  ContainerPaths p(lxcpath_, name_);
  auto cfg = detail::load_config_of(p, false);
  if (!cfg || !cfg->storage.ephemeral) return {};
  return destroy(false);
}

namespace detail {

// The copy's own identity inside: /etc/hostname and /etc/hosts name it, and an empty
// /etc/machine-id makes systemd generate a new one at its first boot.
Result<void> personalize_rootfs(const ContainerPaths& p, const config::ContainerConfig& cfg, const std::string& old_name) {
  auto view = storage::open_view(p.dir(), cfg, true);
  if (!view) return std::move(view).error();
  if (!old_name.empty() && old_name != cfg.name) {
    COVE_TRY(storage::replace_word_in_root_file(view->path, "etc/hostname", old_name, cfg.name));
    COVE_TRY(storage::replace_word_in_root_file(view->path, "etc/hosts", old_name, cfg.name));
  }
  return storage::truncate_root_file(view->path, "etc/machine-id");
}

void remove_container_files(const ContainerPaths& p) {
  if (auto cfg = load_config_of(p, false)) {
    if (auto b = storage::backend_for(cfg->storage.backend)) {
      if (auto r = (*b)->destroy(storage::layout_of(p.dir(), *cfg)); !r) log::warn("{}", r.error().message());
    }
  }
  if (auto r = remove_tree(p.dir()); !r) log::warn("{}", r.error().message());
  (void)ns::registry_release(p.config());
}

}  // namespace detail
}  // namespace cove
