// cove-migrate: move a running container to another host through ssh (the source's side), and,
// hidden, the destination's side that the source runs there (`cove migrate --receive`).
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/interrupt.hpp"
#include "container.hpp"
#include "tools/common/tool_main.hpp"

using namespace cove;
using namespace cove::tools;

namespace {

Result<MigrateMode> parse_mode(const std::string& s) {
  if (s == "auto") return MigrateMode::kAuto;
  if (s == "stop-and-copy") return MigrateMode::kStopAndCopy;
  if (s == "post-copy") return MigrateMode::kPostCopy;
  return usage_error("--mode `" + s + "`: auto, stop-and-copy or post-copy");
}

nlohmann::json to_json(const std::string& name, const MigrateReport& r) {
  nlohmann::json stages = nlohmann::json::array();
  for (const auto& s : r.stages) stages.push_back({{"name", s.name}, {"ms", s.ms}});
  return {{"name", name},           {"destination", r.destination}, {"mode", r.mode},
          {"mode_note", r.mode_note}, {"stages", stages},             {"downtime_ms", r.downtime_ms},
          {"total_ms", r.total_ms}, {"restore_ms", r.restore_ms},   {"rootfs_bytes", r.rootfs_bytes},
          {"memory_bytes", r.memory_bytes}, {"source_kept", r.source_kept}};
}

// Each stage on stdout with its duration as it ends (vzmigrate -t); a live line on a terminal.
void show_stages(MigrateOptions& mo, bool tty) {
  mo.on_stage_start = [tty](const std::string& stage) {
    if (tty) std::fprintf(stderr, "\r\033[K  %s ...", stage.c_str());
  };
  mo.on_stage_end = [tty](const std::string& stage, int64_t ms) {
    if (tty) std::fprintf(stderr, "\r\033[K");
    std::printf("  %-16s %6lld ms\n", stage.c_str(), (long long)ms);
    std::fflush(stdout);
  };
}

int receive(const Common& c) {
  // The session's end (the source gone, the link cut) must reach the rollback, not kill us.
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  Container ct(c.lxcpath, c.name);
  if (auto r = ct.receive_migration(STDIN_FILENO, STDOUT_FILENO); !r)
    return report("cove-migrate", std::move(r).error().context("receive `" + c.name + "`"));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = "auto", transport = "ssh", remote_cove = "cove";
  std::vector<std::string> ssh_opts;
  po::options_description o("cove-migrate options");
  o.add_options()("mode", po::value(&mode), "stop-and-copy, post-copy or auto (default: the best that works here)")(
      "transport", po::value(&transport),
      "how post-copy's pages travel: ssh (default: over the ssh connection, as everything else) or "
      "page-server (direct TCP to the destination, unencrypted)")(
      "shared-storage", po::bool_switch(), "do not copy the rootfs: it is at the same path on both hosts")(
      "keep-source", po::bool_switch(), "keep the source's copy, STOPPED (default: destroyed)")(
      "ssh-opt", po::value(&ssh_opts), "an extra argument for ssh (repeatable: --ssh-opt=-i --ssh-opt=KEY)")(
      "remote-cove", po::value(&remote_cove), "the cove command on the destination (default: cove)")(
      "json", po::bool_switch(), "print the report as JSON")("quiet,q", po::bool_switch(), "print nothing on success")(
      "receive", po::bool_switch(), "(internal) the destination's side, run by the source through ssh")(
      "dest", po::value<std::vector<std::string>>(), "DEST (positional)");
  ToolSpec spec{"cove-migrate",
                "-n NAME [-P PATH] ssh://[user@]host[:port][/cove-path] [--mode stop-and-copy|post-copy|auto] "
                "[--shared-storage] [--keep-source] [--ssh-opt OPT]... [--json] [-q]",
                "Move a running container to another host; it runs there, and is removed here."};
  spec.positional = "dest";
  return tool_main(argc, argv, spec, o, [&](const Common& c, const po::variables_map& vm) -> Result<int> {
    if (vm["receive"].as<bool>()) return receive(c);
    std::vector<std::string> dest;
    if (vm.count("dest")) dest = vm["dest"].as<std::vector<std::string>>();
    if (dest.size() != 1) return usage_error("expected one DEST (ssh://[user@]host[:port][/cove-path])");
    if (transport != "ssh" && transport != "page-server")
      return usage_error("--transport `" + transport + "`: ssh or page-server");
    auto m = parse_mode(mode);
    if (!m) return std::move(m).error();
    bool json = vm["json"].as<bool>(), quiet = vm["quiet"].as<bool>();
    MigrateOptions mo;
    mo.destination = dest[0];
    mo.mode = *m;
    mo.shared_storage = vm["shared-storage"].as<bool>();
    mo.keep_source = vm["keep-source"].as<bool>();
    mo.page_server_transport = transport == "page-server";
    mo.ssh_opts = ssh_opts;
    mo.remote_cove = remote_cove;
    if (!json && !quiet) show_stages(mo, ::isatty(STDERR_FILENO) == 1);
    // A dead ssh must be an error of a write, not the end of this process (the container would
    // stay frozen); Ctrl+C ends the migration at its next stage, rolled back.
    ::signal(SIGPIPE, SIG_IGN);
    catch_interrupts();
    Container ct(c.lxcpath, c.name);
    auto r = ct.migrate(mo);
    if (!r) return std::move(r).error().context("migrate `" + c.name + "` to " + dest[0]);
    if (json) {
      std::printf("%s\n", to_json(c.name, *r).dump(2).c_str());
    } else if (!quiet) {
      if (!r->mode_note.empty()) std::printf("  mode: %s (%s)\n", r->mode.c_str(), r->mode_note.c_str());
      std::printf("migrated `%s` to %s: downtime %lld ms, total %lld ms%s\n", c.name.c_str(), r->destination.c_str(),
                  (long long)r->downtime_ms, (long long)r->total_ms, r->source_kept ? " (source kept, STOPPED)" : "");
    }
    return 0;
  });
}
