#include "criu/cgroup_yard.hpp"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <set>

#include "base/list_dir.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"

namespace cove::criu {

CgroupYard::CgroupYard(const std::vector<std::pair<std::string, std::string>>& entries,
                       const std::vector<std::string>& needed, const std::string& dir) {
  if (entries.empty() || dir.empty()) return;
  std::set<std::string> names;
  for (const auto& [name, mount] : entries) names.insert(name);
  for (const auto& n : needed)
    if (!names.count(n)) {
      log::debug("criu cgroup yard: no hierarchy `{}` in the layout; CRIU mounts its own", n);
      return;
    }
  std::string path = dir + "/criu-cgroups." + std::to_string(::getpid());
  if (::mkdir(path.c_str(), 0700) < 0) {
    log::debug("criu cgroup yard: mkdir `{}`: {}", path, std::strerror(errno));
    return;
  }
  path_ = path;
  // Relative links: CRIU opens them from its yard fd also in restored tasks that have their
  // own root and mount namespace already, where "/sys/fs/cgroup/..." would name the
  // container's view; "../../.." climbs the yard's own tree, the host's.
  std::string up;
  for (char c : path_)
    if (c == '/') up += "../";
  for (const auto& [name, mount] : entries)
    if (::symlink((up + mount.substr(1)).c_str(), (path_ + "/" + name).c_str()) < 0) {
      log::debug("criu cgroup yard: symlink `{}`: {}", name, std::strerror(errno));
      remove();
      return;
    }
}

CgroupYard& CgroupYard::operator=(CgroupYard&& o) noexcept {
  if (this != &o) {
    remove();
    path_ = std::exchange(o.path_, {});
  }
  return *this;
}

void CgroupYard::remove() {
  if (path_.empty()) return;
  if (auto names = list_dir(path_))
    for (const auto& n : *names) {
      std::string p = path_ + "/" + n;
      struct stat st;
      if (::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        ::umount2(p.c_str(), MNT_DETACH);
        ::rmdir(p.c_str());
      } else {
        ::unlink(p.c_str());
      }
    }
  ::rmdir(path_.c_str());
  path_.clear();
}

void detach_cgroup_yards(const std::string& work_dir) {
  auto entries = list_dir(work_dir);
  if (!entries) return;
  for (const auto& e : *entries)
    if (starts_with(e, ".criu.cgyard.")) {
      std::string p = work_dir + "/" + e;
      ::umount2(p.c_str(), MNT_DETACH);
      ::rmdir(p.c_str());
    }
}

}  // namespace cove::criu
