// cove-ls: list containers with their state.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "container.hpp"
#include "tools/common/tool_main.hpp"

using namespace cove;
using namespace cove::tools;

int main(int argc, char** argv) {
  std::vector<std::string> filters;
  po::options_description o("cove-ls options");
  o.add_options()("json", po::bool_switch(), "print JSON")("running", po::bool_switch(), "only running containers")(
      "stopped", po::bool_switch(), "only stopped containers")("frozen", po::bool_switch(), "only frozen containers")(
      "state,s", po::value(&filters)->composing(), "only containers in STATE (repeatable)")(
      "line,1", po::bool_switch(), "names only, one per line");
  ToolSpec spec{"cove-ls", "[-P PATH] [--json] [--running|--stopped|--frozen|-s STATE]", "List containers.", false};
  return tool_main(argc, argv, spec, o, [&](const Common& c, const po::variables_map& vm) -> Result<int> {
    std::vector<ContainerState> want;
    if (vm["running"].as<bool>()) want.push_back(ContainerState::kRunning);
    if (vm["stopped"].as<bool>()) want.push_back(ContainerState::kStopped);
    if (vm["frozen"].as<bool>()) want.push_back(ContainerState::kFrozen);
    for (const auto& f : filters) {
      auto st = parse_state(f);
      if (!st) return usage_error("unknown state `" + f + "` (allowed: " + state_names() + ")");
      want.push_back(*st);
    }
    auto names = Container::list(c.lxcpath);
    if (!names) return std::move(names).error();
    Container::ConfigReadCache configs;
    nlohmann::json arr = nlohmann::json::array();
    std::vector<std::vector<std::string>> rows;
    auto infos = Container::info_of_all(c.lxcpath, *names, Container::InfoDetail::kBrief);
    for (size_t i = 0; i < names->size(); ++i) {
      const std::string& n = (*names)[i];
      auto& info = infos[i];
      if (!info) {
        std::fprintf(stderr, "cove-ls: `%s`: %s\n", n.c_str(), info.error().message().c_str());
        continue;
      }
      auto st = info->state.state;
      if (!want.empty() && std::find(want.begin(), want.end(), st) == want.end()) continue;
      bool live = st != ContainerState::kStopped;
      std::string state = state_name(st);
      if (info->state.monitor_died) state += " (monitor died)";
      if (info->incomplete) state += " (incomplete create)";
      // One broken config must not hide the others: it is listed, and its error named.
      if (!info->config_error.empty()) {
        state += " (bad config)";
        std::fprintf(stderr, "cove-ls: `%s`: config: %s\n", n.c_str(), info->config_error.c_str());
      }
      arr.push_back({{"name", n},
                     {"state", state_name(st)},
                     {"monitor_died", info->state.monitor_died},
                     {"incomplete", info->incomplete},
                     {"config_error", info->config_error.empty() ? nlohmann::json(nullptr)
                                                                 : nlohmann::json(info->config_error)},
                     {"init_pid", live ? nlohmann::json(info->state.runtime.init_pid) : nlohmann::json(nullptr)},
                     {"unprivileged", !info->privileged},
                     {"memory_current_bytes",
                      info->memory_current ? nlohmann::json(*info->memory_current) : nlohmann::json(nullptr)}});
      rows.push_back({n, state, live ? std::to_string(info->state.runtime.init_pid) : "-",
                      info->privileged ? "false" : "true",
                      info->memory_current ? std::to_string(*info->memory_current / 1024) + "K" : "-"});
    }
    if (vm["json"].as<bool>()) {
      std::printf("%s\n", arr.dump(2).c_str());
    } else if (vm["line"].as<bool>()) {
      for (const auto& r : rows) std::printf("%s\n", r[0].c_str());
    } else {
      std::vector<std::string> head = {"NAME", "STATE", "PID", "UNPRIVILEGED", "MEMORY"};
      std::vector<size_t> w(head.size());
      for (size_t i = 0; i < head.size(); ++i) {
        w[i] = head[i].size();
        for (const auto& r : rows) w[i] = std::max(w[i], r[i].size());
      }
      auto line = [&](const std::vector<std::string>& r) {
        for (size_t i = 0; i < r.size(); ++i) std::printf(i + 1 < r.size() ? "%-*s  " : "%-*s\n", (int)w[i], r[i].c_str());
      };
      line(head);
      for (const auto& r : rows) line(r);
    }
    return 0;
  });
}
