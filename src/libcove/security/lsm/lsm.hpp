// Linux security modules (AppArmor, SELinux) behind one interface. Detection is at run time
// (/sys/kernel/security/lsm); which backends exist is decided at build time (configure
// --enable-apparmor / --enable-selinux): open_lsm() returns the backend, or an error naming the
// LSM when the host does not run it or cove was built without it. AppArmor-only state (the
// generated profile) stays in apparmor.cpp.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace cove::security::lsm {

// The active LSMs from /sys/kernel/security/lsm ("lockdown,capability,landlock,bpf").
// `lsm_file` is injectable for tests.
std::vector<std::string> active_lsms(const std::string& lsm_file = "/sys/kernel/security/lsm");
bool is_active(std::string_view name, const std::string& lsm_file = "/sys/kernel/security/lsm");

class Lsm {
 public:
  virtual ~Lsm() = default;
  virtual std::string_view name() const = 0;
  // Monitor side, before the container's init exists: checks the configured value and returns
  // the label the child will enter. AppArmor `generated`: renders the template as a profile
  // named `label` into `runtime_dir` and loads it.
  virtual Result<std::string> prepare(const std::string& value, const std::string& label,
                                      const std::string& runtime_dir) = 0;
  // Child side, right before execve: the label the next execve enters.
  virtual Result<void> set_exec_label(const std::string& label) = 0;
  // When the container is destroyed: unloads the profile `prepare` generated as `label` into
  // `runtime_dir` (AppArmor), if it is there. Nothing for other backends.
  virtual Result<void> unload_generated(const std::string& label, const std::string& runtime_dir) {
    (void)label;
    (void)runtime_dir;
    return {};
  }
};

// "apparmor" or "selinux". Errors: ENOTSUP when the host does not run the LSM or cove lacks it.
Result<std::unique_ptr<Lsm>> open_lsm(std::string_view name);

// Backends; each is defined by its own file, or by none.cpp when configure left it out.
Result<std::unique_ptr<Lsm>> make_apparmor();
Result<std::unique_ptr<Lsm>> make_selinux();

}  // namespace cove::security::lsm
