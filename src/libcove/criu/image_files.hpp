// ImageFiles: an image directory and its regular files, whose owners and modes a restore
// changes (`give_to`: restored tasks read some images themselves, as the container's root,
// before their user namespace has its maps) and a failed restore puts back (`put_back`).
// Every file is opened relative to the directory's fd with O_NOFOLLOW | O_NONBLOCK and checked
// with fstat (the same inode as recorded, a regular file): a link or FIFO put in the directory
// is skipped, never followed, where a chown by path would give any host file it names to the
// container's root.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace cove::criu {

class ImageFiles {
 public:
  // Records the directory's and each regular file's owner and mode.
  static Result<ImageFiles> open(const std::string& dir);

  // The directory becomes 0711 and the files 0644, all owned by uid:gid. CRIU opens the
  // images relative to the directory's fd, so a private parent directory (the default place
  // is one) still keeps them from other users.
  Result<void> give_to(uid_t uid, gid_t gid) const;
  // The recorded owners and modes again (best effort: a failure is logged).
  void put_back() const;

 private:
  struct Entry {
    std::string name;
    dev_t dev;
    ino_t ino;
    uid_t uid;
    gid_t gid;
    mode_t mode;
  };
  // The recorded file again, or nothing when the name now holds something else.
  UniqueFd reopen(const Entry& e) const;

  std::string dir_;
  UniqueFd dir_fd_;
  struct stat dir_st_ = {};
  std::vector<Entry> files_;
};

}  // namespace cove::criu
