#include "base/log.hpp"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>

namespace cove::log {
namespace {
Level g_level = Level::kWarn;
int g_fd = 2;
std::string g_prefix;
constexpr std::array<std::string_view, 6> kNames = {"trace", "debug", "info", "notice", "warn", "error"};
}  // namespace

std::optional<Level> parse_level(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "warning") lower = "warn";
  for (size_t i = 0; i < kNames.size(); ++i)
    if (kNames[i] == lower) return static_cast<Level>(i);
  return std::nullopt;
}

std::string_view level_name(Level level) { return kNames[static_cast<size_t>(level)]; }

void set_level(Level level) { g_level = level; }
Level level() { return g_level; }

Result<void> set_file(const std::string& path) {
  if (path.empty()) {
    if (g_fd != 2) ::close(g_fd);
    g_fd = 2;
    return {};
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Error::from_errno(errno, "open log file `" + path + "`");
  if (g_fd != 2) ::close(g_fd);
  g_fd = fd;
  return {};
}

void set_fd(UniqueFd fd) {
  if (!fd) return;
  if (g_fd != 2) ::close(g_fd);
  g_fd = fd.release();
}

void set_prefix(std::string prefix) { g_prefix = std::move(prefix); }

namespace {
bool g_json = false;

// A JSON string literal (RFC 8259 escapes).
std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') out += {'\\', static_cast<char>(c)};
    else if (c < 0x20) out += fmt::format("\\u{:04x}", c);
    else out += static_cast<char>(c);
  }
  return out + "\"";
}
}  // namespace

void set_json(bool json) { g_json = json; }

namespace {
// Now, UTC, RFC 3339 with microseconds: "2026-12-04T17:03:38.460962Z".
std::string timestamp() {
  struct timeval tv;
  ::gettimeofday(&tv, nullptr);
  struct tm tm;
  ::gmtime_r(&tv.tv_sec, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:06}Z", ts, tv.tv_usec);
}
}  // namespace

void write(Level level, std::string_view message) {
  std::string line;
  if (g_json) {
    std::string msg = g_prefix.empty() ? std::string(message) : g_prefix + " " + std::string(message);
    line = fmt::format("{{\"level\":\"{}\",\"msg\":{},\"time\":\"{}\"}}\n", level_name(level),
                       json_string(msg), timestamp());
    (void)!::write(g_fd, line.data(), line.size());
    return;
  }
  if (g_fd != 2) line = timestamp() + " ";
  if (!g_prefix.empty()) line += g_prefix + " ";
  line += fmt::format("{}: {}\n", level_name(level), message);
  ssize_t r = ::write(g_fd, line.data(), line.size());
  (void)r;
}

}  // namespace cove::log
