// The factories of backends that configure left out (see Makefile.am): they report which
// configure switch adds them, so a config asking for that LSM fails with a clear message.
#include "security/lsm/lsm.hpp"

namespace cove::security::lsm {

#ifndef COVE_HAVE_APPARMOR
Result<std::unique_ptr<Lsm>> make_apparmor() {
  return Error(ENOTSUP, "cove was built without AppArmor support (configure --enable-apparmor)");
}
#endif

#ifndef COVE_HAVE_SELINUX
Result<std::unique_ptr<Lsm>> make_selinux() {
  return Error(ENOTSUP, "cove was built without SELinux support (configure --enable-selinux)");
}
#endif

}  // namespace cove::security::lsm
