// SecurityConfig: the typed [security] section (capabilities, no_new_privs, seccomp, LSMs,
// rlimits, sysctls, masked paths). Filled by keys_security.cpp; applied by security/.
#pragma once

namespace cove::config {

struct SecurityConfig {};

}  // namespace cove::config
