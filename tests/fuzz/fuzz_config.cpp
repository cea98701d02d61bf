// libFuzzer target: the INI reader, every key's parser and validate(), on arbitrary text.
// Whatever the input, load_config_string returns a config or an error; it must not crash,
// hang, leak or read past a buffer.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/load.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  cove::config::LoadOptions o;
  o.name = "fuzz";
  o.default_rootfs = "/nonexistent/fuzz/rootfs";
  // Relative includes resolve next to this label: a directory that does not exist.
  (void)cove::config::load_config_string(text, "/nonexistent/fuzz/config", o);
  return 0;
}
