// cove-execute: run one command as the init of a fresh application container.
#include "container.hpp"
#include "tools/common/tool_main.hpp"

using namespace cove;
using namespace cove::tools;

int main(int argc, char** argv) {
  po::options_description o("cove-execute options");
  return tool_main(argc, argv,
                   {"cove-execute", "-n NAME -- CMD...",
                    "Run CMD as PID 1 of a fresh container built from NAME's config, with this terminal's stdio;\n"
                    "exit with its status."},
                   o, [&](const Common& c, const po::variables_map&) -> Result<int> {
                     if (c.rest.empty()) return usage_error("missing command (cove-execute -n NAME -- CMD...)");
                     Container ct(c.lxcpath, c.name);
                     StartOptions so;
                     so.foreground = true;
                     so.inherit_stdio = true;
                     so.init_override = c.rest;
                     so.log_file = c.log_file;
                     so.log_level = c.log_level;
                     auto r = ct.start(so);
                     if (!r) return std::move(r).error().context("execute in `" + c.name + "`");
                     return *r;
                   });
}
