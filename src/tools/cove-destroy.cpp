// cove-destroy: remove a container and its root filesystem.
#include "container.hpp"
#include "tools/common/tool_main.hpp"

using namespace cove;
using namespace cove::tools;

int main(int argc, char** argv) {
  po::options_description o("cove-destroy options");
  o.add_options()("force,f", po::bool_switch(), "kill the container first if it runs");
  return tool_main(argc, argv, {"cove-destroy", "-n NAME [-f]", "Destroy a container: its config and root filesystem."},
                   o, [&](const Common& c, const po::variables_map& vm) -> Result<int> {
                     Container ct(c.lxcpath, c.name);
                     if (auto r = ct.destroy(vm["force"].as<bool>()); !r)
                       return std::move(r).error().context("destroy `" + c.name + "`");
                     return 0;
                   });
}
