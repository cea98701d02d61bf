#include "base/fsuid_guard.hpp"

#include <sys/fsuid.h>
#include <sys/stat.h>

namespace cove {

AsOwnerOf::AsOwnerOf(const std::string& dir) {
  struct stat st;
  active_ = ::stat(dir.c_str(), &st) == 0 && st.st_uid != 0;
  if (!active_) return;
  ::setfsgid(st.st_gid);
  ::setfsuid(st.st_uid);
}

AsOwnerOf::~AsOwnerOf() {
  if (!active_) return;
  ::setfsuid(0);
  ::setfsgid(0);
}

}  // namespace cove
