// cove-attach: run a command inside a running container.
#include <unistd.h>

#include "base/sealed_exec.hpp"
#include "container.hpp"
#include "tools/common/tool_main.hpp"

using namespace cove;
using namespace cove::tools;

int main(int argc, char** argv) {
  // First of all: the process that enters the container must not run the host's file (a
  // privileged container could reopen it for writing through /proc/PID/exe).
  if (auto r = reexec_sealed("cove-attach", argv); !r) return report("cove-attach", r.error());
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
                     auto r = ct.attach(ao);
                     if (!r) return std::move(r).error().context("attach to `" + c.name + "`");
                     return *r;
                   });
}
