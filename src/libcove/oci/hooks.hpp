// OCI hooks (runtime-spec config.md "POSIX-platform Hooks"): each runs with the container's
// state JSON on stdin, its own env exactly, and its timeout. Where they run:
//   prestart, createRuntime  cove-oci create, in the runtime's namespaces, once the container's
//                            namespaces exist (before any mount in them)
//   createContainer          the same moment, in the container's mount, uts, ipc, network (and
//                            user) namespaces; before pivot_root, so paths are the host's
//   startContainer           init, inside the container, when `start` opens the gate, before
//                            the process is exec'd (LaunchPlan::gate_hooks)
//   poststart                cove-oci start, after the gate opened (a failure is a warning)
//   poststop                 cove-oci delete, after the container is gone (a failure is a warning)
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/run_program.hpp"
#include "oci/spec.hpp"

namespace cove::oci {

// One hook as a program request (path executed as is, args[0] as argv[0], env exact).
ProgramRequest hook_request(const Hook& hook);

// Runs `hooks` in order; the first failure is an error naming `kind`, the index and the path.
Result<void> run_hooks(const std::vector<Hook>& hooks, const std::string& kind, const std::string& state);

// The same, each entering namespaces of `pid` (createContainer): mount, uts, ipc, network, and
// the user namespace when `userns`.
Result<void> run_hooks_in(const std::vector<Hook>& hooks, const std::string& kind, const std::string& state, pid_t pid,
                          bool userns);

}  // namespace cove::oci
