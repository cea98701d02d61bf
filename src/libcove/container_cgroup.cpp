// The façade's resource-control operations: freeze/unfreeze and live cgroup limits
// (cove-freeze, cove-unfreeze, cove-cgroup). Changes go through the monitor, which owns the
// container's cgroups; reads come straight from the recorded cgroup directories.
#include <fmt/format.h>

#include <cmath>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "cgroup/cgroup.hpp"
#include "config/edit.hpp"
#include "config/ini_reader.hpp"
#include "config/key_table.hpp"
#include "config/load.hpp"
#include "container.hpp"
#include "monitor/command_client.hpp"
#include "paths.hpp"
#include "state/container_lock.hpp"

namespace cove {
namespace {

constexpr int kLockTimeoutMs = 30000;
constexpr int kRequestTimeoutMs = 30000;

config::LoadOptions load_options(const ContainerPaths& p, bool validate) {
  config::LoadOptions lo;
  lo.name = p.name();
  lo.default_rootfs = p.rootfs();
  lo.validate = validate;
  return lo;
}

// Checks `value` with the key's own parser, as a config line would be.
Result<const config::KeySpec*> check_value(const ContainerPaths& p, const std::string& key, const std::string& value) {
  const config::KeySpec* spec = config::find_key("cgroup", key);
  if (!spec) return Error::invalid("unknown [cgroup] key `" + key + "` (see cove.conf(5))");
  auto cfg = config::load_config(p.config(), load_options(p, false));
  if (!cfg) return std::move(cfg).error();
  if (spec->repeatable && value.empty()) return spec;
  if (auto r = spec->parse(*cfg, value, config::KeyContext{"cove-cgroup", 0, ""}); !r)
    return Error::invalid("[cgroup] " + key + ": " + r.error().message() + " (allowed: " + std::string(spec->allowed) +
                          ")");
  return spec;
}

// Writes KEY = VALUE into the config under the container lock, after loading the result.
Result<void> persist(const ContainerPaths& p, const config::KeySpec& spec, const std::string& value) {
  auto lock = ContainerLock::acquire(p.lock_file(), p.name(), kLockTimeoutMs);
  if (!lock) return std::move(lock).error();
  auto text = config::read_config_text(p.config());
  if (!text) return std::move(text).error();
  std::string edited = config::set_key_in_text(*text, "cgroup", std::string(spec.key), value, spec.repeatable);
  if (auto r = config::load_config_string(edited, p.config(), load_options(p, true)); !r)
    return std::move(r).error().context("config with the change");
  return write_file_atomic(p.config(), edited, 0644);
}

template <typename Req>
Result<void> monitor_request(const ContainerPaths& p, const Req& req, const std::string& what) {
  auto r = monitor::request(p.command_socket(), req, kRequestTimeoutMs);
  if (!r) return std::move(r).error().context(what);
  return {};
}

}  // namespace

Result<void> Container::freeze() {
  COVE_TRY(validate_name(name_));
  ContainerPaths p(lxcpath_, name_);
  auto st = state();
  if (is_busy(st.state)) return busy_error(name_, st.state);
  if (st.state != ContainerState::kRunning)
    return Error(ESRCH, fmt::format("`{}` is {}, not RUNNING{}", name_, state_name(st.state), st.note()));
  return monitor_request(p, monitor::FreezeRequest{}, "freeze");
}

Result<void> Container::unfreeze() {
  COVE_TRY(validate_name(name_));
  ContainerPaths p(lxcpath_, name_);
  auto st = state();
  if (is_busy(st.state)) return busy_error(name_, st.state);
  if (st.state != ContainerState::kFrozen)
    return Error(ESRCH, fmt::format("`{}` is {}, not FROZEN{}", name_, state_name(st.state), st.note()));
  return monitor_request(p, monitor::ThawRequest{}, "thaw");
}

Result<std::string> Container::cgroup_get(const std::string& key) const {
  COVE_TRY(validate_name(name_));
  auto st = state();
  if (st.state == ContainerState::kStopped)
    return Error(ESRCH, fmt::format("`{}` is not running{}", name_, st.note()));
  auto cgs = cgroup::ContainerCgroups::from_recorded(st.runtime.payload_cgroups, st.runtime.monitor_cgroups);
  // The aliases of cove.conf(5) read back in their own units.
  if (key == "cpus") {
    auto v = cgs.read_limit("cpu.max");
    if (!v) return v;
    auto words = split_ws(*v);
    if (words.size() != 2 || words[0] == "max") return std::string("max");
    return fmt::format("{:g}", double(parse_uint(words[0]).value_or(0)) / double(parse_uint(words[1]).value_or(1)));
  }
  if (key == "cpu.shares") {
    if (auto v = cgs.read_limit("cpu.shares")) return v;
    auto w = cgs.read_limit("cpu.weight");
    if (!w) return w;
    return std::to_string(cgroup::weight_to_shares(static_cast<uint32_t>(parse_uint(*w).value_or(100))));
  }
  return cgs.read_limit(key);
}

Result<void> Container::cgroup_set(const std::string& key, const std::string& value, bool persist_it) {
  COVE_TRY(validate_name(name_));
  ContainerPaths p(lxcpath_, name_);
  if (!exists()) return Error(ENOENT, fmt::format("no container `{}` in `{}`", name_, lxcpath_));
  auto spec = check_value(p, key, value);
  if (!spec) return std::move(spec).error();
  auto st = state();
  if (is_busy(st.state)) return busy_error(name_, st.state);
  bool running = st.state == ContainerState::kRunning || st.state == ContainerState::kFrozen;
  if (!running && !persist_it)
    return Error(ESRCH, fmt::format("`{}` is not running{} (--persist changes the config only)", name_, st.note()));
  if (running) COVE_TRY(monitor_request(p, monitor::CgroupSetRequest{key, value}, "live change"));
  if (persist_it) {
    if (auto r = persist(p, **spec, value); !r) return std::move(r).error().context("persist");
  }
  return {};
}

}  // namespace cove
