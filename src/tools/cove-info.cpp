// cove-info: state, pids and resource usage of a container.
#include <cstdio>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/strings.hpp"
#include "container.hpp"
#include "tools/common/tool_main.hpp"

using namespace cove;
using namespace cove::tools;

namespace {
std::string human_bytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", b) : fmt::format("{:.2f} {}", v, units[u]);
}

nlohmann::json to_json(const ContainerInfo& i) {
  nlohmann::json j = {{"name", i.name},
                      {"state", state_name(i.state.state)},
                      {"monitor_died", i.state.monitor_died},
                      {"privileged", i.privileged},
                      {"rootfs", i.rootfs},
                      {"config", i.config_path}};
  bool live = i.state.state != ContainerState::kStopped;
  j["init_pid"] = live ? nlohmann::json(i.state.runtime.init_pid) : nlohmann::json(nullptr);
  j["monitor_pid"] = live ? nlohmann::json(i.state.runtime.monitor_pid) : nlohmann::json(nullptr);
  auto opt = [](const std::optional<uint64_t>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  j["cpu_usage_ns"] = opt(i.cpu_usage_ns);
  j["memory_current_bytes"] = opt(i.memory_current);
  j["memory_peak_bytes"] = opt(i.memory_peak);
  j["pids_current"] = opt(i.pids_current);
  j["io_read_bytes"] = opt(i.io_read_bytes);
  j["io_write_bytes"] = opt(i.io_write_bytes);
  j["io_read_ops"] = opt(i.io_read_ops);
  j["io_write_ops"] = opt(i.io_write_ops);
  j["oom_kills"] = opt(i.oom_kills);
  nlohmann::json nics = nlohmann::json::array();
  for (const auto& n : i.nics)
    nics.push_back({{"name", n.name}, {"type", n.type}, {"host_ifname", n.host_ifname}, {"bridge", n.bridge},
                    {"hwaddr", n.mac}, {"addresses", n.addresses}, {"rate_ingress_bps", n.rate_ingress},
                    {"rate_egress_bps", n.rate_egress}, {"rx_bytes", n.rx_bytes}, {"tx_bytes", n.tx_bytes},
                    {"rx_packets", n.rx_packets}, {"tx_packets", n.tx_packets},
                    {"ingress_drops", n.ingress_drops}, {"egress_drops", n.egress_drops}});
  j["nics"] = nics;
  return j;
}
std::string rate_text(uint64_t bps) { return bps ? format_rate(bps) : "unlimited"; }

// One block per NIC: rx/tx are the container's view (the host end's counters swapped).
void print_nics(const std::vector<monitor::NicReport>& nics) {
  for (const auto& n : nics) {
    std::string where = n.host_ifname.empty() ? n.type : n.type + " " + n.host_ifname;
    if (!n.bridge.empty()) where += " on " + n.bridge;
    std::printf("%-16s%s (%s), %s\n", ("NIC " + n.name + ":").c_str(), n.mac.c_str(), where.c_str(),
                n.addresses.empty() ? "no address" : join(n.addresses, " ").c_str());
    std::printf("%-16sreceived %s in %llu packets, sent %s in %llu packets\n", "", human_bytes(n.tx_bytes).c_str(),
                (unsigned long long)n.tx_packets, human_bytes(n.rx_bytes).c_str(), (unsigned long long)n.rx_packets);
    if (n.rate_ingress || n.rate_egress)
      std::printf("%-16srate in %s (%llu dropped), out %s (%llu dropped)\n", "", rate_text(n.rate_ingress).c_str(),
                  (unsigned long long)n.ingress_drops, rate_text(n.rate_egress).c_str(),
                  (unsigned long long)n.egress_drops);
  }
}
}  // namespace

int main(int argc, char** argv) {
  po::options_description o("cove-info options");
  o.add_options()("json", po::bool_switch(), "print JSON")("state,s", po::bool_switch(), "print the state only")(
      "pid,p", po::bool_switch(), "print init's pid only (nothing when stopped)");
  return tool_main(argc, argv, {"cove-info", "-n NAME [--json] [-s] [-p]", "Show a container's state and usage."}, o,
                   [&](const Common& c, const po::variables_map& vm) -> Result<int> {
                     Container ct(c.lxcpath, c.name);
                     auto info = ct.info();
                     if (!info) return std::move(info).error();
                     const auto& i = *info;
                     bool live = i.state.state != ContainerState::kStopped;
                     if (vm["json"].as<bool>()) {
                       std::printf("%s\n", to_json(i).dump(2).c_str());
                     } else if (vm["state"].as<bool>()) {
                       std::printf("%s\n", state_name(i.state.state));
                     } else if (vm["pid"].as<bool>()) {
                       if (live) std::printf("%d\n", i.state.runtime.init_pid);
                     } else {
                       std::printf("%-16s%s\n", "Name:", i.name.c_str());
                       std::printf("%-16s%s%s\n", "State:", state_name(i.state.state),
                                   i.state.monitor_died ? " (monitor died; cove-stop cleans up)" : "");
                       std::printf("%-16s%s\n", "Unprivileged:", i.privileged ? "no" : "yes");
                       if (live) {
                         std::printf("%-16s%d\n", "PID:", i.state.runtime.init_pid);
                         std::printf("%-16s%d\n", "Monitor PID:", i.state.runtime.monitor_pid);
                         if (i.cpu_usage_ns)
                           std::printf("%-16s%.2f seconds\n", "CPU use:", static_cast<double>(*i.cpu_usage_ns) / 1e9);
                         if (i.memory_current) std::printf("%-16s%s\n", "Memory use:", human_bytes(*i.memory_current).c_str());
                         if (i.memory_peak) std::printf("%-16s%s\n", "Memory peak:", human_bytes(*i.memory_peak).c_str());
                         if (i.pids_current) std::printf("%-16s%llu\n", "Processes:", (unsigned long long)*i.pids_current);
                         if (i.io_read_bytes && i.io_read_ops)
                           std::printf("%-16s%s in %llu ops\n", "I/O read:", human_bytes(*i.io_read_bytes).c_str(),
                                       (unsigned long long)*i.io_read_ops);
                         if (i.io_write_bytes && i.io_write_ops)
                           std::printf("%-16s%s in %llu ops\n", "I/O written:", human_bytes(*i.io_write_bytes).c_str(),
                                       (unsigned long long)*i.io_write_ops);
                         if (i.oom_kills) std::printf("%-16s%llu\n", "OOM kills:", (unsigned long long)*i.oom_kills);
                         print_nics(i.nics);
                       }
                       std::printf("%-16s%s\n", "Rootfs:", i.rootfs.c_str());
                     }
                     return 0;
                   });
}
