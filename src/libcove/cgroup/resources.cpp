// The version-neutral limit model: value parsers, formatters and the v1<->v2 conversions.
// Pure functions; no file is touched here.
#include "cgroup/resources.hpp"

#include <algorithm>
#include <cctype>

#include "base/strings.hpp"

namespace cove::cgroup {
namespace {

std::string q(std::string_view v) { return "`" + std::string(v) + "`"; }

// "*" -> -1, else a number below 2^32.
std::optional<int64_t> parse_dev_number(std::string_view s) {
  if (s == "*") return -1;
  auto n = parse_uint(s);
  if (!n || *n > UINT32_MAX) return std::nullopt;
  return static_cast<int64_t>(*n);
}

std::string dev_number(int64_t n) { return n < 0 ? "*" : std::to_string(n); }

}  // namespace

uint64_t weight_to_shares(uint32_t weight) {
  weight = std::clamp<uint32_t>(weight, 1, 10000);
  return 2 + ((uint64_t(weight) - 1) * 262142) / 9999;
}

uint32_t shares_to_weight(uint64_t shares) {
  shares = std::clamp<uint64_t>(shares, 2, 262144);
  return static_cast<uint32_t>(1 + ((shares - 2) * 9999 + 131071) / 262142);  // rounded
}

uint32_t io_weight_to_blkio(uint32_t weight) {
  weight = std::clamp<uint32_t>(weight, 1, 10000);
  return static_cast<uint32_t>(10 + ((uint64_t(weight) - 1) * 990) / 9999);
}

uint32_t blkio_to_io_weight(uint32_t blkio_weight) {
  blkio_weight = std::clamp<uint32_t>(blkio_weight, 10, 1000);
  return static_cast<uint32_t>(1 + ((uint64_t(blkio_weight) - 10) * 9999) / 990);
}

std::string format_limit(const Limit& l) { return l ? std::to_string(*l) : "max"; }

std::string format_cpu_max(const CpuMax& c) {
  return (c.quota_us ? std::to_string(*c.quota_us) : "max") + " " + std::to_string(c.period_us);
}

std::string format_io_max(const IoMax& io) {
  std::string out = io.rootfs ? "rootfs" : std::to_string(io.major) + ":" + std::to_string(io.minor);
  const std::pair<const char*, const Limit*> fields[] = {
      {"rbps", &io.rbps}, {"wbps", &io.wbps}, {"riops", &io.riops}, {"wiops", &io.wiops}};
  for (const auto& [name, v] : fields) out += std::string(" ") + name + "=" + format_limit(*v);
  return out;
}

std::string format_access(unsigned access) {
  std::string out;
  if (access & kAccessRead) out += 'r';
  if (access & kAccessWrite) out += 'w';
  if (access & kAccessMknod) out += 'm';
  return out;
}

std::string format_device_rule(const DeviceRule& r) {
  if (r.type == 'a') return "a";
  return std::string(1, r.type) + " " + dev_number(r.major) + ":" + dev_number(r.minor) + " " +
         format_access(r.access);
}

Result<Limit> parse_limit(std::string_view text, bool sizes) {
  text = trim(text);
  if (text == "max" || text == "-1") return Limit{};
  auto n = sizes ? parse_size(text) : parse_uint(text);
  if (!n) return Error::invalid(q(text) + " is not `max` or " + (sizes ? "a size" : "a number"));
  return Limit{*n};
}

Result<CpuMax> parse_cpu_max(std::string_view text) {
  auto words = split_ws(text);
  if (words.empty() || words.size() > 2) return Error::invalid(q(text) + " is not `QUOTA [PERIOD]` or `max`");
  CpuMax c;
  if (words.size() == 2) {
    auto p = parse_uint(words[1]);
    if (!p || *p < 1000 || *p > 1000000) return Error::invalid("period " + q(words[1]) + " is not 1000..1000000 (µs)");
    c.period_us = *p;
  }
  if (words[0] != "max") {
    auto quota = parse_uint(words[0]);
    if (!quota || *quota < 1000) return Error::invalid("quota " + q(words[0]) + " is not `max` or at least 1000 (µs)");
    c.quota_us = *quota;
  }
  return c;
}

Result<DeviceRule> parse_device_rule(std::string_view text, bool allow) {
  auto words = split_ws(text);
  DeviceRule r;
  r.allow = allow;
  if (words.size() == 1 && words[0] == "a") return r;
  if (words.empty() || words[0].size() != 1 || std::string_view("abc").find(words[0][0]) == std::string_view::npos)
    return Error::invalid(q(text) + ": the type must be `a`, `c` or `b`");
  r.type = words[0][0];
  if (words.size() < 2) return Error::invalid(q(text) + " lacks `MAJOR:MINOR`");
  auto colon = words[1].find(':');
  auto major = parse_dev_number(words[1].substr(0, colon));
  auto minor = colon == std::string::npos ? std::nullopt : parse_dev_number(words[1].substr(colon + 1));
  if (!major || !minor) return Error::invalid(q(words[1]) + " is not `MAJOR:MINOR` (numbers or `*`)");
  r.major = *major;
  r.minor = *minor;
  if (words.size() > 3) return Error::invalid(q(text) + " has extra words");
  if (words.size() == 3) {
    r.access = 0;
    for (char ch : words[2]) {
      unsigned bit = ch == 'r' ? kAccessRead : ch == 'w' ? kAccessWrite : ch == 'm' ? kAccessMknod : 0;
      if (!bit || (r.access & bit)) return Error::invalid("access " + q(words[2]) + " is not a subset of `rwm`");
      r.access |= bit;
    }
  }
  if (r.type == 'a') {  // "a *:* rwm" is "a"
    if (r.major != -1 || r.minor != -1 || r.access != 7) return Error::invalid("type `a` takes no numbers or access");
  }
  return r;
}

Result<IoMax> parse_io_max(std::string_view text) {
  auto words = split_ws(text);
  if (words.size() < 2) return Error::invalid(q(text) + " is not `MAJ:MIN KEY=VALUE...`");
  IoMax io;
  if (words[0] == "rootfs") {
    io.rootfs = true;
  } else {
    auto colon = words[0].find(':');
    auto major = parse_uint(words[0].substr(0, colon));
    auto minor = colon == std::string::npos ? std::nullopt : parse_uint(words[0].substr(colon + 1));
    if (!major || !minor || *major > UINT32_MAX || *minor > UINT32_MAX)
      return Error::invalid(q(words[0]) + " is not a device `MAJ:MIN`, a device path or `rootfs`");
    io.major = static_cast<uint32_t>(*major);
    io.minor = static_cast<uint32_t>(*minor);
  }
  for (size_t i = 1; i < words.size(); ++i) {
    auto eq = words[i].find('=');
    std::string key = words[i].substr(0, eq);
    Limit* slot = key == "rbps" ? &io.rbps : key == "wbps" ? &io.wbps : key == "riops" ? &io.riops
                : key == "wiops" ? &io.wiops : nullptr;
    if (!slot || eq == std::string::npos) return Error::invalid(q(words[i]) + " is not rbps=, wbps=, riops= or wiops=");
    bool bytes = key == "rbps" || key == "wbps";
    auto v = parse_limit(words[i].substr(eq + 1), bytes);
    if (!v) return std::move(v).error().context(key);
    if (*v && **v == 0) return Error::invalid(key + " must be at least 1 (or `max`)");
    *slot = *v;
  }
  return io;
}

bool names_rootfs_disk(const ResourceLimits& limits) {
  return std::any_of(limits.io_max.begin(), limits.io_max.end(), [](const IoMax& io) { return io.rootfs; });
}

ResourceLimits bind_rootfs_disk(ResourceLimits limits, uint32_t major, uint32_t minor) {
  std::vector<IoMax> merged;
  for (IoMax io : limits.io_max) {
    if (io.rootfs) {
      io.rootfs = false;
      io.major = major;
      io.minor = minor;
    }
    auto same = [&](const IoMax& e) { return e.major == io.major && e.minor == io.minor; };
    if (auto it = std::find_if(merged.begin(), merged.end(), same); it != merged.end()) *it = io;
    else merged.push_back(io);
  }
  limits.io_max = std::move(merged);
  return limits;
}

Result<std::string> parse_cpu_list(std::string_view text) {
  std::string out;
  for (char ch : text)
    if (!std::isspace(static_cast<unsigned char>(ch))) out += ch;
  if (out.empty()) return Error::invalid("the list is empty");
  for (const auto& part : split(out, ',')) {
    auto dash = part.find('-');
    auto lo = parse_uint(part.substr(0, dash));
    auto hi = dash == std::string::npos ? lo : parse_uint(part.substr(dash + 1));
    if (!lo || !hi || *hi < *lo) return Error::invalid(q(part) + " is not N or N-M");
  }
  return out;
}

std::vector<DeviceRule> default_device_rules() {
  std::vector<DeviceRule> rules;
  auto chr = [&](int64_t major, int64_t minor) { rules.push_back(DeviceRule{true, 'c', major, minor, 7}); };
  for (int minor : {3, 5, 7, 8, 9}) chr(1, minor);  // null zero full random urandom
  for (int minor : {0, 1, 2}) chr(5, minor);        // tty console ptmx
  chr(136, -1);                                     // the container's devpts ptys
  return rules;
}

std::vector<DeviceRule> effective_device_rules(const ResourceLimits& limits) {
  std::vector<DeviceRule> rules = {DeviceRule{false, 'a', -1, -1, 7}};
  if (limits.default_devices) {
    auto d = default_device_rules();
    rules.insert(rules.end(), d.begin(), d.end());
  }
  rules.insert(rules.end(), limits.devices.begin(), limits.devices.end());
  return rules;
}

std::vector<std::string> needed_controllers(const ResourceLimits& l) {
  std::vector<std::string> out;
  if (l.memory_max || l.memory_high || l.memory_swap_max) out.push_back("memory");
  if (l.cpu_max || l.cpu_weight) out.push_back("cpu");
  if (l.cpuset_cpus || l.cpuset_mems) out.push_back("cpuset");
  if (l.pids_max) out.push_back("pids");
  if (!l.io_max.empty() || l.io_weight) out.push_back("io");
  if (!l.hugetlb_max.empty()) out.push_back("hugetlb");
  out.push_back("devices");
  return out;
}

std::string controller_of_key(std::string_view key) {
  if (key == "cpus") return "cpu";
  std::string prefix(key.substr(0, key.find('.')));
  for (const char* c : {"memory", "cpu", "cpuset", "pids", "io", "hugetlb", "devices", "raw"})
    if (prefix == c) return prefix;
  return "";
}

}  // namespace cove::cgroup
