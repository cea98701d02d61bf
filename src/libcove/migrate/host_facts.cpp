#include "migrate/host_facts.hpp"

#include <sys/statvfs.h>

#include <algorithm>
#include <sstream>

#include "base/fs.hpp"

namespace cove::migrate {

std::vector<std::string> parse_cpu_flags(const std::string& cpuinfo) {
  std::istringstream in(cpuinfo);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("flags")) continue;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::istringstream words(line.substr(colon + 1));
    for (std::string w; words >> w;) out.push_back(w);
    break;
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> cpu_flags() {
  auto text = read_file("/proc/cpuinfo");
  return text ? parse_cpu_flags(*text) : std::vector<std::string>{};
}

std::vector<std::string> missing_flags(const std::vector<std::string>& need, const std::vector<std::string>& have) {
  std::vector<std::string> out;
  std::set_difference(need.begin(), need.end(), have.begin(), have.end(), std::back_inserter(out));
  return out;
}

Result<uint64_t> memory_available() {
  auto text = read_file("/proc/meminfo");
  if (!text) return std::move(text).error();
  std::istringstream in(*text);
  for (std::string key; in >> key;) {
    uint64_t kb = 0;
    std::string unit;
    in >> kb >> unit;
    if (key == "MemAvailable:") return kb * 1024;
  }
  return Error(ENOENT, "no MemAvailable in /proc/meminfo");
}

Result<uint64_t> free_bytes(const std::string& path) {
  struct statvfs st;
  if (::statvfs(path.c_str(), &st) < 0) return Error::from_errno(errno, "statvfs `" + path + "`");
  return uint64_t(st.f_bfree) * st.f_frsize;
}

}  // namespace cove::migrate
