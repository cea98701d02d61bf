// The façade's network operations (cove-network set-rate, attach, detach, and cove-info's NIC
// list): live changes go through the monitor, which owns the container's NICs; `persist` also
// edits the config under the container lock, after checking the edited text loads.
#include <fmt/format.h>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "config/edit.hpp"
#include "config/ini_reader.hpp"
#include "config/load.hpp"
#include "container.hpp"
#include "monitor/command_client.hpp"
#include "paths.hpp"
#include "state/container_lock.hpp"

namespace cove {
namespace {

constexpr int kLockTimeoutMs = 30000;
constexpr int kRequestTimeoutMs = 30000;

// Edits the config text with `edit`, checks that the result loads, writes it atomically.
template <typename Edit>
Result<void> edit_config(const ContainerPaths& p, Edit edit) {
  auto lock = ContainerLock::acquire(p.lock_file(), p.name(), kLockTimeoutMs);
  if (!lock) return std::move(lock).error();
  auto text = config::read_config_text(p.config());
  if (!text) return std::move(text).error();
  std::string edited = edit(*text);
  if (auto r = config::load_config_string(edited, p.config(), config::LoadOptions{p.name(), p.rootfs()}); !r)
    return std::move(r).error().context("config with the change");
  return write_file_atomic(p.config(), edited, 0644);
}

// A live change needs the container running (or frozen); otherwise only `persist` makes
// sense. True when the monitor is to be asked.
Result<bool> is_running_for_change(const Container& c, bool persist) {
  COVE_TRY(validate_name(c.name()));
  if (!c.exists()) return Error(ENOENT, fmt::format("no container `{}` in `{}`", c.name(), c.lxcpath()));
  auto st = c.state();
  if (is_busy(st.state)) return busy_error(c.name(), st.state);
  bool running = st.state == ContainerState::kRunning || st.state == ContainerState::kFrozen;
  if (!running && !persist)
    return Error(ESRCH, fmt::format("`{}` is not running{} (--persist changes the config only)", c.name(), st.note()));
  return running;
}

}  // namespace

Result<void> Container::net_set(const std::string& nic, const std::string& key, const std::string& value, bool persist) {
  auto running = is_running_for_change(*this, persist);
  if (!running) return std::move(running).error();
  ContainerPaths p(lxcpath_, name_);
  if (*running) {
    auto r = monitor::request(p.command_socket(), monitor::NetSetRequest{nic, key, value}, kRequestTimeoutMs);
    if (!r) return std::move(r).error().context("live change");
  }
  if (!persist) return {};
  bool unlimited = value.empty() || value == "unlimited" || value == "0";
  return edit_config(p, [&](const std::string& text) {
    return unlimited ? config::remove_key_in_text(text, "network." + nic, key)
                     : config::set_key_in_text(text, "network." + nic, key, value, false);
  });
}

Result<void> Container::net_attach(const std::string& nic, const std::vector<std::string>& lines, bool persist) {
  auto running = is_running_for_change(*this, persist);
  if (!running) return std::move(running).error();
  ContainerPaths p(lxcpath_, name_);
  std::vector<std::string> all = lines;
  if (*running) {
    auto r = monitor::request(p.command_socket(), monitor::NetAttachRequest{nic, lines}, kRequestTimeoutMs);
    if (!r) return std::move(r).error().context("attach");
    // The MAC the monitor chose goes into the config too, so the NIC keeps it.
    if (auto st = net_status())
      for (const auto& n : *st)
        if (n.name == nic && !n.mac.empty()) all.push_back("hwaddr = " + n.mac);
  }
  if (!persist) return {};
  return edit_config(p, [&](const std::string& text) {
    std::string edited = text;
    for (const auto& line : all) {
      size_t eq = line.find('=');
      if (eq == std::string::npos) continue;
      std::string key(trim(line.substr(0, eq)));
      edited = config::set_key_in_text(edited, "network." + nic, key, std::string(trim(line.substr(eq + 1))), key == "forward");
    }
    return edited;
  });
}

Result<void> Container::net_detach(const std::string& nic, bool persist) {
  auto running = is_running_for_change(*this, persist);
  if (!running) return std::move(running).error();
  ContainerPaths p(lxcpath_, name_);
  if (*running) {
    auto r = monitor::request(p.command_socket(), monitor::NetDetachRequest{nic}, kRequestTimeoutMs);
    if (!r) return std::move(r).error().context("detach");
  }
  if (!persist) return {};
  return edit_config(p, [&](const std::string& text) { return config::remove_section_in_text(text, "network." + nic); });
}

Result<std::vector<monitor::NicReport>> Container::net_status() const {
  COVE_TRY(validate_name(name_));
  ContainerPaths p(lxcpath_, name_);
  auto r = monitor::request(p.command_socket(), monitor::NetStatusRequest{}, kRequestTimeoutMs);
  if (!r) return std::move(r).error().context("network status");
  return std::move(r->nics);
}

}  // namespace cove
