// cove-cgroup: read a [cgroup] limit of a running container, or change it live (and, with
// --persist, in the container's config too).
#include <cstdio>

#include "container.hpp"
#include "tools/common/tool_main.hpp"

using namespace cove;
using namespace cove::tools;

int main(int argc, char** argv) {
  po::options_description o("cove-cgroup options");
  o.add_options()("persist", po::bool_switch(), "also write KEY = VALUE to the container's config")(
      "key-value", po::value<std::vector<std::string>>(), "KEY [VALUE] (positional)");
  ToolSpec spec{"cove-cgroup", "-n NAME KEY [VALUE] [--persist]",
                "Show KEY (a [cgroup] key of cove.conf(5), or a control file name) of a running container, or set "
                "it to VALUE."};
  spec.positional = "key-value";
  return tool_main(argc, argv, spec, o, [&](const Common& c, const po::variables_map& vm) -> Result<int> {
    std::vector<std::string> kv;
    if (vm.count("key-value")) kv = vm["key-value"].as<std::vector<std::string>>();
    if (kv.empty() || kv.size() > 2) return usage_error("expected KEY [VALUE]");
    bool persist = vm["persist"].as<bool>();
    Container ct(c.lxcpath, c.name);
    if (kv.size() == 1) {
      if (persist) return usage_error("--persist needs a VALUE");
      auto v = ct.cgroup_get(kv[0]);
      if (!v) return std::move(v).error().context("read `" + kv[0] + "` of `" + c.name + "`");
      std::printf("%s\n", v->c_str());
      return 0;
    }
    if (auto r = ct.cgroup_set(kv[0], kv[1], persist); !r)
      return std::move(r).error().context("set `" + kv[0] + "` of `" + c.name + "`");
    return 0;
  });
}
