// The host ids of an unprivileged container are checked at every start and restore, not only
// at create: a config edited afterwards must not start a container on another one's ids.
// Called by Container::start under the container lock.
#pragma once

#include "base/result.hpp"
#include "config/container_config.hpp"
#include "paths.hpp"

namespace cove {

// EEXIST naming the other container when the host ids `cfg` maps overlap those of a container
// running in any cove path (as its monitor recorded them), another container's in the id map
// registry, or a delegation in /etc/subuid or /etc/subgid. Otherwise records them in the
// registry for `p` (a changed config replaces the old ranges). Nothing for a privileged one.
// `shared_with` (a PATH/NAME, or "") is a running container that may hold the same ids: the
// source of a migration into this container while both "hosts" share one runtime dir (two cove
// paths on one machine); it stays frozen until this one runs, then is killed.
// The check against running containers reads one index in the runtime dir, which the claim
// also adds `p`'s ranges to (under its lock: two starts cannot both pass).
Result<void> claim_host_ids(const ContainerPaths& p, const config::ContainerConfig& cfg,
                            const std::string& shared_with = "");
// Removes `p`'s ranges from that index: its monitor's cleanup, once the container is gone.
void release_host_ids(const ContainerPaths& p);

}  // namespace cove
