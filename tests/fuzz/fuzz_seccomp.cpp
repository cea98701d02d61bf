// libFuzzer target: the seccomp policy parsers (LXC text and OCI JSON, chosen by the first
// byte, and the format sniffing of parse_policy for the rest).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "security/seccomp/policy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: (void)cove::security::seccomp::parse_lxc_policy(text, "fuzz"); break;
    case 1: (void)cove::security::seccomp::parse_oci_policy(text, "fuzz"); break;
    default: (void)cove::security::seccomp::parse_policy(text, "fuzz"); break;
  }
  return 0;
}
