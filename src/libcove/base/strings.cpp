#include "base/strings.hpp"

#include <cctype>
#include <charconv>

namespace cove {

namespace {

// isspace(3) in the C locale (the only one cove runs in), inline: the parsers call it per byte.
constexpr bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

}  // namespace

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string> split_ws(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    size_t start = i;
    while (i < s.size() && !is_space(s[i])) ++i;
    if (i > start) out.emplace_back(s.substr(start, i - start));
  }
  return out;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.emplace_back(s.substr(start));
      return out;
    }
    out.emplace_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
  return out;
}

std::string_view take_word(std::string_view& s) {
  size_t i = 0;
  while (i < s.size() && is_space(s[i])) ++i;
  size_t start = i;
  while (i < s.size() && !is_space(s[i])) ++i;
  std::string_view word = s.substr(start, i - start);
  s.remove_prefix(i);
  return word;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::optional<int64_t> parse_int(std::string_view s) {
  int64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<uint64_t> parse_uint(std::string_view s) {
  uint64_t v = 0;
  if (s.empty() || s.front() == '-' || s.front() == '+') return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<bool> parse_bool(std::string_view s) {
  if (s == "1" || s == "yes" || s == "true" || s == "on") return true;
  if (s == "0" || s == "no" || s == "false" || s == "off") return false;
  return std::nullopt;
}

std::optional<uint64_t> parse_size(std::string_view s) {
  s = trim(s);
  size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  if (digits == 0) return std::nullopt;
  auto base = parse_uint(s.substr(0, digits));
  if (!base) return std::nullopt;
  std::string_view suffix = s.substr(digits);
  if (suffix.size() >= 2 && (suffix.substr(1) == "iB" || suffix.substr(1) == "B")) suffix = suffix.substr(0, 1);
  uint64_t mult = 1;
  if (suffix.empty() || suffix == "B") mult = 1;
  else if (suffix == "K" || suffix == "k") mult = 1ULL << 10;
  else if (suffix == "M" || suffix == "m") mult = 1ULL << 20;
  else if (suffix == "G" || suffix == "g") mult = 1ULL << 30;
  else if (suffix == "T" || suffix == "t") mult = 1ULL << 40;
  else return std::nullopt;
  if (*base > UINT64_MAX / mult) return std::nullopt;
  return *base * mult;
}

std::optional<uint64_t> parse_rate(std::string_view s) {
  s = trim(s);
  size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  if (digits == 0) return std::nullopt;
  auto base = parse_uint(s.substr(0, digits));
  if (!base || *base == 0) return std::nullopt;
  std::string suffix(s.substr(digits));
  for (auto& ch : suffix) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  static const std::pair<const char*, uint64_t> kUnits[] = {
      {"", 1},           {"bit", 1},          {"kbit", 1000},          {"mbit", 1000000},
      {"gbit", 1000000000}, {"bps", 8},       {"kbps", 8000},          {"mbps", 8000000},
      {"gbps", 8000000000ULL}};
  for (const auto& [unit, mult] : kUnits) {
    if (suffix != unit) continue;
    if (*base > UINT64_MAX / mult) return std::nullopt;
    return *base * mult;
  }
  return std::nullopt;
}

std::string format_rate(uint64_t bits_per_s) {
  if (bits_per_s % 1000000000 == 0 && bits_per_s) return std::to_string(bits_per_s / 1000000000) + "gbit";
  if (bits_per_s % 1000000 == 0 && bits_per_s) return std::to_string(bits_per_s / 1000000) + "mbit";
  if (bits_per_s % 1000 == 0 && bits_per_s) return std::to_string(bits_per_s / 1000) + "kbit";
  return std::to_string(bits_per_s) + "bit";
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string unescape_octal(std::string_view s) {
  auto octal = [](char c) { return c >= '0' && c <= '7'; };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] <= '3' && octal(s[i + 1]) && octal(s[i + 2]) && octal(s[i + 3])) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string printable(std::string_view s) {
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f || c == '\\') {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace cove
