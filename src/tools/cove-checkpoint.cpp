// cove-checkpoint: dump a running container with CRIU into an image directory.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "container.hpp"
#include "tools/common/tool_main.hpp"

using namespace cove;
using namespace cove::tools;

namespace {
nlohmann::json to_json(const CheckpointReport& r) {
  return {{"images_dir", r.images_dir},
          {"criu_version", r.criu_version},
          {"stopped", r.stopped},
          {"wall_ms", r.wall_ms},
          {"freezing_time_us", r.freezing_time_us},
          {"frozen_time_us", r.frozen_time_us},
          {"memdump_time_us", r.memdump_time_us},
          {"memwrite_time_us", r.memwrite_time_us},
          {"pages_scanned", r.pages_scanned},
          {"pages_written", r.pages_written}};
}

int print_check(const std::string& name, const std::vector<CheckpointFinding>& findings, bool json) {
  bool ok = true;
  for (const auto& f : findings) ok &= !f.blocking;
  if (json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& f : findings) arr.push_back({{"area", f.area}, {"what", f.what}, {"blocking", f.blocking}});
    std::printf("%s\n", nlohmann::json{{"checkpointable", ok}, {"findings", arr}}.dump(2).c_str());
  } else {
    for (const auto& f : findings)
      std::printf("%-8s %-8s %s\n", f.blocking ? "BLOCKS" : "ok", f.area.c_str(), f.what.c_str());
    std::printf("`%s` %s\n", name.c_str(), ok ? "can be checkpointed" : "cannot be checkpointed (see BLOCKS above)");
  }
  return ok ? 0 : 1;
}
}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  po::options_description o("cove-checkpoint options");
  o.add_options()("images-dir,D", po::value(&dir), "image directory (created; must be empty)")(
      "stop,s", po::bool_switch(), "stop the container after a successful dump (default: it keeps running)")(
      "check", po::bool_switch(), "only say whether the container can be checkpointed, and why not")(
      "json", po::bool_switch(), "print JSON");
  return tool_main(argc, argv,
                   {"cove-checkpoint", "-n NAME -D DIR [-s|--stop] [--json] | -n NAME --check [--json]",
                    "Checkpoint a running container with CRIU into DIR; it keeps running unless --stop."},
                   o, [&](const Common& c, const po::variables_map& vm) -> Result<int> {
                     Container ct(c.lxcpath, c.name);
                     bool json = vm["json"].as<bool>();
                     if (vm["check"].as<bool>()) {
                       auto f = ct.checkpoint_check();
                       if (!f) return std::move(f).error().context("check `" + c.name + "`");
                       return print_check(c.name, *f, json);
                     }
                     if (dir.empty()) return usage_error("missing image directory (-D DIR)");
                     CheckpointOptions co;
                     co.images_dir = dir;
                     co.stop = vm["stop"].as<bool>();
                     auto r = ct.checkpoint(co);
                     if (!r) return std::move(r).error().context("checkpoint `" + c.name + "`");
                     if (json) {
                       std::printf("%s\n", to_json(*r).dump(2).c_str());
                     } else {
                       std::printf("checkpointed `%s` into %s%s (CRIU %s)\n", c.name.c_str(), r->images_dir.c_str(),
                                   r->stopped ? ", container stopped" : ", container running", r->criu_version.c_str());
                       std::printf("  total %lld ms, frozen %.1f ms (freezing %.1f ms), memory dump %.1f ms, "
                                   "write %.1f ms, pages written %llu of %llu scanned\n",
                                   (long long)r->wall_ms, r->frozen_time_us / 1000.0, r->freezing_time_us / 1000.0,
                                   r->memdump_time_us / 1000.0, r->memwrite_time_us / 1000.0,
                                   (unsigned long long)r->pages_written, (unsigned long long)r->pages_scanned);
                     }
                     return 0;
                   });
}
