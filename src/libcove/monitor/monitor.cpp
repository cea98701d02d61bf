// run_monitor: the monitor process's entry point (cove-monitor). Loads the config, sets up the
// log, and runs a Supervisor (monitor/supervisor.hpp) to the container's end.
#include "monitor/monitor.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "base/fs.hpp"
#include "base/log.hpp"
#include "config/load.hpp"
#include "monitor/supervisor.hpp"
#include "paths.hpp"
#include "rootfs/host_access.hpp"

namespace cove::monitor {

namespace {

Result<config::ContainerConfig> load_container_config(const MonitorOptions& opts) {
  COVE_TRY(validate_name(opts.name));
  ContainerPaths paths(opts.lxcpath, opts.name);
  config::LoadOptions lo;
  lo.name = opts.name;
  lo.default_rootfs = paths.rootfs();
  return config::load_config(paths.config(), lo);
}

std::optional<FileStamp> config_stamp(const MonitorOptions& opts) {
  return file_stamp(ContainerPaths(opts.lxcpath, opts.name).config());
}

}  // namespace

PreloadedConfig PreloadedConfig::read(const MonitorOptions& opts) {
  auto before = config_stamp(opts);
  PreloadedConfig p(load_container_config(opts));
  p.stamp_ = before;
  return p;
}

Result<config::ContainerConfig> PreloadedConfig::take(const MonitorOptions& opts) && {
  if (!stamp_ || !(config_stamp(opts) == stamp_)) return load_container_config(opts);
  return std::move(cfg_);
}

Result<int> run_monitor(const MonitorOptions& opts, Result<config::ContainerConfig> cfg) {
  COVE_TRY(validate_name(opts.name));
  ContainerPaths paths(opts.lxcpath, opts.name);
  std::string log_file = !opts.log_file.empty() ? opts.log_file
                         : cfg && !cfg->log_file.empty() ? cfg->log_file
                                                        : paths.default_log();
  // Opened like the console log: a log file inside the rootfs cannot be redirected to a host file.
  if (auto fd = rootfs::open_host_append(log_file, cfg ? cfg->rootfs : paths.rootfs())) log::set_fd(std::move(*fd));
  auto level = log::parse_level(!opts.log_level.empty() ? opts.log_level : cfg ? cfg->log_level : "warn");
  log::set_level(level.value_or(log::Level::kWarn));
  log::set_prefix("cove-monitor " + opts.name);
  if (opts.status_fd >= 0) ::fcntl(opts.status_fd, F_SETFD, FD_CLOEXEC);
  if (opts.lock_fd >= 0) ::fcntl(opts.lock_fd, F_SETFD, FD_CLOEXEC);
  if (opts.starter_fd >= 0) ::fcntl(opts.starter_fd, F_SETFD, FD_CLOEXEC);
  if (!cfg) {
    Supervisor m(opts, config::ContainerConfig{});
    m.report_start(cfg.error());
    return std::move(cfg).error();
  }
  if (!opts.foreground) ::setsid();
  Supervisor m(opts, std::move(*cfg));
  auto r = m.start();
  if (!r) {
    log::error("start failed: {}", r.error().message());
    m.cleanup();
    m.report_start(r);
    return std::move(r).error();
  }
  log::info("running");
  m.report_start(r);
  return m.loop();
}

}  // namespace cove::monitor
