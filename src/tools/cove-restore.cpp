// cove-restore: restore a container from a cove-checkpoint image directory.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "container.hpp"
#include "tools/common/tool_main.hpp"

using namespace cove;
using namespace cove::tools;

int main(int argc, char** argv) {
  std::string dir;
  int timeout = kDefaultRestoreTimeoutS;
  po::options_description o("cove-restore options");
  o.add_options()("images-dir,D", po::value(&dir), "image directory written by cove-checkpoint")(
      "timeout", po::value(&timeout),
      "seconds CRIU may take before the restore is given up and the container left STOPPED (default 120)")(
      "thaw", po::bool_switch(), "come up RUNNING even when the container was frozen at the dump")(
      "json", po::bool_switch(), "print JSON");
  return tool_main(argc, argv,
                   {"cove-restore", "-n NAME -D DIR [--timeout SEC] [--thaw] [--json]",
                    "Restore a stopped container from a checkpoint; its monitor is started as by cove-start."},
                   o, [&](const Common& c, const po::variables_map& vm) -> Result<int> {
                     if (dir.empty()) return usage_error("missing image directory (-D DIR)");
                     Container ct(c.lxcpath, c.name);
                     RestoreOptions ro;
                     ro.images_dir = dir;
                     ro.timeout_s = timeout;
                     ro.thaw = vm["thaw"].as<bool>();
                     ro.log_file = c.log_file;
                     ro.log_level = c.log_level;
                     auto r = ct.restore(ro);
                     if (!r) return std::move(r).error().context("restore `" + c.name + "`");
                     if (vm["json"].as<bool>()) {
                       nlohmann::json j = {{"init_pid", r->init_pid},           {"criu_version", r->criu_version},
                                           {"wall_ms", r->wall_ms},             {"restore_time_us", r->restore_time_us},
                                           {"forking_time_us", r->forking_time_us}, {"pages_restored", r->pages_restored}};
                       std::printf("%s\n", j.dump(2).c_str());
                     } else {
                       std::printf("restored `%s` from %s (CRIU %s): init pid %d\n", c.name.c_str(), dir.c_str(),
                                   r->criu_version.c_str(), r->init_pid);
                       std::printf("  total %lld ms, CRIU restore %.1f ms (forking %.1f ms), pages restored %llu\n",
                                   (long long)r->wall_ms, r->restore_time_us / 1000.0, r->forking_time_us / 1000.0,
                                   (unsigned long long)r->pages_restored);
                     }
                     return 0;
                   });
}
