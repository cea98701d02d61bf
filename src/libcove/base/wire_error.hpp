// The one wire form of an Error, used at every process boundary (the setup channel, the
// monitor's replies, the start status, attach's failure message): `{code, context}` with
// `code` an errno-style int and `context` the message chain, outermost first, root last.
// As JSON: {"code": 13, "context": ["prepare rootfs", "mount `proc`: Permission denied"]}.
// Decoding gives back an Error with the same code, message and chain; a message that is not
// such an object decodes to an EPROTO "malformed error: ..." Error instead (never an exception):
// either way the far side failed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.hpp"

namespace cove {

struct WireError {
  int code = 0;
  std::vector<std::string> context;  // outermost first; the root message last; never empty
};

WireError to_wire(const Error& e);
Error from_wire(const WireError& w);

// The JSON object form, for messages that carry an error among other fields.
nlohmann::json error_to_json(const Error& e);
Error error_from_json(const nlohmann::json& j);

// The text form: the JSON object, serialized.
std::string encode_error(const Error& e);
Error decode_error(std::string_view text);

}  // namespace cove
