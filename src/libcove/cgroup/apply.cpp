// ContainerCgroups::apply / set_frozen / read_limit: which hierarchy carries each controller
// (v1 first, then v2), enabling v2 controllers in the parent's cgroup.subtree_control, and the
// dispatch to the per-version writers (writers.hpp). Conversions live in resources.cpp only.
#include <algorithm>

#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "cgroup/cgroup.hpp"
#include "cgroup/device_bpf.hpp"
#include "cgroup/writers.hpp"

namespace cove::cgroup {
namespace {

bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// The v1 name of a controller (v2 `io` is v1 `blkio`).
std::string v1_name(const std::string& controller) { return controller == "io" ? "blkio" : controller; }

// The [cgroup] keys that need `controller`, for messages.
std::string keys_needing(const std::string& controller) {
  if (controller == "memory") return "memory.max/memory.high/memory.swap.max";
  if (controller == "cpu") return "cpu.max/cpu.weight/cpus";
  if (controller == "cpuset") return "cpuset.cpus/cpuset.mems";
  if (controller == "pids") return "pids.max";
  if (controller == "io") return "io.max/io.weight";
  if (controller == "hugetlb") return "hugetlb.*.max";
  if (controller == "devices") return "devices.allow/devices.deny (and the default device rules)";
  return controller;
}

// The no-internal-process rule: a v2 cgroup that holds processes cannot enable controllers
// for its children (EBUSY), except the root. cove's cgroups are children of the starter's
// cgroup, so on a v2 host cove must be started from the root or from a cgroup that holds no
// process (the monitor has moved itself out by now; other processes may remain).
Result<void> enable_v2_controller(const std::string& payload_dir, const std::string& controller) {
  std::string parent = dirname_of(payload_dir);
  auto enabled = read_file(parent + "/cgroup.subtree_control");
  if (!enabled) return std::move(enabled).error().context("enable `" + controller + "`");
  if (has(split_ws(*enabled), controller)) return {};
  auto available = read_file(parent + "/cgroup.controllers");
  if (!available) return std::move(available).error().context("enable `" + controller + "`");
  if (!has(split_ws(*available), controller))
    return Error(EOPNOTSUPP, "controller `" + controller + "` is not available in `" + parent +
                                 "` (not in its cgroup.controllers: the parent cgroup must delegate it)");
  auto r = write_existing(parent + "/cgroup.subtree_control", "+" + controller);
  if (!r && r.error().code() == EBUSY)
    return Error(EBUSY, "enable controller `" + controller + "` in `" + parent +
                            "/cgroup.subtree_control`: that cgroup holds processes (cgroup v2 allows controllers "
                            "for children only in a cgroup without processes; start cove from an empty, delegated "
                            "cgroup's child or move the other processes out)");
  if (!r) return std::move(r).error().context("enable controller `" + controller + "`");
  return {};
}

}  // namespace

Result<void> write_control(const std::string& dir, const std::string& file, const std::string& value,
                           const std::string& key) {
  std::string path = dir + "/" + file;
  if (auto r = write_existing(path, value); !r) {
    if (r.error().code() == ENOENT && is_directory(dir))
      return Error(EOPNOTSUPP, key + ": the host's kernel has no `" + file + "` in `" + dir + "`");
    return Error(r.error().code(), key + ": write `" + value + "` to `" + path + "`: " + std::strerror(r.error().code()));
  }
  return {};
}

Result<void> write_cpuset(const std::string& dir, const ResourceLimits& l) {
  if (l.cpuset_cpus) COVE_TRY(write_control(dir, "cpuset.cpus", *l.cpuset_cpus, "cpuset.cpus"));
  if (l.cpuset_mems) COVE_TRY(write_control(dir, "cpuset.mems", *l.cpuset_mems, "cpuset.mems"));
  return {};
}

Result<void> write_pids(const std::string& dir, const ResourceLimits& l) {
  if (l.pids_max) COVE_TRY(write_control(dir, "pids.max", format_limit(*l.pids_max), "pids.max"));
  return {};
}

Result<std::optional<uint64_t>> read_counter(const std::string& path) {
  auto text = read_file(path);
  if (!text) {
    if (text.error().code() == ENOENT) return std::optional<uint64_t>{};
    return std::move(text).error();
  }
  auto t = trim(*text);
  if (t == "-1") return std::optional<uint64_t>(UINT64_MAX);
  auto v = parse_uint(t);
  if (!v) return Error::invalid("parse `" + path + "`: expected a number, got `" + std::string(t) + "`");
  return std::optional<uint64_t>(*v);
}

Result<void> ContainerCgroups::apply(const ResourceLimits& limits, const std::vector<std::string>& only) {
  if (hierarchies_.size() != payload_dirs_.size())
    return Error(EINVAL, "apply limits: the cgroups were not planned from a layout");
  auto wanted = only.empty() ? needed_controllers(limits) : only;
  if (only.empty() && (!limits.raw_v1.empty() || !limits.raw_v2.empty())) wanted.push_back("raw");
  auto find_v1 = [&](const std::string& c) -> int {
    for (size_t i = 0; i < hierarchies_.size(); ++i)
      if (!hierarchies_[i].v2 && has(hierarchies_[i].controllers, c)) return static_cast<int>(i);
    return -1;
  };
  auto find_v2 = [&]() -> int {
    for (size_t i = 0; i < hierarchies_.size(); ++i)
      if (hierarchies_[i].v2) return static_cast<int>(i);
    return -1;
  };
  for (const auto& c : wanted) {
    if (c == "raw") {
      COVE_TRY(apply_raw(limits));
      continue;
    }
    int v1 = find_v1(v1_name(c));
    int v2 = find_v2();
    bool on_v2 = v1 < 0 && v2 >= 0 && (c == "devices" || has(hierarchies_[size_t(v2)].controllers, c));
    if (v1 < 0 && !on_v2)
      return Error(EOPNOTSUPP, "apply limits: " + keys_needing(c) + " need the `" + c +
                                   "` controller, which this host has neither as a cgroup v1 hierarchy nor in the "
                                   "cgroup2 root's cgroup.controllers");
    const std::string& dir = payload_dirs_[size_t(on_v2 ? v2 : v1)];
    Result<void> r;
    if (on_v2 && c != "devices") {
      // An explicit path (plan_at) made its own ancestors: the controller goes down to them too.
      for (const auto& d : made_ancestors_)
        if (starts_with(dir, d + "/"))
          if (auto e = enable_v2_controller(d, c); !e) return std::move(e).error().context("apply limits");
      if (auto e = enable_v2_controller(dir, c); !e) return std::move(e).error().context("apply limits");
    }
    if (c == "memory") r = on_v2 ? v2::write_memory(dir, limits) : v1::write_memory(dir, limits);
    else if (c == "cpu") r = on_v2 ? v2::write_cpu(dir, limits) : v1::write_cpu(dir, limits);
    else if (c == "cpuset") r = write_cpuset(dir, limits);
    else if (c == "pids") r = write_pids(dir, limits);
    else if (c == "io") r = on_v2 ? v2::write_io(dir, limits) : v1::write_blkio(dir, limits);
    else if (c == "hugetlb") r = on_v2 ? v2::write_hugetlb(dir, limits) : v1::write_hugetlb(dir, limits);
    else if (c == "devices") r = on_v2 ? apply_device_program(dir, limits) : v1::write_devices(dir, limits);
    else r = Error::invalid("unknown controller `" + c + "`");
    if (!r) return std::move(r).error().context("apply limits");
    log::debug("applied {} limits on cgroup {} (`{}`)", c, on_v2 ? "v2" : "v1", dir);
  }
  return {};
}

// On v2 the program replaces the one attached before (a live change of the rules).
Result<void> ContainerCgroups::apply_device_program(const std::string& dir, const ResourceLimits& limits) {
  auto prog = load_device_program(build_device_program(effective_device_rules(limits)));
  if (!prog) return std::move(prog).error().context("devices");
  int old = device_prog_ && *device_prog_ ? device_prog_->get() : -1;
  if (auto r = attach_device_program(dir, prog->get(), old); !r) return std::move(r).error().context("devices");
  device_prog_ = std::make_shared<UniqueFd>(std::move(*prog));
  return {};
}

// raw.v1 goes to the v1 hierarchy of the file's controller (the part of the name before the
// first dot), raw.v2 to the v2 payload when v2 carries that controller; each is skipped on a
// host where that version does not carry the controller: they are per-version by design.
Result<void> ContainerCgroups::apply_raw(const ResourceLimits& limits) {
  for (int version : {1, 2}) {
    for (const auto& w : version == 1 ? limits.raw_v1 : limits.raw_v2) {
      std::string controller = w.file.substr(0, w.file.find('.'));
      std::string key = std::string("raw.v") + char('0' + version);
      bool done = false;
      for (size_t i = 0; i < hierarchies_.size() && !done; ++i) {
        const auto& h = hierarchies_[i];
        if (h.v2 != (version == 2)) continue;
        if (version == 2 && controller != "cgroup" && !has(h.controllers, controller)) continue;
        if (version == 1 && !has(h.controllers, controller)) continue;
        if (version == 2 && controller != "cgroup" && !has(needed_controllers(limits), controller))
          if (auto e = enable_v2_controller(payload_dirs_[i], controller); !e) return std::move(e).error().context(key);
        COVE_TRY(write_control(payload_dirs_[i], w.file, w.value, key + " " + w.file));
        done = true;
      }
      if (!done) log::debug("{} {}: no cgroup v{} hierarchy carries `{}`; skipped", key, w.file, version, controller);
    }
  }
  return {};
}

Result<void> ContainerCgroups::set_frozen(bool frozen, std::chrono::milliseconds timeout) {
  for (size_t i = 0; i < payload_dirs_.size(); ++i)
    if (path_exists(payload_dirs_[i] + "/freezer.state")) return v1::set_frozen(payload_dirs_[i], frozen, timeout);
  for (size_t i = 0; i < payload_dirs_.size(); ++i)
    if (path_exists(payload_dirs_[i] + "/cgroup.freeze")) return v2::set_frozen(payload_dirs_[i], frozen, timeout);
  return Error(EOPNOTSUPP, "freeze: the host has neither a v1 freezer hierarchy nor cgroup2's cgroup.freeze");
}

namespace {

std::optional<std::string> read_trimmed(const std::string& path) {
  auto t = read_file(path);
  if (!t) return std::nullopt;
  return std::string(trim(*t));
}

// v1 "unlimited" is a huge page-rounded number (or -1).
std::string v1_limit_text(const std::string& s) {
  auto n = parse_uint(s);
  if (s == "-1" || (n && *n >= (uint64_t(1) << 62))) return "max";
  return s;
}

// The v2 reading of `key` from a v1 directory, or nullopt when this dir does not have it.
std::optional<std::string> read_v1(const std::string& dir, const std::string& key) {
  auto f = [&](const char* file) { return read_trimmed(dir + "/" + file); };
  if (key == "memory.max") {
    if (auto v = f("memory.limit_in_bytes")) return v1_limit_text(*v);
  } else if (key == "memory.high") {
    if (auto v = f("memory.soft_limit_in_bytes")) return v1_limit_text(*v);
  } else if (key == "memory.swap.max") {
    auto mem = f("memory.limit_in_bytes"), memsw = f("memory.memsw.limit_in_bytes");
    if (mem && memsw) {
      if (v1_limit_text(*memsw) == "max") return std::string("max");
      return std::to_string(parse_uint(*memsw).value_or(0) - parse_uint(*mem).value_or(0));
    }
  } else if (key == "cpu.max") {
    auto quota = f("cpu.cfs_quota_us"), period = f("cpu.cfs_period_us");
    if (quota && period) return (*quota == "-1" ? std::string("max") : *quota) + " " + *period;
  } else if (key == "cpu.weight") {
    if (auto v = f("cpu.shares")) return std::to_string(shares_to_weight(parse_uint(*v).value_or(1024)));
  } else if (key == "io.max") {
    std::string out;
    for (const char* file : {"blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
                             "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device"})
      if (auto v = f(file); v && !v->empty()) out += std::string(file) + ": " + *v + "\n";
    if (path_exists(dir + "/blkio.throttle.read_bps_device")) return std::string(trim(out));
  } else if (key == "io.weight") {
    for (const char* file : {"blkio.weight", "blkio.bfq.weight"})
      if (auto v = f(file)) return std::to_string(blkio_to_io_weight(static_cast<uint32_t>(parse_uint(*v).value_or(100))));
  } else if (key == "devices.allow" || key == "devices.deny") {
    return f("devices.list");
  } else if (starts_with(key, "hugetlb.") && key.size() > 12 && key.substr(key.size() - 4) == ".max") {
    if (auto v = read_trimmed(dir + "/" + key.substr(0, key.size() - 4) + ".limit_in_bytes")) return v1_limit_text(*v);
  }
  return read_trimmed(dir + "/" + key);  // the same name on v1 (pids.max, cpuset.cpus) or a raw file
}

}  // namespace

Result<std::string> ContainerCgroups::read_limit(const std::string& key) const {
  if (key.empty() || key.find('/') != std::string::npos || key[0] == '.')
    return Error::invalid("`" + key + "` is not a cgroup key or control file name");
  for (const auto& dir : payload_dirs_) {
    if (path_exists(dir + "/cgroup.controllers")) {
      if (key == "devices.allow" || key == "devices.deny") continue;  // a BPF program, not a file
      if (auto v = read_trimmed(dir + "/" + key)) return *v;
    } else if (auto v = read_v1(dir, key)) {
      return *v;
    }
  }
  return Error(ENOENT, "no cgroup of the container has `" + key + "`");
}

}  // namespace cove::cgroup
