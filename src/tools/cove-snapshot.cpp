// cove-snapshot: snapshots of a stopped container's rootfs: create, list, restore, destroy.
#include <cstdio>
#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/interrupt.hpp"
#include "container.hpp"
#include "tools/common/tool_main.hpp"

using namespace cove;
using namespace cove::tools;

namespace {

std::string when(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  char buf[32];
  std::tm tm;
  ::localtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

Result<int> list(Container& ct, bool json) {
  auto snaps = ct.snapshot_list();
  if (!snaps) return std::move(snaps).error();
  if (json) {
    auto arr = nlohmann::json::array();
    for (const auto& s : *snaps) arr.push_back({{"name", s.name}, {"created_ms", s.created_ms}, {"bytes", s.bytes}});
    std::printf("%s\n", arr.dump(2).c_str());
    return 0;
  }
  std::printf("%-20s %-19s %10s\n", "SNAPSHOT", "CREATED", "SIZE");
  for (const auto& s : *snaps)
    std::printf("%-20s %-19s %9.1fM\n", s.name.c_str(), when(s.created_ms).c_str(), static_cast<double>(s.bytes) / 1048576.0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description o("cove-snapshot options");
  o.add_options()("json", po::bool_switch(), "list: JSON")("args", po::value<std::vector<std::string>>(),
                                                            "VERB [SNAP] (positional)");
  ToolSpec spec{"cove-snapshot", "-n NAME [create [SNAP] | list [--json] | restore SNAP | destroy SNAP]",
                "Snapshots of a stopped container's rootfs (btrfs snapshots; copies, reflinked where the "
                "filesystem can, on the other backends)."};
  spec.positional = "args";
  return tool_main(argc, argv, spec, o, [&](const Common& c, const po::variables_map& vm) -> Result<int> {
    std::vector<std::string> a;
    if (vm.count("args")) a = vm["args"].as<std::vector<std::string>>();
    std::string verb = a.empty() ? "create" : a[0];
    std::string snap = a.size() > 1 ? a[1] : "";
    if (a.size() > 2) return usage_error("too many arguments");
    Container ct(c.lxcpath, c.name);
    catch_interrupts();
    if (verb == "list") return list(ct, vm["json"].as<bool>());
    if (verb == "create") {
      auto n = ct.snapshot_create(snap);
      if (!n) return std::move(n).error().context("snapshot `" + c.name + "`");
      std::printf("%s\n", n->c_str());
      return 0;
    }
    if (snap.empty()) return usage_error(verb + " needs SNAP");
    if (verb == "restore") {
      if (auto r = ct.snapshot_restore(snap); !r) return std::move(r).error().context("restore `" + c.name + "` to `" + snap + "`");
      return 0;
    }
    if (verb == "destroy") {
      if (auto r = ct.snapshot_destroy(snap); !r) return std::move(r).error().context("destroy snapshot `" + snap + "`");
      return 0;
    }
    return usage_error("unknown verb `" + verb + "` (allowed: create, list, restore, destroy)");
  });
}
