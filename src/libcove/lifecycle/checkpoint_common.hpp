// What checkpoint.cpp (the dump) and restore.cpp (the restore) both tell CRIU about a cove
// container: internal to lifecycle/.
#pragma once

#include <string>
#include <vector>

#include "cgroup/cgroup.hpp"
#include "config/container_config.hpp"
#include "criu/cgroup_yard.hpp"
#include "criu/checkpoint.hpp"

namespace cove::lifecycle {

// A [mount] entry's target as the mount table shows it: "/" + target, no repeated or trailing
// slash.
std::string normalize_target(const std::string& target);

// The payload cgroup of each hierarchy as a path from the hierarchy's root, per controller.
std::vector<criu::CgroupRoot> cgroup_roots(const cgroup::ContainerCgroups& cgs, const cgroup::Layout& layout);

// CRIU's cgroup yard for one run (criu/cgroup_yard.hpp) under `dir`, when the layout allows one.
criu::CgroupYard make_cgroup_yard(const cgroup::Layout* layout, const std::string& dir);

// Why the NICs of `cfg` cannot be checkpointed ("" when they can): only veths, whose host end
// cove names again on restore; CRIU cannot bring back a moved physical NIC, and a macvlan or
// ipvlan would need its parent named on the restoring host (not supported yet).
std::string nics_not_checkpointable(const config::ContainerConfig& cfg);

}  // namespace cove::lifecycle
