// What the façade's files (container.cpp, container_storage.cpp, ...) share and nobody else
// uses: config loading, the claim of a new container's directory and host ids, the lock wait.
#pragma once

#include <optional>
#include <string>

#include "base/result.hpp"
#include "config/container_config.hpp"
#include "paths.hpp"

namespace cove::detail {

inline constexpr int kLockTimeoutMs = 30000;

Result<config::ContainerConfig> load_config_of(const ContainerPaths& p, bool validate = true);
// mkdir of PATH/NAME (0700): the atomic claim on the name.
Result<void> claim_container_dir(const std::string& name, const ContainerPaths& p);
// A fresh host id range for an unprivileged config without [idmap] (written into `text` and
// the config file), or a claim on its explicit ranges. Returns the host uid of its root.
Result<std::optional<uint32_t>> claim_host_ids(const ContainerPaths& p, const config::ContainerConfig& cfg,
                                               std::string& text);

// A copy's (or an image's container's) own identity in its rootfs: `old_name` replaced by its
// name in /etc/hostname and /etc/hosts, /etc/machine-id emptied.
Result<void> personalize_rootfs(const ContainerPaths& p, const config::ContainerConfig& cfg, const std::string& old_name);
// Removes a container's directory with its storage (btrfs subvolumes) and its id ranges
// registration; failures are logged (it runs on rollback paths).
void remove_container_files(const ContainerPaths& p);

}  // namespace cove::detail
