// SELinux backend (libselinux): init's context is entered with setexeccon(3); the configured
// value is used as is.
#include <selinux/selinux.h>

#include "security/lsm/lsm.hpp"

namespace cove::security::lsm {
namespace {

class SeLinux final : public Lsm {
 public:
  std::string_view name() const override { return "selinux"; }

  Result<std::string> prepare(const std::string& value, const std::string&, const std::string&) override {
    if (::is_selinux_enabled() <= 0) return Error(ENOTSUP, "SELinux is not enabled on this host");
    if (::security_check_context(value.c_str()) < 0)
      return Error::from_errno(errno, "SELinux context `" + value + "` is not valid in the loaded policy");
    return value;
  }

  Result<void> set_exec_label(const std::string& label) override {
    if (label.empty()) return {};
    if (::setexeccon(label.c_str()) < 0) return Error::from_errno(errno, "set SELinux exec context `" + label + "`");
    return {};
  }
};

}  // namespace

Result<std::unique_ptr<Lsm>> make_selinux() { return std::unique_ptr<Lsm>(new SeLinux()); }

}  // namespace cove::security::lsm
