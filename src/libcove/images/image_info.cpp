#include "images/image_info.hpp"

#include <nlohmann/json.hpp>

#include "base/strings.hpp"

namespace cove::images {

namespace {

constexpr size_t kMaxField = 256;
constexpr const char* kHashPrefix = "sha256:";

bool is_hex64(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

Result<std::string> text_field(const nlohmann::json& j, const char* key) {
  if (!j.contains(key)) return std::string();
  if (!j[key].is_string()) return Error::invalid(std::string("`") + key + "` is not a string");
  std::string v = j[key].get<std::string>();
  if (v.size() > kMaxField || printable(v) != v)
    return Error::invalid(std::string("`") + key + "` is longer than 256 bytes or has control characters");
  return v;
}

Result<uint64_t> number_field(const nlohmann::json& j, const char* key) {
  if (!j.contains(key)) return uint64_t{0};
  if (!j[key].is_number_unsigned()) return Error::invalid(std::string("`") + key + "` is not an unsigned number");
  return j[key].get<uint64_t>();
}

}  // namespace

std::string metadata_to_json(const ImageMetadata& m) {
  nlohmann::json j = {{"format", m.format},       {"distro", m.distro},   {"release", m.release},
                      {"arch", m.arch},           {"created", m.created}, {"cove_version", m.cove_version},
                      {"size", m.size},           {"entries", m.entries}, {"source", m.source}};
  if (!m.version.empty()) j["version"] = m.version;
  if (!m.content_hash.empty()) j["content_hash"] = kHashPrefix + m.content_hash;
  return j.dump(2) + "\n";
}

Result<ImageMetadata> metadata_from_json(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Error::invalid("metadata is not a JSON object");
  ImageMetadata m;
  if (!j.contains("format") || !j["format"].is_number_integer() || j["format"].get<int64_t>() != 1)
    return Error::invalid("metadata `format` is not 1 (an image of another cove version?)");
  std::string hash;
  std::pair<const char*, std::string*> texts[] = {{"distro", &m.distro},   {"release", &m.release},
                                                  {"arch", &m.arch},       {"created", &m.created},
                                                  {"cove_version", &m.cove_version}, {"source", &m.source},
                                                  {"version", &m.version},  {"content_hash", &hash}};
  for (auto [key, out] : texts) {
    auto v = text_field(j, key);
    if (!v) return std::move(v).error().context("metadata");
    *out = std::move(*v);
  }
  if (!hash.empty()) {
    if (!starts_with(hash, kHashPrefix) || !is_hex64(hash.substr(7)))
      return Error::invalid("metadata `content_hash` is not `sha256:` and 64 hex digits");
    m.content_hash = hash.substr(7);
  }
  for (auto [key, out] : {std::pair{"size", &m.size}, std::pair{"entries", &m.entries}}) {
    auto v = number_field(j, key);
    if (!v) return std::move(v).error().context("metadata");
    *out = *v;
  }
  return m;
}

}  // namespace cove::images
