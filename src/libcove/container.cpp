#include "container.hpp"
#include "container_internal.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <thread>
#include <fmt/format.h>

#include "base/clock.hpp"
#include "base/dir.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/proc_stat.hpp"
#include "base/scope_exit.hpp"
#include "base/sealed_exec.hpp"
#include "base/syscalls.hpp"
#include "cgroup/cgroup.hpp"
#include "config/edit.hpp"
#include "config/ini_reader.hpp"
#include "config/load.hpp"
#include "config/lxc_keys.hpp"
#include "host_ids.hpp"
#include "images/image_store.hpp"
#include "monitor/command_client.hpp"
#include "monitor/launch.hpp"
#include "network/container_network.hpp"
#include "lifecycle/exec_record.hpp"
#include "lifecycle/lxcfs.hpp"
#include "lifecycle/security_plan.hpp"
#include "ns/idmap.hpp"
#include "ns/idmap_registry.hpp"
#include "paths.hpp"
#include "rootfs/host_access.hpp"
#include "state/container_lock.hpp"
#include "storage/backend.hpp"
#include "storage/view.hpp"
#include "templates/template_runner.hpp"

#ifndef COVE_CONFDIR
#define COVE_CONFDIR "/usr/local/share/cove/config"
#endif

namespace cove {

namespace {

// SIGKILL to the process a state file recorded, only if `pid` still names it (same start time).
// The pidfd is opened first and checked after: a pid recycled before the open fails the start
// time check, one recycled after it cannot be reached through the pidfd. Gone: nothing to do.
void kill_if_still_running(pid_t pid, uint64_t starttime) {
  if (pid <= 0) return;
  UniqueFd pidfd(sys::pidfd_open(pid, 0));
  if (!pidfd || !process_matches(pid, starttime)) return;
  // ESRCH: it has just exited. The cgroup removal after this kills what is left anyway.
  (void)sys::pidfd_send_signal(pidfd.get(), SIGKILL, nullptr, 0);
}
using detail::kLockTimeoutMs;

Result<config::ContainerConfig> load(const ContainerPaths& p, bool validate = true) {
  config::LoadOptions lo;
  lo.name = p.name();
  lo.default_rootfs = p.rootfs();
  lo.validate = validate;
  return config::load_config(p.config(), lo);
}

// A NIC without `hwaddr` gets one now, written into the config (under the container lock), so
// that it keeps its MAC across restarts, checkpoint/restore and migration.
Result<void> assign_hwaddrs(const ContainerPaths& p, config::ContainerConfig& cfg) {
  bool missing = std::any_of(cfg.nics.begin(), cfg.nics.end(), [](const config::NicConfig& n) {
    return !n.hwaddr && n.type != config::NicType::kPhys;
  });
  if (!missing) return {};
  auto text = config::read_config_text(p.config());
  if (!text) return std::move(text).error();
  std::string edited = *text;
  for (auto& n : cfg.nics) {
    if (n.hwaddr || n.type == config::NicType::kPhys) continue;
    n.hwaddr = MacAddress::random();
    edited = config::set_key_in_text(edited, "network." + n.name, "hwaddr", n.hwaddr->str(), false);
  }
  if (auto r = config::load_config_string(edited, p.config(), config::LoadOptions{p.name(), p.rootfs()}); !r)
    return std::move(r).error().context("config with generated hwaddr");
  return write_file_atomic(p.config(), edited, 0644);
}

// Host id ranges already taken: other containers of this path and /etc/sub[ug]id delegations.
std::vector<ns::HostRange> used_ranges(const std::string& lxcpath, const std::string& self) {
  std::vector<ns::HostRange> used;
  for (const char* f : {"/etc/subuid", "/etc/subgid"})
    if (auto t = read_file(f)) {
      auto r = ns::parse_subid(*t);
      used.insert(used.end(), r.begin(), r.end());
    }
  if (auto names = Container::list(lxcpath)) {
    for (const auto& n : *names) {
      if (n == self) continue;
      if (auto t = config::read_config_text(ContainerPaths(lxcpath, n).config())) {
        for (const char* key : {"uid", "gid"}) {
          auto r = ns::scan_config_ranges(*t, key);
          used.insert(used.end(), r.begin(), r.end());
        }
      }
    }
  }
  return used;
}

// A start holds the container lock until its monitor reports (running, or gone), and before its
// monitor has a command socket the container is STARTING with nobody to ask to stop: taking
// the lock (and letting it go) waits for such a start.
Result<void> wait_for_start_in_progress(const ContainerPaths& p) {
  auto lock = ContainerLock::acquire(p.lock_file(), p.name(), kLockTimeoutMs);
  if (!lock) return std::move(lock).error();
  return {};
}

Result<uint64_t> allocate_idmap(const ContainerPaths& p, std::string& config_text) {
  // Serialise allocations in this path so two concurrent creates never pick one range.
  auto lock = ContainerLock::acquire(p.lxcpath() + "/.idmap.lock", "id map pool", kLockTimeoutMs);
  if (!lock) return std::move(lock).error();
  // Host-wide: the registry holds every cove path's ranges; this path's configs are scanned too,
  // for containers created before the registry existed.
  auto base = ns::registry_allocate(p.config(), used_ranges(p.lxcpath(), p.name()));
  if (!base) return std::move(base).error();
  config_text += fmt::format(
      "\n[idmap]\n# Allocated by cove-create from the host id pool: container ids 0-{} are host ids {}-{}.\n"
      "uid = 0 {} {}\ngid = 0 {} {}\n",
      ns::kRangeSize - 1, *base, *base + ns::kRangeSize - 1, *base, ns::kRangeSize, *base, ns::kRangeSize);
  if (auto r = write_file(p.config(), config_text, 0644); !r) return std::move(r).error();
  return *base;
}
}  // namespace

Container::Container(std::string lxcpath, std::string name) : lxcpath_(std::move(lxcpath)), name_(std::move(name)) {
  lxcpath_ = ContainerPaths(lxcpath_, name_).lxcpath();
}

bool Container::exists() const {
  if (!validate_name(name_)) return false;
  ContainerPaths p(lxcpath_, name_);
  return path_exists(p.config()) && !path_exists(p.partial_marker());
}

namespace {

constexpr std::string_view kImagePrefix = "image:";
bool is_image_source(const std::string& t) { return t.rfind(kImagePrefix, 0) == 0; }

// `cove-create -t image:REF`: an image of the cove path's store (images/image_store.hpp).
struct ImageSource {
  std::string ref, rootfs, config_text;
  std::string source;  // the container it was exported from (its name is in /etc/hostname)
};

Result<std::optional<ImageSource>> find_image(const std::string& lxcpath, const CreateOptions& opts) {
  if (!is_image_source(opts.template_name)) return std::optional<ImageSource>();
  std::string ref = opts.template_name.substr(kImagePrefix.size());
  if (!opts.template_args.empty()) return Error::invalid("`-t image:" + ref + "` takes no template arguments");
  images::ImageStore store(lxcpath);
  auto img = store.find(ref);
  if (!img) return std::move(img).error().context("image `" + ref + "`");
  auto text = store.config_text(*img);
  if (!text) return std::move(text).error().context("image `" + ref + "`");
  return std::optional<ImageSource>(ImageSource{ref, img->rootfs(), *text, img->metadata.source});
}

// The inputs, checked before anything is made, so errors name the user's own file and lines.
// Returns the template's executable ("" without a template).
Result<std::string> check_create_inputs(const std::string& name, const ContainerPaths& p, const CreateOptions& opts) {
  if (!opts.config_file.empty()) {
    config::LoadOptions lo;
    lo.name = name;
    lo.default_rootfs = p.rootfs();
    lo.validate = false;
    if (auto r = config::load_config(opts.config_file, lo); !r) return std::move(r).error();
  }
  if (opts.template_name.empty() || is_image_source(opts.template_name)) return std::string();
  std::string exe = templates::find_template(opts.template_name);
  if (::access(exe.c_str(), X_OK) < 0)
    return Error::from_errno(errno, "template `" + opts.template_name + "` (looked for `" + exe + "`)");
  return exe;
}

// mkdir is the atomic claim on the name; 0700: no host user may reach the rootfs (start checks
// it again, rootfs::protect_rootfs). Nothing the container runs needs more: the child opens the
// rootfs while it still has host root's fsuid.
Result<void> claim_dir(const std::string& name, const ContainerPaths& p) {
  if (::mkdir(p.dir().c_str(), 0700) == 0) return {};
  if (errno == EEXIST) return Error(EEXIST, fmt::format("container `{}` already exists in `{}`", name, p.lxcpath()));
  return Error::from_errno(errno, "create `" + p.dir() + "`");
}

// PATH/NAME/config: an include of common.conf, then the user's config (or default.conf).
// Returns its text.
// From an image: its config first, then the user's (whose keys win), and unless the user picks
// another backend, an overlay over the image's unpacked base.
Result<std::string> write_initial_config(const std::string& name, const ContainerPaths& p, const CreateOptions& opts,
                                         const std::optional<ImageSource>& image) {
  std::string base_config = opts.config_file.empty() && !image
                                ? find_data("config/default.conf", std::string(COVE_CONFDIR) + "/default.conf")
                                : opts.config_file;
  std::string user_text;
  if (!base_config.empty()) {
    auto t = config::read_config_text(base_config);
    if (!t) return std::move(t).error().context("read config");
    user_text = *t;
  }
  std::string text = fmt::format("# cove container `{}`\ninclude = {}\n", name,
                                 find_data("config/common.conf", std::string(COVE_CONFDIR) + "/common.conf"));
  if (image) text += fmt::format("\n# From image `{}`:\n{}\n", image->ref, image->config_text);
  if (!base_config.empty()) text += fmt::format("\n# From `{}`:\n{}\n", base_config, user_text);
  COVE_TRY(write_file(p.config(), text, 0644));
  if (!image) return text;
  auto cfg = load(p, false);
  if (!cfg) return std::move(cfg).error();
  if (!cfg->origin.count("rootfs.backend")) text = config::set_key_in_text(text, "rootfs", "backend", "overlay", false);
  if (!cfg->origin.count("rootfs.backend") || cfg->storage.backend == config::StorageBackend::kOverlay)
    if (cfg->storage.lower.empty()) text = config::set_key_in_text(text, "rootfs", "lower", image->rootfs, true);
  COVE_TRY(write_file(p.config(), text, 0644));
  return text;
}

// A backend other than an overlay over the image gets a copy of the image's files.
Result<void> fill_from_image(const ContainerPaths& p, const config::ContainerConfig& cfg, const ImageSource& image) {
  if (cfg.storage.backend == config::StorageBackend::kOverlay &&
      std::find(cfg.storage.lower.begin(), cfg.storage.lower.end(), image.rootfs) != cfg.storage.lower.end())
    return {};
  auto view = storage::open_view(p.dir(), cfg, true);
  if (!view) return std::move(view).error();
  if (auto r = storage::copy_tree(image.rootfs + "/.", view->path); !r) return std::move(r).error().context("image `" + image.ref + "`");
  return {};
}

// The host ids of an unprivileged container: a fresh range when the config names none (written
// into the config), else its explicit [idmap] ranges, which must not overlap another
// container's or a user's delegation. Returns the host uid of the container's root.
Result<std::optional<uint32_t>> claim_new_host_ids(const ContainerPaths& p, const config::ContainerConfig& cfg,
                                                   std::string& text) {
  if (cfg.privileged) return std::optional<uint32_t>();
  if (cfg.uid_map.empty() && cfg.gid_map.empty()) {
    auto base = allocate_idmap(p, text);
    if (!base) return std::move(base).error().context("allocate host ids");
    return std::optional<uint32_t>(static_cast<uint32_t>(*base));
  }
  auto ranges = [](const std::vector<config::IdMapEntry>& m) {
    std::vector<ns::HostRange> out;
    for (const auto& e : m) out.push_back({e.host_id, e.count});
    return out;
  };
  COVE_TRY(ns::registry_claim(p.config(), ranges(cfg.uid_map), ranges(cfg.gid_map)));
  return ns::host_id_of(cfg.uid_map, 0);
}

// Runs the template over the new rootfs; the keys it adds must leave a valid config.
Result<void> run_create_template(const std::string& name, const ContainerPaths& p, const std::string& exe,
                                 const config::ContainerConfig& cfg, std::optional<uint32_t> mapped,
                                 const CreateOptions& opts) {
  templates::TemplateRun run;
  run.executable = exe;
  run.name = name;
  run.container_dir = p.dir();
  run.rootfs = cfg.rootfs;
  run.mapped_uid = mapped;
  run.mapped_gid = cfg.privileged ? std::nullopt : ns::host_id_of(cfg.gid_map, 0);
  run.extra_args = opts.template_args;
  COVE_TRY(templates::run_template(run));
  // An LXC template (e.g. /usr/share/lxc/templates/lxc-busybox) appends lxc.* keys: the common
  // ones become cove keys, the others comments, each named in a warning.
  auto written = read_file(p.config());
  if (!written) return std::move(written).error().context("config after template");
  if (written->find("lxc.") != std::string::npos) {
    auto t = config::translate_lxc_keys(*written);
    for (const auto& w : t.warnings) log::warn("template `{}`: {}", exe, w);
    if (t.text != *written) COVE_TRY(write_file(p.config(), t.text, 0644));
  }
  if (auto again = load(p); !again) return std::move(again).error().context("config after template");
  return {};
}

}  // namespace

namespace detail {
Result<config::ContainerConfig> load_config_of(const ContainerPaths& p, bool validate) { return load(p, validate); }
Result<void> claim_container_dir(const std::string& name, const ContainerPaths& p) {
  return claim_dir(name, p);
}
Result<std::optional<uint32_t>> claim_host_ids(const ContainerPaths& p, const config::ContainerConfig& cfg,
                                               std::string& text) {
  return claim_new_host_ids(p, cfg, text);
}
}  // namespace detail

namespace {

// The new container's storage, made empty by its backend. With a template to fill it, it is
// mounted for the template (loop) in this process's own mount namespace: gone when we exit.
Result<std::optional<storage::RootfsView>> prepare_storage(const ContainerPaths& p, const config::ContainerConfig& cfg,
                                                           bool has_template) {
  if (has_template && cfg.storage.backend == config::StorageBackend::kOverlay)
    return Error::invalid("backend `overlay` takes its files from its [rootfs] lower layers: make it with "
                          "`cove-copy -s` or `cove-create -t image:ALIAS`, or without a template");
  auto backend = storage::backend_for(cfg.storage.backend);
  if (!backend) return std::move(backend).error();
  if (auto r = (*backend)->create(storage::layout_of(p.dir(), cfg)); !r)
    return std::move(r).error().context(std::string("backend `") + (*backend)->name() + "`");
  if (!has_template) return std::optional<storage::RootfsView>();
  auto view = storage::open_view(p.dir(), cfg, true);
  if (!view) return std::move(view).error();
  return std::optional<storage::RootfsView>(std::move(*view));
}

}  // namespace

Result<void> Container::create(const CreateOptions& opts) {
  COVE_TRY(validate_name(name_));
  auto template_exe = check_create_inputs(name_, ContainerPaths(lxcpath_, name_), opts);
  if (!template_exe) return std::move(template_exe).error();
  COVE_TRY(mkdir_p(lxcpath_, 0711));
  // Now that PATH exists, its canonical spelling is known (the owner of its id ranges too).
  lxcpath_ = ContainerPaths(lxcpath_, name_).lxcpath();
  ContainerPaths p(lxcpath_, name_);
  auto image = find_image(lxcpath_, opts);
  if (!image) return std::move(image).error();
  COVE_TRY(claim_dir(name_, p));
  ScopeExit rollback([&] { detail::remove_container_files(p); });
  auto lock = ContainerLock::acquire(p.lock_file(), name_, kLockTimeoutMs);
  if (!lock) return std::move(lock).error();
  COVE_TRY(write_file(p.partial_marker(), "cove-create in progress\n"));
  auto text = write_initial_config(name_, p, opts, *image);
  if (!text) return std::move(text).error();
  auto cfg = load(p, /*validate=*/false);
  if (!cfg) return std::move(cfg).error();
  auto mapped = claim_new_host_ids(p, *cfg, *text);
  if (!mapped) return std::move(mapped).error();
  cfg = load(p);
  if (!cfg) return std::move(cfg).error();
  auto view = prepare_storage(p, *cfg, !template_exe->empty());
  if (!view) return std::move(view).error();
  if (!template_exe->empty()) COVE_TRY(run_create_template(name_, p, *template_exe, *cfg, *mapped, opts));
  view->reset();
  if (*image) {
    COVE_TRY(fill_from_image(p, *cfg, **image));
    COVE_TRY(detail::personalize_rootfs(p, *cfg, (*image)->source));
  }
  if (::unlink(p.partial_marker().c_str()) < 0) return Error::from_errno(errno, "remove partial marker");
  rollback.dismiss();
  return {};
}

Result<void> Container::destroy(bool force) {
  COVE_TRY(validate_name(name_));
  ContainerPaths p(lxcpath_, name_);
  if (!is_directory(p.dir())) return Error(ENOENT, fmt::format("no container `{}` in `{}`", name_, lxcpath_));
  COVE_TRY(wait_for_start_in_progress(p));
  auto st = state();
  if (is_busy(st.state)) return busy_error(name_, st.state);
  if (st.state != ContainerState::kStopped) {
    if (!force) return Error(EBUSY, fmt::format("`{}` is {}; stop it first or use -f", name_, state_name(st.state)));
    StopOptions so;
    so.kill = true;
    if (auto r = stop(so); !r && state().state != ContainerState::kStopped) return std::move(r).error();
  }
  auto lock = ContainerLock::acquire(p.lock_file(), name_, kLockTimeoutMs);
  if (!lock) return std::move(lock).error();
  st = state();
  if (st.state != ContainerState::kStopped) return Error(EBUSY, fmt::format("`{}` was started again", name_));
  if (st.monitor_died) COVE_TRY(cleanup_stale_locked(st));
  if (auto cfg = load(p, false)) {
    if (auto r = lifecycle::unload_generated_profile(*cfg); !r) log::warn("{}", r.error().message());
  }
  if (auto cfg = load(p, false)) {
    auto backend = storage::backend_for(cfg->storage.backend);
    if (backend) COVE_TRY((*backend)->destroy(storage::layout_of(p.dir(), *cfg)));
  }
  auto removed = remove_tree(p.dir());
  if (removed) (void)ns::registry_release(p.config());  // stale entries are dropped anyway
  return removed;
}

StateInfo Container::state() const {
  StateInfo out;
  if (!validate_name(name_)) return out;  // no such container; never a path to read
  ContainerPaths p(lxcpath_, name_);
  auto text = read_file(p.state_file());
  if (!text) return out;
  auto rs = decode_runtime_state(*text);
  if (!rs) {
    out.monitor_died = !path_exists(p.command_socket());
    return out;
  }
  // Whose state this is: never act on another container's monitor, init or cgroups.
  if (auto mine = check_runtime_state_owner(*rs, p.dir()); !mine) {
    out.foreign = fmt::format("`{}` is not its runtime dir: {}", p.runtime_dir(), mine.error().message());
    return out;
  }
  out.runtime = *rs;
  // The monitor lock is free once the monitor died, even while it is an unreaped zombie; the
  // pid check tells our monitor from one of the same directory reached through another name.
  if (!is_monitor_lock_held(p.monitor_lock()) || !process_matches(rs->monitor_pid, rs->monitor_starttime)) {
    out.monitor_died = true;
    return out;
  }
  out.state = rs->state;
  return out;
}

Result<void> Container::cleanup_stale_locked(const StateInfo& st) {
  ContainerPaths p(lxcpath_, name_);
  const auto& rs = st.runtime;
  kill_if_still_running(rs.init_pid, rs.init_starttime);
  network::remove_leftovers(p.key(), rs.host_links);
  auto cgs = cgroup::ContainerCgroups::from_recorded(rs.payload_cgroups, rs.monitor_cgroups);
  if (auto r = cgs.destroy(); !r) return std::move(r).error().context("remove stale cgroups");
  release_host_ids(p);
  return remove_tree(p.runtime_dir());
}

Result<bool> Container::cleanup_stale() {
  COVE_TRY(validate_name(name_));
  ContainerPaths p(lxcpath_, name_);
  auto lock = ContainerLock::acquire(p.lock_file(), name_, kLockTimeoutMs);
  if (!lock) return std::move(lock).error();
  auto st = state();
  if (!st.monitor_died) return false;
  COVE_TRY(cleanup_stale_locked(st));
  return true;
}

namespace {

monitor::LaunchOptions launch_options(const std::string& lxcpath, const std::string& name, const StartOptions& opts) {
  monitor::LaunchOptions lo;
  lo.lxcpath = lxcpath;
  lo.name = name;
  lo.log_file = opts.log_file;
  lo.log_level = opts.log_level;
  lo.restore_from = opts.restore_from;
  lo.restore_timeout_s = opts.restore_timeout_s;
  lo.restore_thaw = opts.restore_thaw;
  lo.restore_lazy_pages = opts.restore_lazy_pages;
  lo.init_override = opts.init_override;
  return lo;
}

}  // namespace

Result<int> Container::start(const StartOptions& opts) { return start(opts, nullptr); }

Result<int> Container::start(const StartOptions& opts, RestoreReport* restored) {
  COVE_TRY(validate_name(name_));
  ContainerPaths p(lxcpath_, name_);
  if (!exists()) return Error(ENOENT, fmt::format("no container `{}` in `{}`", name_, lxcpath_));
  // A restore holds the lock until its monitor reports: say so now rather than after the lock's
  // timeout (checked again under the lock).
  if (auto early = state(); is_busy(early.state)) return busy_error(name_, early.state);
  auto lock = ContainerLock::acquire(p.lock_file(), name_, kLockTimeoutMs);
  if (!lock) return std::move(lock).error();
  auto st = state();
  if (!st.foreign.empty()) {
    return Error(EEXIST, fmt::format("`{}` cannot start: {} (remove `{}` only if no monitor of that container runs)",
                                     name_, st.foreign, p.runtime_dir()));
  } else if (st.state == ContainerState::kStopped && is_monitor_lock_held(p.monitor_lock())) {
    // Our key has no live monitor, but the directory has one: it was started under another
    // name (a symlink to its directory).
    return Error(EBUSY, fmt::format("`{}` is already running (a live monitor holds `{}`)", name_, p.monitor_lock()));
  } else if (st.monitor_died) {
    COVE_TRY(cleanup_stale_locked(st));
  } else if (st.state == ContainerState::kStopped && is_directory(p.runtime_dir())) {
    // A runtime dir with no live monitor while we hold the lock: its monitor died before it
    // recorded anything (every monitor is started under this lock and reports before release).
    COVE_TRY(remove_tree(p.runtime_dir()));
  } else if (is_busy(st.state)) {
    return busy_error(name_, st.state);
  } else if (st.state != ContainerState::kStopped)
    return Error(EBUSY, fmt::format("`{}` is already {}", name_, st.state == ContainerState::kRunning
                                                                     ? "running"
                                                                     : state_name(st.state)));
  auto lo = launch_options(lxcpath_, name_, opts);
  // Detached, the monitor execs while the checks below run; it reads the config meanwhile but
  // touches nothing of the container before `go`, and ends at once if this returns without one
  // (monitor/launch.hpp).
  std::optional<monitor::DetachedStart> detached;
  if (!opts.foreground) {
    auto spawned = monitor::DetachedStart::spawn(lo);
    if (!spawned) return std::move(spawned).error();
    detached = std::move(*spawned);
  }
  auto cfg = load(p);
  if (!cfg) return std::move(cfg).error();
  if (auto r = assign_hwaddrs(p, *cfg); !r) return std::move(r).error().context("network");
  // A start without LXCFS is said on the caller's terminal too (the monitor logs it again in
  // its log), and a configured LXCFS path that is not one fails before anything is changed or
  // started. A restore decides in the monitor, by what its images hold (lifecycle/restore.cpp).
  if (opts.restore_from.empty()) {
    if (auto lx = lifecycle::lxcfs_dir_for(*cfg); !lx) return std::move(lx).error();
  }
  // Start and restore (of a copied or migrated directory too) pass here, whatever the backend.
  if (auto r = rootfs::protect_rootfs(p.dir(), cfg->rootfs); !r) return std::move(r).error().context("rootfs access");
  if (auto r = claim_host_ids(p, *cfg, opts.ids_shared_with); !r) return std::move(r).error().context("host ids");

  if (opts.foreground) return monitor::run_foreground(lo, lock->release_fd(), opts.inherit_stdio);
  // Init's restrictions (its seccomp policy compiled) are computed here, from the config just
  // checked, while the monitor starts up; a restore takes what its images hold instead.
  monitor::DetachedStart::RestrictionsFn restrictions;
  if (opts.restore_from.empty()) restrictions = [&cfg] { return lifecycle::make_exec_restrictions(*cfg); };
  auto started = detached->go(restrictions);
  if (!started) return std::move(started).error();
  if (restored && *started) {
    const auto& r = **started;
    restored->init_pid = r.init_pid;
    restored->criu_version = r.criu_version;
    restored->wall_ms = r.wall_ms;
    restored->restore_time_us = r.stats.restore_time_us;
    restored->forking_time_us = r.stats.forking_time_us;
    restored->pages_restored = r.stats.pages_restored;
  }
  return 0;
}

Result<void> Container::stop(const StopOptions& opts) {
  COVE_TRY(validate_name(name_));
  ContainerPaths p(lxcpath_, name_);
  auto st = state();
  if (st.state == ContainerState::kStarting && !path_exists(p.command_socket())) {
    COVE_TRY(wait_for_start_in_progress(p));
    st = state();
  }
  if (st.monitor_died) {
    auto r = cleanup_stale();
    if (!r) return std::move(r).error();
    return {};
  }
  if (st.state == ContainerState::kStopped) {
    if (!is_directory(p.dir())) return Error(ENOENT, fmt::format("no container `{}` in `{}`", name_, lxcpath_));
    return Error(ESRCH, fmt::format("`{}` is not running{}", name_, st.note()));
  }
  // CRIU has the container: a stop now would race the dump or the restore (Incus refuses
  // operations on a busy instance likewise). The caller retries once it is RUNNING again.
  if (is_busy(st.state)) return busy_error(name_, st.state);
  int timeout = opts.timeout_s;
  if (timeout < 0) {
    auto cfg = load(p, false);
    timeout = cfg ? static_cast<int>(cfg->stop_timeout) : 10;
  }
  auto t = static_cast<uint32_t>(timeout);
  auto r = opts.reboot ? monitor::request(p.command_socket(), monitor::RebootRequest{t}, (timeout + 15) * 1000)
                       : monitor::request(p.command_socket(), monitor::StopRequest{t, opts.kill}, (timeout + 15) * 1000);
  if (!r) {
    // The monitor may have finished between our state read and the request.
    if (state().state == ContainerState::kStopped && !state().monitor_died) return {};
    return std::move(r).error().context("stop");
  }
  return {};
}

Result<ContainerInfo> Container::info(InfoDetail detail) const {
  COVE_TRY(validate_name(name_));
  ContainerPaths p(lxcpath_, name_);
  if (!is_directory(p.dir())) return Error(ENOENT, fmt::format("no container `{}` in `{}`", name_, lxcpath_));
  ContainerInfo out;
  out.name = name_;
  out.state = state();
  out.incomplete = path_exists(p.partial_marker());
  out.config_path = p.config();
  bool has_nics = false;
  if (auto cfg = load(p, false)) {
    out.privileged = cfg->privileged;
    out.rootfs = cfg->rootfs;
    has_nics = !cfg->nics.empty();
  } else {
    out.config_error = cfg.error().message();
  }
  if (out.state.state != ContainerState::kStopped && detail == InfoDetail::kBrief) {
    auto cgs = cgroup::ContainerCgroups::from_recorded(out.state.runtime.payload_cgroups, {});
    out.memory_current = cgs.memory_current();
  } else if (out.state.state != ContainerState::kStopped) {
    auto cgs = cgroup::ContainerCgroups::from_recorded(out.state.runtime.payload_cgroups,
                                                       out.state.runtime.monitor_cgroups);
    if (auto s = cgs.stats()) {
      out.cpu_usage_ns = s->cpu_usage_ns;
      out.memory_current = s->memory_current;
      out.memory_peak = s->memory_peak;
      out.pids_current = s->pids_current;
      out.io_read_bytes = s->io_read_bytes;
      out.io_write_bytes = s->io_write_bytes;
      out.io_read_ops = s->io_read_ops;
      out.io_write_ops = s->io_write_ops;
      out.oom_kills = s->oom_kills;
    }
    // The monitor owns the NICs (a hot-plugged one too): asked only when the config has some.
    if ((has_nics || !out.state.runtime.host_links.empty()) && !is_busy(out.state.state))
      if (auto nics = net_status()) out.nics = std::move(*nics);
  }
  return out;
}

Result<void> Container::wait(ContainerState want, int timeout_ms) const {
  COVE_TRY(validate_name(name_));
  int64_t deadline = timeout_ms < 0 ? -1 : monotonic_ms() + timeout_ms;
  for (Backoff backoff(10000);; backoff.sleep()) {
    if (state().state == want) return {};
    if (deadline >= 0 && monotonic_ms() >= deadline)
      return Error(ETIMEDOUT, fmt::format("`{}` did not reach {} in time (it is {})", name_, state_name(want),
                                          state_name(state().state)));
  }
}

namespace {

// The record the monitor wrote at init's launch; without one (a container restored from a
// checkpoint, or started by an older cove's monitor) the same computed from the config now.
Result<lifecycle::ExecRecord> exec_record_of(const ContainerPaths& p) {
  auto text = read_file(p.exec_record());
  if (text) {
    auto record = lifecycle::decode_exec_record(*text);
    if (!record) return std::move(record).error().context("read `" + p.exec_record() + "`");
    return record;
  }
  if (text.error().code() != ENOENT) return std::move(text).error();
  auto cfg = load(p);
  if (!cfg) return std::move(cfg).error();
  auto restrictions = lifecycle::make_exec_restrictions(*cfg);
  if (!restrictions) return std::move(restrictions).error().context("security");
  return lifecycle::ExecRecord{std::move(*restrictions), cfg->init_env};
}

}  // namespace

Result<int> Container::attach(const AttachOptions& opts) { return attach(opts, state()); }

Result<int> Container::attach(const AttachOptions& opts, const StateInfo& st) {
  COVE_TRY(validate_name(name_));
  if (is_busy(st.state)) return busy_error(name_, st.state);
  if (!can_attach(st.state))
    return Error(ESRCH, fmt::format("`{}` is not running (state {}){}", name_, state_name(st.state), st.note()));
  // See cove-attach: into a privileged container only from a sealed copy of the executable.
  if (st.runtime.privileged && original_exe().empty())
    return Error(EPERM, fmt::format("`{}` is privileged: attach from a sealed copy of the executable "
                                    "(reexec_sealed, as cove-attach does)",
                                    name_));
  // The command gets init's restrictions (capabilities, LSM label, no_new_privs, seccomp) and
  // environment, as the monitor recorded them at init's launch.
  auto record = exec_record_of(ContainerPaths(lxcpath_, name_));
  if (!record) return std::move(record).error();
  auto req = opts;
  req.container_env = std::move(record->env);
  return lifecycle::attach_to(st.runtime, req, record->restrictions);
}

Result<void> Container::console(unsigned tty, int escape_char) {
  COVE_TRY(validate_name(name_));
  ContainerPaths p(lxcpath_, name_);
  auto st = state();
  if (is_busy(st.state)) return busy_error(name_, st.state);
  if (st.state != ContainerState::kRunning)
    return Error(ESRCH, fmt::format("`{}` is not running (state {}){}", name_, state_name(st.state), st.note()));
  auto client = monitor::Client::connect(p.command_socket());
  if (!client) return std::move(client).error().context("console");
  if (auto r = client->call(monitor::ConsoleRequest{tty}, 5000); !r) return std::move(r).error().context("console");
  auto fds = client->take_fds();
  if (fds.empty()) return Error(EPROTO, "monitor sent no console");
  UniqueFd conn = client->release();
  return lifecycle::proxy_terminal(fds[0].get(), conn.get(), escape_char, /*wait_for_peer=*/true);
}

namespace {

// A create or copy that was killed (kill -9, a crash) leaves its partial marker, and nobody holds
// its lock: such a container never existed for the user, and goes at the next listing.
bool remove_if_abandoned(const ContainerPaths& p) {
  if (!path_exists(p.partial_marker()) || !validate_name(p.name())) return false;
  auto lock = ContainerLock::acquire(p.lock_file(), p.name(), 0);
  if (!lock) return false;  // still being made
  if (!path_exists(p.partial_marker())) return false;
  log::info("removing `{}`: its create or copy did not finish", p.dir());
  detail::remove_container_files(p);
  return true;
}

}  // namespace

std::vector<Result<ContainerInfo>> Container::info_of_all(const std::string& lxcpath,
                                                          const std::vector<std::string>& names, InfoDetail detail,
                                                          unsigned workers) {
  constexpr size_t kPerWorker = 64;  // below this a thread costs more than it saves
  if (workers == 0) workers = std::min(proc::usable_cpus(), 4u);
  workers = static_cast<unsigned>(std::clamp<size_t>(names.size() / kPerWorker, 1, workers));
  std::vector<std::optional<Result<ContainerInfo>>> got(names.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < names.size();) {
      try {
        got[i].emplace(Container(lxcpath, names[i]).info(detail));
      } catch (const std::exception& e) {  // out of memory: this one is an error, not the process
        got[i].emplace(Error(ENOMEM, e.what()));
      }
    }
  };
  std::vector<std::thread> threads;
  for (unsigned k = 1; k < workers; ++k) {
    try {
      threads.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // no thread: the others and this one read the rest
    }
  }
  work();
  for (auto& t : threads) t.join();
  std::vector<Result<ContainerInfo>> out;
  out.reserve(names.size());
  for (auto& g : got) out.push_back(std::move(*g));
  return out;
}

Result<std::vector<std::string>> Container::list(const std::string& lxcpath) {
  std::vector<std::string> out;
  auto dir = Dir::open(lxcpath);
  if (!dir) {
    if (dir.error().code() == ENOENT) return out;
    return std::move(dir).error().context("list containers");
  }
  for (const DirEntry& e : *dir) {
    std::string n(e.name);
    if (n[0] == '.') continue;
    if (!path_exists(lxcpath + "/" + n + "/config")) continue;
    if (remove_if_abandoned(ContainerPaths(lxcpath, n))) continue;
    out.push_back(n);
  }
  if (dir->error()) return Error::from_errno(dir->error(), "list containers: read `" + lxcpath + "`");
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace cove
