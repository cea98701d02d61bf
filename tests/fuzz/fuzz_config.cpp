// libFuzzer target: the INI reader, every key's parser and validate(), on arbitrary text; and
// the same text as a host config (/etc/cove/cove.conf). Whatever the input, load_config_string
// and parse_host_config return a config or an error; they must not crash, hang, leak or read
// past a buffer.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/load.hpp"
#include "host_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  cove::config::LoadOptions o;
  o.name = "fuzz";
  o.default_rootfs = "/nonexistent/fuzz/rootfs";
  // Relative includes resolve next to this label: a directory that does not exist.
  (void)cove::config::load_config_string(text, "/nonexistent/fuzz/config", o);
  (void)cove::parse_host_config(text, "/nonexistent/fuzz/cove.conf");
  return 0;
}
