// Loop devices for image-backed storage: LOOP_CONFIGURE on a free device with autoclear, so the
// device detaches by itself when its filesystem is unmounted and its last fd closed (a killed
// monitor or tool leaves none behind).
#pragma once

#include <sys/types.h>

#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace cove::storage {

struct LoopDevice {
  UniqueFd fd;        // holds the device until the filesystem on it is mounted
  std::string path;   // /dev/loopN
  dev_t dev = 0;
};

Result<LoopDevice> attach_loop(const std::string& image, bool readonly);
// The loop device that backs `image` now, if any (from /sys/block/loop*/loop/backing_file).
std::string loop_of_image(const std::string& image);

}  // namespace cove::storage
