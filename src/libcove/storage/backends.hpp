// The backends behind storage::Backend (backend_for() picks one), and what they share.
#pragma once

#include <memory>

#include "storage/backend.hpp"
#include "storage/loop_device.hpp"

namespace cove::storage {

std::unique_ptr<Backend> make_dir_backend();
std::unique_ptr<Backend> make_loop_backend();
std::unique_ptr<Backend> make_overlay_backend();
std::unique_ptr<Backend> make_btrfs_backend();

// A new sparse ext4 image of `size` bytes (made with O_EXCL: never over an existing file).
Result<void> make_ext4_image(const std::string& image, uint64_t size);
// The ext4 filesystem in `image` as a detached mount; `disk` gets the loop device.
Result<UniqueFd> mount_ext4_image(const std::string& image, bool readonly, dev_t* disk);
// Grows the ext4 image to `size`: offline (e2fsck + resize2fs), or online through the running
// container's root (`init_pid`), which needs CAP_SYS_RESOURCE.
Result<void> grow_ext4_image(const std::string& image, uint64_t size, pid_t init_pid);
// A user namespace fd with `maps` (from a short-lived holder), for idmapping views.
Result<UniqueFd> userns_for(const IdMaps& maps);

}  // namespace cove::storage
