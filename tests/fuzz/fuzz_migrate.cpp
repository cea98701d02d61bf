// libFuzzer target: the migration's wire messages (migrate/wire.hpp) — what the receiver reads
// from the source over ssh, and what the source reads back. Besides "no crash, no exception",
// a message that decodes must encode to a line that decodes to the same message kind.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "migrate/wire.hpp"

using namespace cove;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto m = migrate::decode(text);
  if (m) {
    auto again = migrate::decode(migrate::encode(*m));
    if (!again || again->index() != m->index()) std::abort();
  }
  return 0;
}
