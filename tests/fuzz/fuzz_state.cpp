// libFuzzer target: the runtime state record every tool reads (/run/cove/KEY/state).
#include <cstddef>
#include <cstdint>
#include <string>

#include "state/container_state.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  (void)cove::decode_runtime_state(text);
  return 0;
}
