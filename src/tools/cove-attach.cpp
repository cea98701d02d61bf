// cove-attach: run a command inside a running container.
#include <unistd.h>

#include "base/sealed_exec.hpp"
#include "container.hpp"
#include "host_config.hpp"
#include "tools/common/tool_main.hpp"

using namespace cove;
using namespace cove::tools;

int main(int argc, char** argv) {
  std::vector<std::string> vars;
  std::string cwd = "/";
  po::options_description o("cove-attach options");
  o.add_options()("keep-env", po::bool_switch(), "keep this environment instead of a clean one")(
      "set-var,v", po::value(&vars)->composing(), "set VAR=VALUE in the command's environment (repeatable)")(
      "pty", po::bool_switch(), "allocate a pty even when stdin is not a terminal")(
      "no-pty", po::bool_switch(), "never allocate a pty")("cwd", po::value(&cwd), "working directory inside");
  return tool_main(argc, argv,
                   {"cove-attach", "-n NAME [--keep-env] [-v VAR=VALUE]... [-- CMD...]",
                    "Run CMD (default /bin/sh) inside a running container as its root; exit with CMD's status."},
                   o, [&](const Common& c, const po::variables_map& vm) -> Result<int> {
                     Container ct(c.lxcpath, c.name);
                     AttachOptions ao;
                     ao.argv = c.rest;
                     ao.keep_env = vm["keep-env"].as<bool>();
                     ao.set_env = vars;
                     ao.cwd = cwd;
                     if (vm["pty"].as<bool>()) ao.pty = true;
                     if (vm["no-pty"].as<bool>()) ao.pty = false;
                     for (const auto& v : vars)
                       if (v.find('=') == std::string::npos) return usage_error("-v needs VAR=VALUE, got `" + v + "`");
                     // Into a privileged container, the process that enters must not run the
                     // host's file: root there could reopen it for writing through /proc/PID/exe
                     // (CVE-2019-5736 class). So this process first re-executes itself from a
                     // read-only overlay view of its file, or a sealed copy (base/sealed_exec).
                     // A user-namespaced container's root can do neither:
                     // that process is non-dumpable to it, and the file is not writable by its ids.
                     auto st = ct.state();
                     if (st.runtime.privileged)
                       COVE_TRY(reexec_sealed("cove-attach", argv, host_config().runtime_dir));
                     auto r = ct.attach(ao, st);
                     if (!r) return std::move(r).error().context("attach to `" + c.name + "`");
                     return *r;
                   });
}
