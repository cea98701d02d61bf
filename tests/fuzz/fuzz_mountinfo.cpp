// libFuzzer target: the mountinfo parsers (cgroup layout detection and the checkpoint scan).
#include <cstddef>
#include <cstdint>
#include <string>

#include "cgroup/cgroup.hpp"
#include "lifecycle/proc_scan.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  (void)cove::cgroup::parse_layout(text);
  (void)cove::lifecycle::parse_mountinfo(text);
  return 0;
}
