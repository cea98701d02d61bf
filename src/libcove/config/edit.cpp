#include "config/edit.hpp"

#include <vector>

#include "base/strings.hpp"

namespace cove::config {
namespace {

// "[name]" -> "name"; "" when the line is no section header.
std::string section_of(std::string_view line) {
  auto t = trim(line);
  if (t.size() < 2 || t.front() != '[' || t.back() != ']') return "";
  return std::string(trim(t.substr(1, t.size() - 2)));
}

// The key of a "key = value" (or "key: value") line; "" for comments and others.
std::string key_of(std::string_view line) {
  auto t = trim(line);
  if (t.empty() || t.front() == '#' || t.front() == ';') return "";
  auto eq = t.find_first_of("=:");
  return eq == std::string_view::npos ? "" : std::string(trim(t.substr(0, eq)));
}

}  // namespace

std::string set_key_in_text(const std::string& text, const std::string& section, const std::string& key,
                            const std::string& value, bool repeatable) {
  std::vector<std::string> lines = split(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  std::string current;
  std::vector<std::string> out;
  long last_in_section = -1;  // index in `out` after which the new line goes
  for (const auto& line : lines) {
    auto s = section_of(line);
    if (!s.empty()) current = s;
    if (s.empty() && current == section && !repeatable && key_of(line) == key) continue;
    out.push_back(line);
    if (current == section && !trim(line).empty()) last_in_section = static_cast<long>(out.size()) - 1;
  }
  std::string entry = key + " = " + value;
  if (last_in_section >= 0) {
    out.insert(out.begin() + last_in_section + 1, entry);
  } else {
    if (!out.empty() && !trim(out.back()).empty()) out.push_back("");
    out.push_back("[" + section + "]");
    out.push_back(entry);
  }
  return join(out, "\n") + "\n";
}

namespace {

// `text` without the lines for which `drop(section, line)` is true.
template <typename Drop>
std::string filter_lines(const std::string& text, Drop drop) {
  std::vector<std::string> lines = split(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  std::string current;
  std::vector<std::string> out;
  for (const auto& line : lines) {
    auto s = section_of(line);
    if (!s.empty()) current = s;
    if (!drop(current, line)) out.push_back(line);
  }
  return out.empty() ? "" : join(out, "\n") + "\n";
}

}  // namespace

std::string remove_key_in_text(const std::string& text, const std::string& section, const std::string& key) {
  return filter_lines(text, [&](const std::string& current, const std::string& line) {
    return current == section && section_of(line).empty() && key_of(line) == key;
  });
}

std::string remove_section_in_text(const std::string& text, const std::string& section) {
  return filter_lines(text, [&](const std::string& current, const std::string&) { return current == section; });
}

}  // namespace cove::config
