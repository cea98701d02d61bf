// cove-freeze: freeze every process of a running container (cgroup freezer).
#include "container.hpp"
#include "tools/common/tool_main.hpp"

using namespace cove;
using namespace cove::tools;

int main(int argc, char** argv) {
  po::options_description o("cove-freeze options");
  return tool_main(argc, argv,
                   {"cove-freeze", "-n NAME",
                    "Freeze a running container: its processes stop until cove-unfreeze; the state becomes FROZEN."},
                   o, [&](const Common& c, const po::variables_map&) -> Result<int> {
                     Container ct(c.lxcpath, c.name);
                     if (auto r = ct.freeze(); !r) return std::move(r).error().context("freeze `" + c.name + "`");
                     return 0;
                   });
}
