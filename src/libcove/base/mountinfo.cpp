#include "base/mountinfo.hpp"

#include <algorithm>

#include "base/fs.hpp"
#include "base/strings.hpp"

namespace cove {

Result<std::vector<MountInfo>> parse_mountinfo(std::string_view text) {
  std::vector<MountInfo> out;
  auto lines = split(text, '\n');
  for (size_t n = 0; n < lines.size(); ++n) {
    if (trim(lines[n]).empty()) continue;
    // id parent major:minor root mountpoint options [optional fields...] - fstype source super
    auto f = split_ws(lines[n]);
    auto sep = std::find(f.begin() + std::min<size_t>(f.size(), 6), f.end(), "-");
    size_t at = static_cast<size_t>(sep - f.begin());
    auto id = f.size() > 1 ? parse_int(f[0]) : std::nullopt;
    auto parent = f.size() > 1 ? parse_int(f[1]) : std::nullopt;
    if (sep == f.end() || f.size() - at < 4 || !id || !parent)
      return Error::invalid("parse mountinfo line " + std::to_string(n + 1) + ": malformed `" + lines[n] + "`");
    MountInfo m;
    m.id = static_cast<int>(*id);
    m.parent = static_cast<int>(*parent);
    m.device = f[2];
    m.root = unescape_octal(f[3]);
    m.mountpoint = unescape_octal(f[4]);
    m.options = f[5];
    m.fstype = f[at + 1];
    m.source = unescape_octal(f[at + 2]);
    m.super_options = f[at + 3];
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::vector<MountInfo>> read_mountinfo(const std::string& pid) {
  auto text = read_file("/proc/" + pid + "/mountinfo");
  if (!text) return std::move(text).error();
  return parse_mountinfo(*text);
}

}  // namespace cove
