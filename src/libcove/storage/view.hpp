// The rootfs of a stopped container as a directory tree on the host, for copies, snapshots and
// exports: mounted (loop, overlay) in the calling process's private mount namespace
// (storage::isolate_mounts), else the directory itself. The view holds what it mounted until
// destroyed.
#pragma once

#include <optional>
#include <string>

#include "base/result.hpp"
#include "config/container_config.hpp"
#include "rootfs/ownership_shift.hpp"

namespace cove::storage {

struct RootfsView {
  std::string path;                             // the tree's root directory
  // Set when ids in the tree are host ids through these maps (an unprivileged overlay's
  // upper, a shifted rootfs): a reader wanting container ids maps them back. nullopt: the ids
  // are the container's own.
  std::optional<rootfs::ShiftRecord> shifted;
  bool mounted = false;                         // a mount of this process's own namespace
  ~RootfsView();
  RootfsView() = default;
  RootfsView(RootfsView&&) noexcept;
  RootfsView& operator=(RootfsView&&) = delete;
  RootfsView(const RootfsView&) = delete;
};

// `container_dir` is PATH/NAME; `cfg` its loaded config.
Result<RootfsView> open_view(const std::string& container_dir, const config::ContainerConfig& cfg, bool writable);

}  // namespace cove::storage
