// cove-autostart: start the containers that say `[boot] autostart` (at host boot: cove.service),
// or stop them (--stop, at shutdown); -L shows the plan.
#include <cerrno>
#include <cstdio>

#include <fmt/format.h>

#include "container.hpp"
#include "tools/common/progress.hpp"
#include "tools/common/tool_main.hpp"

using namespace cove;
using namespace cove::tools;

namespace {

const char* outcome_word(AutostartOutcome o, bool stop) {
  switch (o) {
    case AutostartOutcome::kDone: return stop ? "stopped" : "started";
    case AutostartOutcome::kAlready: return stop ? "already stopped" : "already running";
    case AutostartOutcome::kFailed: return "failed";
    case AutostartOutcome::kSkipped: return "skipped";
  }
  return "?";
}

// -L: one line per container, in the order of the start (STEP ORDER DELAY STATE NAME).
int print_plan(const AutostartPlan& p) {
  std::printf("%-5s %-6s %-6s %-10s %s\n", "STEP", "ORDER", "DELAY", "STATE", "NAME");
  for (size_t i = 0; i < p.boot.steps.size(); ++i)
    for (const auto& n : p.boot.steps[i].names)
      std::printf("%-5zu %-6d %-6u %-10s %s\n", i + 1, p.boot.steps[i].order, p.boot.steps[i].delay_s,
                  state_name(p.states.at(n)), n.c_str());
  for (const auto& [n, why] : p.boot.refused) report("cove-autostart", Error(EINVAL, "`" + n + "`: " + why));
  return p.boot.refused.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  AutostartOptions ao;
  po::options_description o("cove-autostart options");
  o.add_options()("stop,s", po::bool_switch(&ao.stop), "stop them instead, the last started first")(
      "kill,k", po::bool_switch(&ao.kill), "with --stop: kill at once, no clean halt")(
      "timeout,t", po::value(&ao.timeout_s), "with --stop: seconds for a clean halt (default: each config's)")(
      "all,a", po::bool_switch(&ao.all), "every container, whatever [boot] autostart says")(
      "jobs,j", po::value(&ao.jobs), "at most this many at once (default: the CPUs to start, 8 times that to stop)")(
      "list,L", po::bool_switch(), "print the order they start in, and do nothing");
  ToolSpec spec{"cove-autostart", "[-P PATH] [-s [-k] [-t SEC]] [-a] [-j N] [-L]",
                "Start the containers whose config says [boot] autostart, in [boot] order; --stop stops them.", false};
  return tool_main(argc, argv, spec, o, [&](const Common& c, const po::variables_map& vm) -> Result<int> {
    if (!ao.stop && (ao.kill || vm.count("timeout"))) return usage_error("-k and -t go with --stop");
    if (ao.kill && vm.count("timeout")) return usage_error("-k and -t exclude each other");
    if (vm.count("jobs") && ao.jobs == 0) return usage_error("-j must be at least 1");
    if (vm["list"].as<bool>()) {
      auto p = Container::autostart_plan(c.lxcpath, ao.all);
      if (!p) return std::move(p).error();
      return print_plan(*p);
    }
    TerminalProgress progress(ao.stop ? "stopping" : "starting", "containers");
    auto r = Container::autostart(c.lxcpath, ao, [&](const AutostartItem& it, size_t done, size_t total) {
      if (it.outcome == AutostartOutcome::kFailed || it.outcome == AutostartOutcome::kSkipped) {
        progress.finish();
        report("cove-autostart", Error(EINVAL, "`" + it.name + "`: " + it.error));
      }
      progress.show(done, total);
    });
    progress.finish();
    if (!r) return std::move(r).error();
    std::string summary;
    for (auto oc : {AutostartOutcome::kDone, AutostartOutcome::kAlready, AutostartOutcome::kFailed, AutostartOutcome::kSkipped})
      if (size_t n = r->count(oc)) summary += fmt::format("{}{} {}", summary.empty() ? "" : ", ", n, outcome_word(oc, ao.stop));
    std::printf("%s (%.2f s)\n", summary.empty() ? "nothing to do" : summary.c_str(), static_cast<double>(r->wall_ms) / 1000.0);
    bool failed = r->count(AutostartOutcome::kFailed) + r->count(AutostartOutcome::kSkipped) > 0;
    return failed ? 1 : 0;
  });
}
