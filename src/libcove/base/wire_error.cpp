#include "base/wire_error.hpp"

namespace cove {

namespace {
// Bounds a decoder holds a peer to: a chain this long or a part this large is not an error
// any cove process makes.
constexpr size_t kMaxParts = 64;
constexpr size_t kMaxPartBytes = 16 * 1024;
}  // namespace

WireError to_wire(const Error& e) {
  WireError w;
  w.code = e.code();
  w.context = e.chain().empty() ? std::vector<std::string>{e.message()} : e.chain();
  return w;
}

Error from_wire(const WireError& w) {
  Error e(w.code, w.context.empty() ? std::string() : w.context.back());
  for (size_t i = w.context.size(); i-- > 1;) e = std::move(e).context(w.context[i - 1]);
  return e;
}

nlohmann::json error_to_json(const Error& e) {
  WireError w = to_wire(e);
  return nlohmann::json{{"code", w.code}, {"context", w.context}};
}

Error error_from_json(const nlohmann::json& j) {
  if (!j.is_object()) return Error(EPROTO, "malformed error: not an object");
  auto code = j.find("code");
  if (code == j.end() || !code->is_number_integer()) return Error(EPROTO, "malformed error: `code` must be an integer");
  auto c = code->get<int64_t>();
  if (c < 0 || c > 4095) return Error(EPROTO, "malformed error: `code` is out of range");
  auto ctx = j.find("context");
  if (ctx == j.end() || !ctx->is_array() || ctx->empty() || ctx->size() > kMaxParts)
    return Error(EPROTO, "malformed error: `context` must be a non-empty list of strings");
  WireError w;
  w.code = static_cast<int>(c);
  for (const auto& part : *ctx) {
    if (!part.is_string() || part.get_ref<const std::string&>().size() > kMaxPartBytes)
      return Error(EPROTO, "malformed error: `context` must be a non-empty list of strings");
    w.context.push_back(part.get<std::string>());
  }
  return from_wire(w);
}

std::string encode_error(const Error& e) { return error_to_json(e).dump(); }

Error decode_error(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Error(EPROTO, "malformed error: not JSON");
  return error_from_json(j);
}

}  // namespace cove
