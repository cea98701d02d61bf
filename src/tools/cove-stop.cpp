// cove-stop: halt a container cleanly, kill it, or reboot it.
#include "container.hpp"
#include "tools/common/tool_main.hpp"

using namespace cove;
using namespace cove::tools;

int main(int argc, char** argv) {
  int timeout = -1;
  po::options_description o("cove-stop options");
  o.add_options()("timeout,t", po::value(&timeout), "seconds to wait for a clean halt before killing (default: config)")(
      "kill,k", po::bool_switch(), "kill at once, no clean halt")("reboot,r", po::bool_switch(), "reboot instead");
  return tool_main(argc, argv,
                   {"cove-stop", "-n NAME [-t TIMEOUT] [-k] [-r]",
                    "Stop a container: the configured halt signal to init, then SIGKILL after TIMEOUT seconds."},
                   o, [&](const Common& c, const po::variables_map& vm) -> Result<int> {
                     if (vm["kill"].as<bool>() && vm["reboot"].as<bool>())
                       return usage_error("-k and -r exclude each other");
                     Container ct(c.lxcpath, c.name);
                     StopOptions so;
                     so.timeout_s = timeout;
                     so.kill = vm["kill"].as<bool>();
                     so.reboot = vm["reboot"].as<bool>();
                     if (auto r = ct.stop(so); !r) return std::move(r).error().context("stop `" + c.name + "`");
                     return 0;
                   });
}
