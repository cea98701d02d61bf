// cove-start: start a container (detached by default).
#include "container.hpp"
#include "tools/common/tool_main.hpp"

using namespace cove;
using namespace cove::tools;

int main(int argc, char** argv) {
  po::options_description o("cove-start options");
  o.add_options()("foreground,F", po::bool_switch(), "stay in the foreground with the console on this terminal")(
      "daemon,d", po::bool_switch(), "detach (the default)");
  return tool_main(argc, argv,
                   {"cove-start", "-n NAME [-F] [-- CMD...]",
                    "Start a container. With -- CMD, CMD runs as init instead of the configured one."},
                   o, [&](const Common& c, const po::variables_map& vm) -> Result<int> {
                     Container ct(c.lxcpath, c.name);
                     StartOptions so;
                     so.foreground = vm["foreground"].as<bool>();
                     so.init_override = c.rest;
                     so.log_file = c.log_file;
                     so.log_level = c.log_level;
                     auto r = ct.start(so);
                     if (!r) return std::move(r).error().context("start `" + c.name + "`");
                     return *r;
                   });
}
