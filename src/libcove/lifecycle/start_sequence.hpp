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

// `network`: the container's NICs, made in the child's network namespace before it goes on
// (nullptr or empty: only `lo`). They stay the caller's to tear down, also when this fails.
// `rootfs`: what the storage backend prepared (consumed); nullptr: prepared here.
// `namespaces_ready` (may be empty) runs once the child is in its namespaces and cgroups, its
// ids mapped, before it mounts anything (OCI createRuntime and createContainer hooks); an error
// ends the start.
Result<InitProcess> start_init(const LaunchPlan& plan, cgroup::ContainerCgroups& cgroups,
                               network::ContainerNetwork* network = nullptr,
                               storage::PreparedRootfs* rootfs = nullptr,
                               const std::function<Result<void>(pid_t)>& namespaces_ready = {});

// Opens an idmapped, detached clone of `path` (with its submounts when `recursive`) mapped
// through user namespace `userns_fd` (ns/mapping_namespace.hpp: a process's, or one with maps).
Result<UniqueFd> open_idmapped_tree(const std::string& path, int userns_fd, bool recursive = false);
// The same for an idmapped `[mount]` bind: its source may not have a symlink in its path
// (rootfs::clone_tree_no_symlinks).
Result<UniqueFd> open_idmapped_bind(const config::MountEntry& m, int userns_fd);

}  // namespace cove::lifecycle
