// The entry names of a directory, "." and ".." left out, in readdir order (base/dir for more).
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"

namespace cove {

Result<std::vector<std::string>> list_dir(const std::string& dir);

}  // namespace cove
