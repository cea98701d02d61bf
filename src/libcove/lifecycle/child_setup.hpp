// The child side of start: runs in the freshly cloned process (PID 1 of the new pid
// namespace), carries out a LaunchPlan step by step in lockstep with start_sequence (the
// parent side), and ends in execve of init. It never returns: on error it sends the Error over
// the setup channel and _exit()s. No exception leaves it.
#pragma once

#include <string>
#include <vector>

#include "lifecycle/launch_plan.hpp"
#include "process/setup_channel.hpp"

namespace cove::lifecycle {

// `cgroup_dirs`: the container's own cgroup in each of plan.cgroup_hierarchies (its payload
// dirs, ContainerCgroups::payload_dirs), what its /sys/fs/cgroup shows when it has a cgroup
// namespace of its own.
[[noreturn]] void run_child(const LaunchPlan& plan, const std::vector<std::string>& cgroup_dirs,
                            SetupChannel channel) noexcept;

}  // namespace cove::lifecycle
