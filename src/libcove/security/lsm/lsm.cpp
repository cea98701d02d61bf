#include "security/lsm/lsm.hpp"

#include <algorithm>

#include "base/fs.hpp"
#include "base/strings.hpp"

namespace cove::security::lsm {

std::vector<std::string> active_lsms(const std::string& lsm_file) {
  auto text = read_file(lsm_file);
  if (!text) return {};
  std::vector<std::string> out;
  for (auto& s : split(std::string(trim(*text)), ','))
    if (!s.empty()) out.push_back(s);
  return out;
}

bool is_active(std::string_view name, const std::string& lsm_file) {
  auto l = active_lsms(lsm_file);
  return std::find(l.begin(), l.end(), name) != l.end();
}

Result<std::unique_ptr<Lsm>> open_lsm(std::string_view name) {
  std::string n(name);
  if (!is_active(name)) {
    auto act = active_lsms();
    return Error(ENOTSUP, "the host does not run the " + std::string(name == "apparmor" ? "AppArmor" : "SELinux") +
                              " LSM (active LSMs: " + (act.empty() ? "unknown" : join(act, ",")) +
                              "); add `optional` to the value to start without it");
  }
  if (name == "apparmor") return make_apparmor();
  if (name == "selinux") return make_selinux();
  return Error::invalid("unknown LSM `" + n + "`");
}

}  // namespace cove::security::lsm
