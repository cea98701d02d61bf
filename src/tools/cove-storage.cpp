// cove-storage: a container's storage: its backend, quota and use (info), and growing the
// quota (resize), online when the container runs and the backend can.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "base/strings.hpp"
#include "container.hpp"
#include "tools/common/tool_main.hpp"

using namespace cove;
using namespace cove::tools;

int main(int argc, char** argv) {
  po::options_description o("cove-storage options");
  o.add_options()("json", po::bool_switch(), "info: JSON")("args", po::value<std::vector<std::string>>(),
                                                            "VERB [SIZE] (positional)");
  ToolSpec spec{"cove-storage", "-n NAME [info [--json] | resize SIZE]",
                "Show a container's storage backend, quota and disk use, or grow its quota."};
  spec.positional = "args";
  return tool_main(argc, argv, spec, o, [&](const Common& c, const po::variables_map& vm) -> Result<int> {
    std::vector<std::string> a;
    if (vm.count("args")) a = vm["args"].as<std::vector<std::string>>();
    std::string verb = a.empty() ? "info" : a[0];
    Container ct(c.lxcpath, c.name);
    if (verb == "info" && a.size() <= 1) {
      auto i = ct.storage_info();
      if (!i) return std::move(i).error().context("storage of `" + c.name + "`");
      if (vm["json"].as<bool>()) {
        nlohmann::json j = {{"backend", i->backend}, {"used_bytes", i->used_bytes}, {"lower", i->lower}};
        j["size"] = i->size ? nlohmann::json(*i->size) : nlohmann::json(nullptr);
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
      }
      std::printf("backend: %s\nsize:    %s\nused:    %.1f MiB\n", i->backend.c_str(),
                  i->size ? (std::to_string(*i->size >> 20) + " MiB").c_str() : "none",
                  static_cast<double>(i->used_bytes) / 1048576.0);
      for (const auto& l : i->lower) std::printf("lower:   %s\n", l.c_str());
      return 0;
    }
    if (verb == "resize" && a.size() == 2) {
      auto s = parse_size(a[1]);
      if (!s) return usage_error("`" + a[1] + "` is not a size (e.g. 20G)");
      if (auto r = ct.resize(*s); !r) return std::move(r).error().context("resize `" + c.name + "`");
      return 0;
    }
    return usage_error("expected `info [--json]` or `resize SIZE`");
  });
}
