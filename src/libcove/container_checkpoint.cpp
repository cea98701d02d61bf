// Container::checkpoint / restore / checkpoint_check: the façade of checkpoint/restore.
// A checkpoint is a request to the container's monitor (which runs CRIU's dump, see
// lifecycle/checkpoint.hpp for why); a restore starts a monitor in restore mode, exactly as a
// start does, and gets the restore's report with the monitor's start status.
#include <fmt/format.h>

#include "base/fs.hpp"
#include "config/load.hpp"
#include "container.hpp"
#include "criu/features.hpp"
#include "lifecycle/checkpoint.hpp"
#include "monitor/command_client.hpp"
#include "paths.hpp"

namespace cove {

namespace {
// A dump of a large container can take a while; the monitor answers when it is done.
constexpr int kCheckpointTimeoutMs = 10 * 60 * 1000;
constexpr int kMaxRestoreTimeoutS = 24 * 60 * 60;

CheckpointReport report_from(const monitor::CheckpointReply& m) {
  CheckpointReport r;
  r.images_dir = m.images_dir;
  r.criu_version = m.criu_version;
  r.wall_ms = m.wall_ms;
  r.stopped = m.stopped;
  r.freezing_time_us = m.stats.freezing_time_us;
  r.frozen_time_us = m.stats.frozen_time_us;
  r.memdump_time_us = m.stats.memdump_time_us;
  r.memwrite_time_us = m.stats.memwrite_time_us;
  r.pages_scanned = m.stats.pages_scanned;
  r.pages_written = m.stats.pages_written;
  return r;
}

}  // namespace

Result<CheckpointReport> Container::checkpoint(const CheckpointOptions& opts) {
  COVE_TRY(validate_name(name_));
  ContainerPaths p(lxcpath_, name_);
  if (opts.images_dir.empty()) return Error::invalid("no image directory (-D DIR)");
  if (!criu::available()) return criu::unavailable_error();
  auto st = state();
  if (is_busy(st.state)) return busy_error(name_, st.state);
  if (!can_checkpoint(st.state))
    return Error(ESRCH, fmt::format("`{}` is not running (state {}){}", name_, state_name(st.state), st.note()));
  monitor::CheckpointRequest req{absolute_path(opts.images_dir), opts.stop, opts.lazy_pages_socket,
                                 opts.lazy_pages_token};
  auto r = monitor::request(p.command_socket(), req, kCheckpointTimeoutMs);
  if (!r) return std::move(r).error();
  return report_from(*r);
}

Result<RestoreReport> Container::restore(const RestoreOptions& opts) {
  COVE_TRY(validate_name(name_));
  if (opts.images_dir.empty()) return Error::invalid("no image directory (-D DIR)");
  if (opts.timeout_s <= 0 || opts.timeout_s > kMaxRestoreTimeoutS)
    return Error::invalid(fmt::format("restore timeout `{}`: seconds from 1 to {} are allowed", opts.timeout_s,
                                      kMaxRestoreTimeoutS));
  if (!criu::available()) return criu::unavailable_error();
  if (!exists()) return Error(ENOENT, fmt::format("no container `{}` in `{}`", name_, lxcpath_));
  // Refuse foreign or newer images before a monitor is started.
  if (auto m = lifecycle::inspect_images(absolute_path(opts.images_dir), name_); !m) return std::move(m).error();
  StartOptions so;
  so.restore_from = absolute_path(opts.images_dir);
  so.restore_timeout_s = opts.timeout_s;
  so.restore_thaw = opts.thaw;
  so.restore_lazy_pages = opts.lazy_pages;
  so.ids_shared_with = opts.ids_shared_with;
  so.log_file = opts.log_file;
  so.log_level = opts.log_level;
  RestoreReport rep;
  if (auto r = start(so, &rep); !r) return std::move(r).error();
  if (!rep.init_pid) rep.init_pid = state().runtime.init_pid;
  return rep;
}

Result<std::vector<CheckpointFinding>> Container::checkpoint_check() const {
  COVE_TRY(validate_name(name_));
  ContainerPaths p(lxcpath_, name_);
  auto st = state();
  if (is_busy(st.state)) return busy_error(name_, st.state);
  if (!can_checkpoint(st.state))
    return Error(ESRCH, fmt::format("`{}` is not running (state {}){}: only a running container is checkpointed",
                                    name_, state_name(st.state), st.note()));
  config::LoadOptions lo;
  lo.name = name_;
  lo.default_rootfs = p.rootfs();
  auto cfg = config::load_config(p.config(), lo);
  if (!cfg) return std::move(cfg).error();
  std::vector<CheckpointFinding> out;
  for (auto& f : lifecycle::check_checkpointable(*cfg, st.runtime.init_pid, st.runtime.payload_cgroups))
    out.push_back({std::move(f.area), std::move(f.what), f.blocking});
  return out;
}

}  // namespace cove
