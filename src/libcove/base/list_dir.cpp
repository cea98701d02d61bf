#include "base/list_dir.hpp"

#include <dirent.h>

#include <memory>

namespace cove {

Result<std::vector<std::string>> list_dir(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) return Error::from_errno(errno, "list `" + dir + "`");
  std::vector<std::string> out;
  while (struct dirent* e = ::readdir(d.get())) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  return out;
}

}  // namespace cove
