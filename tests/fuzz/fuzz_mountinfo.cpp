// libFuzzer target: the mountinfo parser (base/mountinfo) and the cgroup layout built on it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cgroup/cgroup.hpp"
#include "base/mountinfo.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  (void)cove::cgroup::parse_layout(text);
  (void)cove::parse_mountinfo(text);
  return 0;
}
