// A file that appears under its name only when complete: written as an unnamed O_TMPFILE in
// the destination directory and linked into place by commit(), so a process killed while
// writing (even by SIGKILL) leaves nothing behind. Where the filesystem has no O_TMPFILE, a
// hidden `.NAME.partial-XXXXXX` (flock'd while written) is renamed instead; stale ones, whose
// lock is free, are removed by the next create() of that name.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace cove::images {

class OutputFile {
 public:
  // Refuses an existing `path` (EEXIST) and a directory with less than `needed` bytes free
  // (ENOSPC "needs N MB, `DIR` has M MB free").
  static Result<OutputFile> create(const std::string& path, uint64_t needed, mode_t mode = 0600);
  OutputFile(OutputFile&& o) noexcept
      : path_(std::move(o.path_)), dir_(std::move(o.dir_)), partial_(std::exchange(o.partial_, {})),
        fd_(std::move(o.fd_)), committed_(o.committed_) {}
  ~OutputFile();
  int fd() const { return fd_.get(); }
  // fsync, then gives the file its name (EEXIST if one appeared meanwhile).
  Result<void> commit();

 private:
  OutputFile() = default;
  std::string path_, dir_, partial_;  // partial_: the fallback's temp name ("" with O_TMPFILE)
  UniqueFd fd_;
  bool committed_ = false;
};

}  // namespace cove::images
