// cove-create: create a container from a template.
#include "container.hpp"
#include "tools/common/tool_main.hpp"

using namespace cove;
using namespace cove::tools;

int main(int argc, char** argv) {
  std::string tmpl, config;
  po::options_description o("cove-create options");
  o.add_options()("template,t", po::value(&tmpl), "template: a name (busybox) or a path to an executable")(
      "config,f", po::value(&config), "initial configuration file (default: the shipped default.conf)");
  return tool_main(argc, argv,
                   {"cove-create", "-n NAME [-t TEMPLATE] [-f CONFIG] [-- TEMPLATE-ARGS...]",
                    "Create a container: its directory, its config and, with a template, its root filesystem."},
                   o, [&](const Common& c, const po::variables_map&) -> Result<int> {
                     Container ct(c.lxcpath, c.name);
                     CreateOptions co{tmpl, config, c.rest};
                     if (auto r = ct.create(co); !r) return std::move(r).error().context("create `" + c.name + "`");
                     return 0;
                   });
}
