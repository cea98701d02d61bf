// cove-console: connect this terminal to a container's console or one of its ttys.
#include <cstdio>

#include "container.hpp"
#include "tools/common/tool_main.hpp"

using namespace cove;
using namespace cove::tools;

int main(int argc, char** argv) {
  unsigned tty = 0;
  std::string escape = "a";
  po::options_description o("cove-console options");
  o.add_options()("tty,t", po::value(&tty), "tty number; 0 (default) is /dev/console")(
      "escape,e", po::value(&escape), "escape prefix: Ctrl+<letter> (default a); <prefix> q detaches");
  return tool_main(argc, argv,
                   {"cove-console", "-n NAME [-t TTY] [-e ESCAPE]",
                    "Attach this terminal to a container's console or tty; type <Ctrl+a q> to detach."},
                   o, [&](const Common& c, const po::variables_map&) -> Result<int> {
                     if (escape.size() != 1 || escape[0] < 'a' || escape[0] > 'z')
                       return usage_error("escape must be one letter a-z, got `" + escape + "`");
                     int esc = escape[0] - 'a' + 1;
                     std::fprintf(stderr, "Connected to tty %u of `%s`. Type <Ctrl+%c q> to detach.\r\n", tty,
                                  c.name.c_str(), escape[0]);
                     Container ct(c.lxcpath, c.name);
                     if (auto r = ct.console(tty, esc); !r) return std::move(r).error();
                     std::fprintf(stderr, "\r\nDetached from `%s`.\n", c.name.c_str());
                     return 0;
                   });
}
