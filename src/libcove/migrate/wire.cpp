#include "migrate/wire.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <limits>
#include <type_traits>

namespace cove::migrate {

namespace {

using Json = nlohmann::json;

Json ranges_to_json(const std::vector<IdRange>& rs) {
  Json a = Json::array();
  for (const auto& r : rs) a.push_back(Json::array({r.first, r.count}));
  return a;
}

// An integer field of type T; anything else (a float, 4e40, a negative for an unsigned field,
// a value out of T's range) is refused. nlohmann's get<T> would convert a float with a cast
// that is undefined out of range (found by tests/fuzz/fuzz_migrate).
template <typename T>
T integer(const Json& v, const char* what) {
  bool ok = std::is_unsigned_v<T> ? v.is_number_unsigned() && v.get<uint64_t>() <= std::numeric_limits<T>::max()
                                  : v.is_number_integer() && v.get<int64_t>() >= std::numeric_limits<T>::min() &&
                                        v.get<int64_t>() <= std::numeric_limits<T>::max();
  if (!ok) throw std::invalid_argument(std::string("field `") + what + "` must be an integer in range");
  return std::is_unsigned_v<T> ? T(v.get<uint64_t>()) : T(v.get<int64_t>());
}

std::vector<IdRange> ranges_from_json(const Json& a) {
  if (!a.is_array()) throw std::invalid_argument("id ranges are a list");
  std::vector<IdRange> out;
  for (const auto& r : a) {
    if (!r.is_array() || r.size() != 2) throw std::invalid_argument("an id range is [FIRST, COUNT]");
    out.push_back({integer<uint64_t>(r[0], "id range"), integer<uint64_t>(r[1], "id range")});
  }
  return out;
}

Json lowers_to_json(const std::vector<LowerImage>& ls) {
  Json a = Json::array();
  for (const auto& l : ls) a.push_back({{"path", l.path}, {"hash", l.hash}});
  return a;
}

bool is_hash(const std::string& h) {
  return h.size() == 64 && h.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// Absent in an offer from a cove without it (the version check then says why).
std::vector<LowerImage> lowers_from_json(const Json& j) {
  auto a = j.find("lower_images");
  if (a == j.end()) return {};
  if (!a->is_array()) throw std::invalid_argument("lower_images is a list");
  std::vector<LowerImage> out;
  for (const auto& l : *a) {
    LowerImage li;
    l.at("path").get_to(li.path);
    l.at("hash").get_to(li.hash);
    if (!is_hash(li.hash)) throw std::invalid_argument("an image hash is 64 lowercase hex digits");
    out.push_back(std::move(li));
  }
  return out;
}

// The fields of each message (the envelope's `version` and `msg` aside).
Json fields(const Offer& o) {
  return {{"name", o.name},
          {"source", o.source},
          {"cove_version", o.cove_version},
          {"criu_version", o.criu_version},
          {"backend", o.backend},
          {"shared_storage", o.shared_storage},
          {"lower_images", lowers_to_json(o.lower_images)},
          {"uids", ranges_to_json(o.uids)},
          {"gids", ranges_to_json(o.gids)},
          {"links", o.links},
          {"rootfs_bytes", o.rootfs_bytes},
          {"memory_bytes", o.memory_bytes},
          {"cpu_flags", o.cpu_flags},
          {"mode", o.mode},
          {"transport", o.transport}};
}
Json fields(const Accepted& a) {
  return {{"container_dir", a.container_dir},
          {"images_dir", a.images_dir},
          {"go_fifo", a.go_fifo},
          {"pages_socket", a.pages_socket},
          {"pages_address", a.pages_address},
          {"pages_port", a.pages_port},
          {"pages_token", a.pages_token}};
}
Json fields(const FinalSync&) { return Json::object(); }
Json fields(const Refused& r) { return {{"error", error_to_json(from_wire(r.error))}}; }
Json fields(const Failed& f) { return {{"error", error_to_json(from_wire(f.error))}}; }
Json fields(const Running& r) { return {{"restore_ms", r.restore_ms}}; }
Json fields(const RestoreRequest&) { return Json::object(); }
Json fields(const Commit&) { return Json::object(); }
Json fields(const Committed&) { return Json::object(); }
Json fields(const Pages& p) { return {{"ms", p.ms}}; }

Offer offer_from(const Json& j) {
  Offer o;
  j.at("name").get_to(o.name);
  j.at("source").get_to(o.source);
  j.at("cove_version").get_to(o.cove_version);
  j.at("criu_version").get_to(o.criu_version);
  j.at("backend").get_to(o.backend);
  j.at("shared_storage").get_to(o.shared_storage);
  o.lower_images = lowers_from_json(j);
  o.uids = ranges_from_json(j.at("uids"));
  o.gids = ranges_from_json(j.at("gids"));
  j.at("links").get_to(o.links);
  o.rootfs_bytes = integer<uint64_t>(j.at("rootfs_bytes"), "rootfs_bytes");
  o.memory_bytes = integer<uint64_t>(j.at("memory_bytes"), "memory_bytes");
  j.at("cpu_flags").get_to(o.cpu_flags);
  j.at("mode").get_to(o.mode);
  if (o.mode != "stop-and-copy" && o.mode != "post-copy") throw std::invalid_argument("unknown mode `" + o.mode + "`");
  j.at("transport").get_to(o.transport);
  if (o.transport != "ssh" && o.transport != "page-server")
    throw std::invalid_argument("unknown transport `" + o.transport + "`");
  return o;
}
Accepted accepted_from(const Json& j) {
  Accepted a;
  j.at("container_dir").get_to(a.container_dir);
  j.at("images_dir").get_to(a.images_dir);
  j.at("go_fifo").get_to(a.go_fifo);
  j.at("pages_socket").get_to(a.pages_socket);
  j.at("pages_address").get_to(a.pages_address);
  a.pages_port = integer<uint32_t>(j.at("pages_port"), "pages_port");
  if (a.pages_port > 65535) throw std::invalid_argument("port out of range");
  if (auto t = j.find("pages_token"); t != j.end()) t->get_to(a.pages_token);
  if (!a.pages_token.empty() && !is_hash(a.pages_token))
    throw std::invalid_argument("pages_token is 64 lowercase hex digits");
  return a;
}
WireError error_from(const Json& j) { return to_wire(error_from_json(j.at("error"))); }
Running running_from(const Json& j) { return Running{integer<int64_t>(j.at("restore_ms"), "restore_ms")}; }

// Each message's name and decoder, in the order of Message's alternatives.
struct Kind {
  const char* name;
  Message (*decode)(const Json&);
};
const Kind kKinds[] = {
    {"offer", [](const Json& j) { return Message(offer_from(j)); }},
    {"accepted", [](const Json& j) { return Message(accepted_from(j)); }},
    {"refused", [](const Json& j) { return Message(Refused{error_from(j)}); }},
    {"final-sync", [](const Json&) { return Message(FinalSync{}); }},
    {"restore", [](const Json&) { return Message(RestoreRequest{}); }},
    {"running", [](const Json& j) { return Message(running_from(j)); }},
    {"failed", [](const Json& j) { return Message(Failed{error_from(j)}); }},
    {"commit", [](const Json&) { return Message(Commit{}); }},
    {"committed", [](const Json&) { return Message(Committed{}); }},
    {"pages", [](const Json& j) { return Message(Pages{integer<int64_t>(j.at("ms"), "ms")}); }},
};
static_assert(std::size(kKinds) == std::variant_size_v<Message>);

}  // namespace

const char* message_name(const Message& m) { return kKinds[m.index()].name; }

std::string encode(const Message& m) {
  Json j = std::visit([](const auto& v) { return fields(v); }, m);
  j["version"] = kWireVersion;
  j["msg"] = message_name(m);
  return j.dump() + "\n";
}

Result<Message> decode(std::string_view line) {
  if (line.size() > kMaxLineBytes) return Error(E2BIG, fmt::format("message of {} bytes is too large", line.size()));
  Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Error(EPROTO, "message is not a JSON object");
  auto v = j.find("version");
  if (v == j.end() || !v->is_number_integer()) return Error(EPROTO, "message has no `version`");
  if (v->get<int64_t>() != kWireVersion)
    return Error(EPROTONOSUPPORT, fmt::format("message of protocol version {}; this side speaks {}",
                                              v->dump(), kWireVersion));
  auto n = j.find("msg");
  if (n == j.end() || !n->is_string()) return Error(EPROTO, "message has no `msg`");
  for (const auto& k : kKinds) {
    if (*n != k.name) continue;
    try {
      return k.decode(j);
    } catch (const std::exception& e) {
      return Error(EPROTO, fmt::format("message `{}`: {}", k.name, e.what()));
    }
  }
  return Error(EPROTO, fmt::format("unknown message `{}`", n->get<std::string>()));
}

}  // namespace cove::migrate
