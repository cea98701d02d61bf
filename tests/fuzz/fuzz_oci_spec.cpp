// libFuzzer target: the OCI config.json parser (oci/spec), the whole text as a bundle's
// config.json and as an `exec --process` JSON. Whatever the input, a Spec or an error: no
// crash, leak, hang, and no nlohmann exception turned into an "internal error" (a get<> that
// ran without its type check).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "oci/spec.hpp"

namespace {

// The message of a caught nlohmann exception starts so; input text can never put these words
// right after the label (what follows it is a `path`, or a fixed phrase).
template <typename R>
void check(const R& r, const std::string& label) {
  if (!r && r.error().message().rfind(label + ": internal error: ", 0) == 0) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  check(cove::oci::parse_spec(text, "config.json"), "config.json");
  check(cove::oci::parse_process(text, "process.json"), "process.json");
  return 0;
}
