// cove-monitor: the per-container monitor process, exec'd by cove-start (never run by hand).
// A fresh, small process image per container; the work is in libcove's monitor module.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "container.hpp"
#include "host_config.hpp"
#include "monitor/launch.hpp"
#include "monitor/monitor.hpp"
#include "paths.hpp"

namespace {

// `--host KEY=VALUE` (every key, from the starting tool's host config) into `host`.
void set_host_arg(cove::HostConfig& host, const std::string& arg) {
  auto eq = arg.find('=');
  auto r = eq == std::string::npos ? cove::Result<void>(cove::Error::invalid("`--host " + arg + "` needs KEY=VALUE"))
                                   : cove::set_host_key(host, arg.substr(0, eq), arg.substr(eq + 1));
  if (!r) {
    std::fprintf(stderr, "cove-monitor: --host: %s\n", r.error().message().c_str());
    std::exit(2);
  }
}

}  // namespace

int main(int argc, char** argv) {
  cove::monitor::restore_caller_tunables();  // glibc read them at startup (monitor_environment)
  cove::monitor::MonitorOptions o;
  // The starter's host config; without `--host` arguments, the one the environment selects.
  cove::HostConfig host;
  bool host_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "cove-monitor: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--path") o.lxcpath = next();
    else if (a == "--name") o.name = next();
    else if (a == "--host") {
      set_host_arg(host, next());
      host_given = true;
    } else if (a == "--host-config") host.source = next();
    else if (a == "--foreground") o.foreground = true;
    else if (a == "--inherit-stdio") o.inherit_stdio = true;
    else if (a == "--status-fd") o.status_fd = std::atoi(next().c_str());
    else if (a == "--lock-fd") o.lock_fd = std::atoi(next().c_str());
    else if (a == "--starter-fd") o.starter_fd = std::atoi(next().c_str());
    else if (a == "--log-file") o.log_file = next();
    else if (a == "--log-level") o.log_level = next();
    else if (a == "--restore") o.restore_images = next();
    else if (a == "--restore-thaw") o.restore_thaw = true;
    else if (a == "--restore-lazy-pages") o.restore_lazy_pages = true;
    else if (a == "--restore-timeout") o.restore_timeout_s = std::atoi(next().c_str());
    else if (a == "--") {
      for (int j = i + 1; j < argc; ++j) o.init_override.emplace_back(argv[j]);
      break;
    } else {
      std::fprintf(stderr, "cove-monitor: unknown argument '%s' (run by cove-start, not by hand)\n", a.c_str());
      return 2;
    }
  }
  if (o.lxcpath.empty() || o.name.empty()) {
    std::fprintf(stderr, "cove-monitor: --path and --name are required (run by cove-start, not by hand)\n");
    return 2;
  }
  if (auto r = cove::validate_name(o.name); !r) {
    std::fprintf(stderr, "cove-monitor: %s\n", r.error().message().c_str());
    return 2;
  }
  if (host_given) {
    cove::set_host_config(std::move(host));
  } else if (auto r = cove::init_host_config(); !r) {
    std::fprintf(stderr, "cove-monitor: %s\n", r.error().message().c_str());
    return 1;
  }
  // Detached, cove-start spawned us before its last checks. The config is read meanwhile (no
  // side effect; read again after the `go` if they rewrote it); nothing of the container is
  // touched before their `go` (without one, its start failed: we end without a trace).
  auto cfg = cove::monitor::PreloadedConfig::read(o);
  if (o.starter_fd >= 0) {
    auto go = cove::monitor::receive_go(o.starter_fd);
    if (!go) {  // cove-start waits for a status: it gets this
      std::string status = cove::monitor::encode_start_status(std::move(go).error().context("cove-start's go"));
      if (o.status_fd >= 0) (void)!::write(o.status_fd, status.data(), status.size());
      return 1;
    }
    if (!*go) return 0;
  }
  auto status = cove::monitor::run_monitor(o, std::move(cfg).take(o));
  // `[container] ephemeral`: the container goes with its end (stopped, or a failed start).
  if (auto r = cove::Container(o.lxcpath, o.name).destroy_if_ephemeral(); !r)
    std::fprintf(stderr, "cove-monitor: destroy ephemeral `%s`: %s\n", o.name.c_str(), r.error().message().c_str());
  if (status) return *status;
  // In the foreground nobody reads a status pipe: the caller's terminal gets the error.
  if (o.foreground) std::fprintf(stderr, "cove-start: start `%s`: %s\n", o.name.c_str(), status.error().message().c_str());
  return 1;
}
