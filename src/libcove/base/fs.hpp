// File helpers returning Result: whole-file read/write, mkdir -p, atomic replace.
#pragma once

#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace cove {

Result<std::string> read_file(const std::string& path);
// Writes `data` with a single write(2) (what cgroup and /proc files need); no O_CREAT.
Result<void> write_existing(const std::string& path, const std::string& data);
// Creates or truncates `path` with `mode` and writes `data`.
Result<void> write_file(const std::string& path, const std::string& data, mode_t mode = 0644);
// Writes to a temp file in the same directory and renames it over `path`: readers see the old
// or the new content, never a mix. `durable` adds an fsync first (configs, registries); runtime
// state that a reboot clears anyway skips it (/run is not always a tmpfs: an fsync there costs ms).
enum class Durability { kDurable, kVolatile };
Result<void> write_file_atomic(const std::string& path, const std::string& data, mode_t mode = 0644,
                               Durability durability = Durability::kDurable);
Result<void> mkdir_p(const std::string& path, mode_t mode = 0755);
bool path_exists(const std::string& path);
bool is_directory(const std::string& path);
// Removes a tree without crossing into other mounts; errors carry the failing path.
Result<void> remove_tree(const std::string& path);
std::string dirname_of(const std::string& path);
std::string basename_of(const std::string& path);
// Absolute, lexically normalised path (no symlink resolution).
std::string absolute_path(const std::string& path);

}  // namespace cove
