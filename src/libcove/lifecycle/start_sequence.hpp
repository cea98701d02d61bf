// The parent (monitor) side of start: clones the child into its namespaces and drives it phase
// by phase (see child_setup.cpp, which lines up with this file step for step):
//   clone3 -> expect child-started -> write id maps, join cgroups, make NICs, delegate, idmapped rootfs
//   -> send parent-configured -> expect rootfs-ready (console/tty masters) -> send go
//   -> EOF = exec done.
// On any error the child is killed and reaped before the error is returned; cgroups belong to
// the caller, which removes them.
#pragma once

#include <sys/types.h>

#include <functional>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "cgroup/cgroup.hpp"
#include "lifecycle/launch_plan.hpp"
#include "storage/backend.hpp"
#include "network/container_network.hpp"

namespace cove::lifecycle {

struct InitProcess {
  pid_t pid = 0;
  UniqueFd pidfd;
  UniqueFd console_master;
  std::vector<UniqueFd> tty_masters;
};

// What the caller does at two points of a start; either may be empty, and an error ends it.
struct StartHooks {
  // Once the child is in its namespaces and cgroups, its ids mapped, before it mounts anything
  // (OCI createRuntime and createContainer hooks).
  std::function<Result<void>(pid_t)> namespaces_ready;
  // Once the child has been told to go: its last steps (restrictions, exec) run meanwhile, so
  // what the caller needs done before init counts as running is done here, off the start's
  // path (the monitor's exec record).
  std::function<Result<void>(pid_t)> released;
};

// `network`: the container's NICs, made in the child's network namespace before it goes on
// (nullptr or empty: only `lo`). They stay the caller's to tear down, also when this fails.
// `rootfs`: what the storage backend prepared (consumed); nullptr: prepared here.
Result<InitProcess> start_init(const LaunchPlan& plan, cgroup::ContainerCgroups& cgroups,
                               network::ContainerNetwork* network = nullptr,
                               storage::PreparedRootfs* rootfs = nullptr, const StartHooks& hooks = {});

// Opens an idmapped, detached clone of `path` (with its submounts when `recursive`) mapped
// through user namespace `userns_fd` (ns/mapping_namespace.hpp: a process's, or one with maps).
Result<UniqueFd> open_idmapped_tree(const std::string& path, int userns_fd, bool recursive = false);
// The same for an idmapped `[mount]` bind: its source may not have a symlink in its path
// (rootfs::clone_tree_no_symlinks).
Result<UniqueFd> open_idmapped_bind(const config::MountEntry& m, int userns_fd);

}  // namespace cove::lifecycle
