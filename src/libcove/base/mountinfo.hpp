// /proc/PID/mountinfo (proc(5)), parsed once for every reader: the cgroup layout detection and
// the checkpoint checks. Pure parser plus one reader; knows nothing of containers.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace cove {

struct MountInfo {
  int id = 0, parent = 0;
  std::string device;         // major:minor
  std::string root;           // inside the filesystem
  std::string mountpoint;     // as seen by the process
  std::string options;        // per-mount options
  std::string fstype;
  std::string source;
  std::string super_options;  // per-superblock options
};

// Every line of mountinfo text, paths unescaped (\ooo). A malformed line is an error naming
// its number (the kernel never writes one; a parser that skipped it would hide a mount).
Result<std::vector<MountInfo>> parse_mountinfo(std::string_view text);
// The mount table of process `pid` ("self" for ours).
Result<std::vector<MountInfo>> read_mountinfo(const std::string& pid);
inline Result<std::vector<MountInfo>> read_mountinfo(pid_t pid) { return read_mountinfo(std::to_string(pid)); }

}  // namespace cove
