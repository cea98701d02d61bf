// Helpers image_store.cpp and image_import.cpp share; not for other modules.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "images/image_info.hpp"

namespace cove::images::store_detail {

extern const char* const kTempPrefixName;
// flock (exclusive) on `path`, created if missing; without `wait`, EWOULDBLOCK when held.
Result<UniqueFd> lock_file(const std::string& path, bool wait);
// mkdir with exactly `mode` (an existing directory gets it).
Result<void> make_dir(const std::string& path, mode_t mode);
Result<void> check_space(const std::string& dir, const ImageMetadata& m);
// Removes the temp dirs of `root` whose lock is free.
void remove_stale_temps(const std::string& root);

}  // namespace cove::images::store_detail
