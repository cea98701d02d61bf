// cove-unfreeze: thaw a frozen container.
#include "container.hpp"
#include "tools/common/tool_main.hpp"

using namespace cove;
using namespace cove::tools;

int main(int argc, char** argv) {
  po::options_description o("cove-unfreeze options");
  return tool_main(argc, argv,
                   {"cove-unfreeze", "-n NAME", "Thaw a frozen container; the state becomes RUNNING again."}, o,
                   [&](const Common& c, const po::variables_map&) -> Result<int> {
                     Container ct(c.lxcpath, c.name);
                     if (auto r = ct.unfreeze(); !r) return std::move(r).error().context("unfreeze `" + c.name + "`");
                     return 0;
                   });
}
