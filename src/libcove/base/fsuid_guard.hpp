// AsOwnerOf: file operations of this thread act as the owner of a directory for the guard's
// lifetime (setfsuid/setfsgid), so that what they create belongs to that owner: the host's root
// making a pty or a link in a user-namespaced container's /dev makes it the container root's.
// Nothing changes for a root-owned directory. The caller runs as root (fsuid 0 is put back).
#pragma once

#include <string>

namespace cove {

class AsOwnerOf {
 public:
  explicit AsOwnerOf(const std::string& dir);
  ~AsOwnerOf();
  AsOwnerOf(const AsOwnerOf&) = delete;
  AsOwnerOf& operator=(const AsOwnerOf&) = delete;

 private:
  bool active_ = false;
};

}  // namespace cove
