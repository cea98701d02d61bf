#include "rootfs/lxcfs.hpp"

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "base/fs.hpp"
#include "base/list_dir.hpp"
#include "base/mountinfo.hpp"

namespace cove::rootfs {

Result<std::string> mounted_fstype(const std::string& dir) {
  char buf[PATH_MAX];
  if (!::realpath(dir.c_str(), buf)) return Error::from_errno(errno, "`" + dir + "`");
  std::string real = buf;
  auto mounts = read_mountinfo("self");
  if (!mounts) return std::move(mounts).error();
  // Later lines are mounted later: the last one on `real` is what a lookup there finds.
  const MountInfo* top = nullptr;
  for (const auto& m : *mounts)
    if (m.mountpoint == real) top = &m;
  if (!top) return Error(ENOENT, "nothing is mounted on `" + real + "`");
  return top->fstype;
}

Result<std::vector<LxcfsView>> lxcfs_views(const std::string& dir) {
  std::vector<LxcfsView> out;
  auto files = list_dir(dir + "/proc");
  if (!files) return std::move(files).error().context("LXCFS at `" + dir + "`");
  // Sorted, and once each (LXCFS 5.0 lists some names twice).
  std::sort(files->begin(), files->end());
  files->erase(std::unique(files->begin(), files->end()), files->end());
  for (const auto& f : *files) out.push_back({dir + "/proc/" + f, "proc/" + f});
  // LXCFS 5 serves the whole directory (with `online`, `present`, the cpuN entries): bound as
  // one, like LXC's hook does when it has `uevent`.
  std::string cpu = "sys/devices/system/cpu";
  if (is_directory(dir + "/" + cpu)) out.push_back({dir + "/" + cpu, cpu});
  return out;
}

}  // namespace cove::rootfs
