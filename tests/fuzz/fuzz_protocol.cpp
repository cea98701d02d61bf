// libFuzzer target: the monitor protocol's decoders (monitor/protocol.hpp) and the wire form of
// an Error (base/wire_error.hpp) — what a monitor reads from any root client or from the
// cove-start that spawned it, and what a tool reads back. Besides "no crash, no exception", a request that decodes must encode to a message
// that decodes to the same command.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "base/wire_error.hpp"
#include "monitor/protocol.hpp"

using namespace cove;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto req = monitor::decode_request(text);
  if (req) {
    auto again = monitor::decode_request(monitor::encode_request(*req));
    if (!again || again->index() != req->index()) std::abort();
  }
  (void)monitor::decode_reply<monitor::Done>(text);
  (void)monitor::decode_reply<monitor::StateReply>(text);
  (void)monitor::decode_reply<monitor::CheckpointReply>(text);
  (void)monitor::decode_start_status(text);
  // The starter socket's messages (cove-start to the monitor it spawned).
  (void)monitor::decode_go(text);
  (void)monitor::decode_cgroups_made(text);
  if (auto made = monitor::decode_exec_made(text)) {
    auto again = monitor::decode_exec_made(monitor::encode_exec_made(*made));
    if (!again || again->restrictions.has_value() != made->restrictions.has_value()) std::abort();
  }
  Error e = decode_error(text);
  // A decoded error encodes to itself.
  if (decode_error(encode_error(e)).chain() != e.chain()) std::abort();
  return 0;
}
