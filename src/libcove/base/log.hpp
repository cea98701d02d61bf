// Process-wide logger: levels, optional log file, stderr otherwise.
// The library logs decisions at debug level and degraded-but-continuing cases as warnings;
// failures are returned as Error, never logged and returned.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace cove::log {

enum class Level { kTrace = 0, kDebug, kInfo, kNotice, kWarn, kError };

std::optional<Level> parse_level(std::string_view name);  // "trace".."error", case-insensitive
std::string_view level_name(Level level);

void set_level(Level level);
Level level();
// Appends to `path` (created 0600); an empty path means stderr.
Result<void> set_file(const std::string& path);
// Appends to `fd`, already opened by the caller (the monitor opens its log with
// rootfs::open_host_append); takes ownership.
void set_fd(UniqueFd fd);
void set_prefix(std::string prefix);  // e.g. "cove-monitor web"
// One JSON object per line, {"level":"error","msg":"...","time":"..."} (runc's --log-format
// json, which containerd's shim and podman read back).
void set_json(bool json);

void write(Level level, std::string_view message);

template <typename... Args>
void at(Level lvl, fmt::format_string<Args...> f, Args&&... args) {
  if (lvl < level()) return;
  write(lvl, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... a) { at(Level::kDebug, f, std::forward<Args>(a)...); }
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... a) { at(Level::kInfo, f, std::forward<Args>(a)...); }
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... a) { at(Level::kWarn, f, std::forward<Args>(a)...); }
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... a) { at(Level::kError, f, std::forward<Args>(a)...); }

}  // namespace cove::log
