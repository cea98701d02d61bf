// cove-wait: wait for a container to reach a state.
#include <time.h>
#include <unistd.h>

#include "base/clock.hpp"
#include "base/strings.hpp"
#include "container.hpp"
#include "tools/common/tool_main.hpp"

using namespace cove;
using namespace cove::tools;

int main(int argc, char** argv) {
  std::string want;
  double timeout = -1;
  po::options_description o("cove-wait options");
  o.add_options()("state,s", po::value(&want)->required(), "STATE, or several as RUNNING|STOPPED")(
      "timeout,t", po::value(&timeout), "give up after TIMEOUT seconds (exit 1)");
  return tool_main(argc, argv,
                   {"cove-wait", "-n NAME -s STATE [-t TIMEOUT]", "Wait until a container is in one of the STATEs."},
                   o, [&](const Common& c, const po::variables_map&) -> Result<int> {
                     std::vector<ContainerState> states;
                     for (const auto& s : split(want, '|')) {
                       auto st = parse_state(s);
                       if (!st)
                         return usage_error("unknown state `" + s + "` (allowed: " + state_names() + ")");
                       states.push_back(*st);
                     }
                     Container ct(c.lxcpath, c.name);
                     int64_t ms = timeout < 0 ? -1 : static_cast<int64_t>(timeout * 1000);
                     int64_t start = monotonic_ms();
                     for (;;) {
                       auto now = ct.state().state;
                       for (auto s : states)
                         if (s == now) return 0;
                       if (ms >= 0 && monotonic_ms() - start >= ms)
                         return Error(ETIMEDOUT, "timed out waiting for `" + c.name + "` (it is " +
                                                     state_name(now) + ")");
                       ::usleep(10000);
                     }
                   });
}
