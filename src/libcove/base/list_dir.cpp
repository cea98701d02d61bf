#include "base/list_dir.hpp"

#include "base/dir.hpp"

namespace cove {

Result<std::vector<std::string>> list_dir(const std::string& dir) {
  auto d = Dir::open(dir);
  if (!d) return Error::from_errno(d.error().code(), "list `" + dir + "`");
  auto names = d->names();
  if (!names) return Error::from_errno(names.error().code(), "list `" + dir + "`");
  return names;
}

}  // namespace cove
