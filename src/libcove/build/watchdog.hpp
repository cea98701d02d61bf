// What a build killed by SIGKILL leaves behind is removed at once by its watchdog: a process
// forked at the start of the build, in a session of its own (a Ctrl+C on the terminal does not
// reach it), holding nothing of the build but the read end of a pipe. When the build's end
// closes (its exit, whatever the cause), the watchdog waits for the build's scratch lock,
// removes the build container (stopping it) and the scratch, and exits. A build that ends
// normally has removed both itself. The next build's sweep covers a watchdog killed too.
#pragma once

#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "build/layer_cache.hpp"

namespace cove::build {

// Returns the build's end of the pipe (CLOEXEC); keep it open for the build's lifetime. A
// process forked without exec (the RUN helper) closes it.
Result<UniqueFd> start_watchdog(LayerCache& cache, const std::string& id);

}  // namespace cove::build
