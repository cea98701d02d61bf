#include "monitor/protocol.hpp"

#include <fmt/format.h>

#include <limits>

#include "base/wire_error.hpp"
#include "lifecycle/exec_record.hpp"

namespace cove::monitor {

namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

// Field access --------------------------------------------------------------------------------

template <typename T>
const char* type_name() {
  if constexpr (std::is_same_v<T, bool>) return "a boolean";
  else if constexpr (std::is_same_v<T, std::string>) return "a string";
  else if constexpr (std::is_unsigned_v<T>) return "an unsigned integer";
  else return "an integer";
}

template <typename T>
bool has_type(const Json& v) {
  if constexpr (std::is_same_v<T, bool>) return v.is_boolean();
  else if constexpr (std::is_same_v<T, std::string>) return v.is_string();
  else if constexpr (std::is_unsigned_v<T>)
    return v.is_number_unsigned() && v.get<uint64_t>() <= std::numeric_limits<T>::max();
  else
    return v.is_number_integer() && v.get<int64_t>() >= std::numeric_limits<T>::min() &&
           v.get<int64_t>() <= std::numeric_limits<T>::max();
}

// Field `name` of `j`: nullopt when absent, an error when present with another type (or out
// of T's range).
template <typename T>
Result<std::optional<T>> optional_field(const Json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end()) return std::optional<T>();
  if (!has_type<T>(*it)) return Error(EPROTO, fmt::format("field `{}` must be {}", name, type_name<T>()));
  return std::optional<T>(it->get<T>());
}

template <typename T>
Result<T> required_field(const Json& j, const char* name) {
  auto v = optional_field<T>(j, name);
  if (!v) return std::move(v).error();
  if (!*v) return Error(EPROTO, fmt::format("field `{}` is missing", name));
  return std::move(**v);
}

// Reads field `name` into `out` (left as it is when absent and not required).
template <typename T>
Result<void> read_field(const Json& j, const char* name, T& out, bool required = false) {
  auto v = optional_field<T>(j, name);
  if (!v) return std::move(v).error();
  if (*v) out = std::move(**v);
  else if (required) return Error(EPROTO, fmt::format("field `{}` is missing", name));
  return {};
}

// Text --------------------------------------------------------------------------------------

// Parses one message: an object of at most kMaxMessageBytes; a message cut short is named so.
Result<Json> parse_message(std::string_view text, const char* what) {
  if (text.size() > kMaxMessageBytes)
    return Error(E2BIG, fmt::format("{} of {} bytes is larger than the limit of {}", what, text.size(), kMaxMessageBytes));
  Json j;
  try {
    j = Json::parse(text);
  } catch (const Json::parse_error& e) {
    if (e.byte >= text.size()) return Error(EPROTO, fmt::format("{} is truncated (ends after {} bytes)", what, text.size()));
    return Error(EPROTO, fmt::format("{} is not JSON (at byte {})", what, e.byte));
  } catch (const Json::exception& e) {
    return Error(EPROTO, fmt::format("{} is not JSON: {}", what, e.what()));
  }
  if (!j.is_object()) return Error(EPROTO, fmt::format("{} is not a JSON object", what));
  auto version = optional_field<int64_t>(j, "version");
  if (!version) return std::move(version).error().context(what);
  if (!*version) return Error(EPROTO, fmt::format("{} has no `version`", what));
  if (**version != kProtocolVersion)
    return Error(EPROTONOSUPPORT,
                 fmt::format("{} is of protocol version {}; this side speaks {}", what, **version, kProtocolVersion));
  return j;
}

Json envelope() { return Json{{"version", kProtocolVersion}}; }

// Requests ------------------------------------------------------------------------------------

// One command on the wire: its name, the fields it may carry, and how its request is built
// from a message whose fields have been checked.
struct Command {
  const char* name;
  std::vector<const char*> fields;
  Result<Request> (*decode)(const Json&);
};

Result<Request> decode_state(const Json&) { return Request(StateRequest{}); }
Result<Request> decode_stop(const Json& j) {
  StopRequest r;
  auto t = optional_field<uint32_t>(j, "timeout");
  if (!t) return std::move(t).error();
  r.timeout_s = *t;
  COVE_TRY(read_field(j, "kill", r.kill));
  return Request(r);
}
Result<Request> decode_reboot(const Json& j) {
  RebootRequest r;
  auto t = optional_field<uint32_t>(j, "timeout");
  if (!t) return std::move(t).error();
  r.timeout_s = *t;
  return Request(r);
}
Result<Request> decode_console(const Json& j) {
  ConsoleRequest r;
  COVE_TRY(read_field(j, "tty", r.tty));
  return Request(r);
}
Result<Request> decode_checkpoint(const Json& j) {
  CheckpointRequest r;
  COVE_TRY(read_field(j, "dir", r.dir, /*required=*/true));
  COVE_TRY(read_field(j, "stop", r.stop));
  COVE_TRY(read_field(j, "lazy_pages_socket", r.lazy_pages_socket));
  COVE_TRY(read_field(j, "lazy_pages_token", r.lazy_pages_token));
  return Request(std::move(r));
}
Result<Request> decode_freeze(const Json&) { return Request(FreezeRequest{}); }
Result<Request> decode_thaw(const Json&) { return Request(ThawRequest{}); }
Result<Request> decode_cgroup_set(const Json& j) {
  CgroupSetRequest r;
  COVE_TRY(read_field(j, "key", r.key, /*required=*/true));
  COVE_TRY(read_field(j, "value", r.value, /*required=*/true));
  return Request(std::move(r));
}

Result<Request> decode_net_set(const Json& j) {
  NetSetRequest r;
  COVE_TRY(read_field(j, "nic", r.nic, /*required=*/true));
  COVE_TRY(read_field(j, "key", r.key, /*required=*/true));
  COVE_TRY(read_field(j, "value", r.value, /*required=*/true));
  return Request(std::move(r));
}
Result<std::vector<std::string>> string_list(const Json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end()) return std::vector<std::string>{};
  if (!it->is_array()) return Error(EPROTO, fmt::format("field `{}` must be a list of strings", name));
  std::vector<std::string> out;
  for (const auto& v : *it) {
    if (!v.is_string()) return Error(EPROTO, fmt::format("field `{}` must be a list of strings", name));
    out.push_back(v.get<std::string>());
  }
  return out;
}
Result<Request> decode_net_attach(const Json& j) {
  NetAttachRequest r;
  COVE_TRY(read_field(j, "nic", r.nic, /*required=*/true));
  auto lines = string_list(j, "lines");
  if (!lines) return std::move(lines).error();
  r.lines = std::move(*lines);
  return Request(std::move(r));
}
Result<Request> decode_net_detach(const Json& j) {
  NetDetachRequest r;
  COVE_TRY(read_field(j, "nic", r.nic, /*required=*/true));
  return Request(std::move(r));
}
Result<Request> decode_net_status(const Json&) { return Request(NetStatusRequest{}); }
Result<Request> decode_hold(const Json& j) {
  HoldRequest r;
  COVE_TRY(read_field(j, "holder", r.holder, /*required=*/true));
  if (r.holder.size() > kMaxHolderBytes)
    return Error(EPROTO, fmt::format("field `holder` is longer than {} bytes", kMaxHolderBytes));
  return Request(std::move(r));
}

const Command kCommands[] = {
    {"state", {}, decode_state},
    {"stop", {"timeout", "kill"}, decode_stop},
    {"reboot", {"timeout"}, decode_reboot},
    {"console", {"tty"}, decode_console},
    {"checkpoint", {"dir", "stop", "lazy_pages_socket", "lazy_pages_token"}, decode_checkpoint},
    {"freeze", {}, decode_freeze},
    {"thaw", {}, decode_thaw},
    {"cgroup-set", {"key", "value"}, decode_cgroup_set},
    {"net-set", {"nic", "key", "value"}, decode_net_set},
    {"net-attach", {"nic", "lines"}, decode_net_attach},
    {"net-detach", {"nic"}, decode_net_detach},
    {"net-status", {}, decode_net_status},
    {"hold", {"holder"}, decode_hold},
};

static_assert(std::size(kCommands) == std::variant_size_v<Request>, "one entry per request, in the variant's order");

const Command* find_command(std::string_view name) {
  for (const auto& c : kCommands)
    if (name == c.name) return &c;
  return nullptr;
}

Result<void> check_known_fields(const Json& j, const Command& c) {
  for (const auto& [key, _] : j.items()) {
    if (key == "version" || key == "cmd") continue;
    bool known = false;
    for (const char* f : c.fields) known = known || key == f;
    if (!known) return Error(EPROTO, fmt::format("`{}` has no field `{}`", c.name, key));
  }
  return {};
}

Json request_fields(const Request& req) {
  return std::visit(
      Overloaded{
          [](const StateRequest&) { return Json::object(); },
          [](const StopRequest& r) {
            Json j = {{"kill", r.kill}};
            if (r.timeout_s) j["timeout"] = *r.timeout_s;
            return j;
          },
          [](const RebootRequest& r) {
            Json j = Json::object();
            if (r.timeout_s) j["timeout"] = *r.timeout_s;
            return j;
          },
          [](const ConsoleRequest& r) { return Json{{"tty", r.tty}}; },
          [](const CheckpointRequest& r) {
            Json j{{"dir", r.dir}, {"stop", r.stop}};
            if (!r.lazy_pages_socket.empty()) j["lazy_pages_socket"] = r.lazy_pages_socket;
            if (!r.lazy_pages_token.empty()) j["lazy_pages_token"] = r.lazy_pages_token;
            return j;
          },
          [](const FreezeRequest&) { return Json::object(); },
          [](const ThawRequest&) { return Json::object(); },
          [](const CgroupSetRequest& r) { return Json{{"key", r.key}, {"value", r.value}}; },
          [](const NetSetRequest& r) { return Json{{"nic", r.nic}, {"key", r.key}, {"value", r.value}}; },
          [](const NetAttachRequest& r) { return Json{{"nic", r.nic}, {"lines", r.lines}}; },
          [](const NetDetachRequest& r) { return Json{{"nic", r.nic}}; },
          [](const NetStatusRequest&) { return Json::object(); },
          [](const HoldRequest& r) { return Json{{"holder", r.holder}}; },
      },
      req);
}

// Replies -------------------------------------------------------------------------------------

Json reply_fields(const Done&) { return Json::object(); }
Json reply_fields(const ConsoleReply&) { return Json::object(); }
Json reply_fields(const StateReply& r) { return Json{{"state", r.state}, {"init_pid", r.init_pid}}; }
Json reply_fields(const CheckpointReply& r) {
  const auto& s = r.stats;
  return Json{{"images_dir", r.images_dir},
              {"criu_version", r.criu_version},
              {"wall_ms", r.wall_ms},
              {"stopped", r.stopped},
              {"stats",
               {{"freezing_time_us", s.freezing_time_us},
                {"frozen_time_us", s.frozen_time_us},
                {"memdump_time_us", s.memdump_time_us},
                {"memwrite_time_us", s.memwrite_time_us},
                {"pages_scanned", s.pages_scanned},
                {"pages_written", s.pages_written}}}};
}
Json reply_fields(const RestoreReply& r) {
  const auto& s = r.stats;
  return Json{{"init_pid", r.init_pid},
              {"criu_version", r.criu_version},
              {"wall_ms", r.wall_ms},
              {"stats",
               {{"restore_time_us", s.restore_time_us},
                {"forking_time_us", s.forking_time_us},
                {"pages_restored", s.pages_restored}}}};
}

Json reply_fields(const NetStatusReply& r) {
  Json nics = Json::array();
  for (const auto& n : r.nics)
    nics.push_back(Json{{"name", n.name}, {"type", n.type}, {"host_ifname", n.host_ifname}, {"bridge", n.bridge},
                        {"mac", n.mac}, {"addresses", n.addresses}, {"rate_ingress", n.rate_ingress},
                        {"rate_egress", n.rate_egress}, {"rx_bytes", n.rx_bytes}, {"tx_bytes", n.tx_bytes},
                        {"rx_packets", n.rx_packets}, {"tx_packets", n.tx_packets},
                        {"ingress_drops", n.ingress_drops}, {"egress_drops", n.egress_drops}});
  return Json{{"nics", nics}};
}

Result<void> fields_from(const Json&, Done&) { return {}; }
Result<void> fields_from(const Json&, ConsoleReply&) { return {}; }
Result<void> fields_from(const Json& j, StateReply& r) {
  COVE_TRY(read_field(j, "state", r.state, true));
  return read_field(j, "init_pid", r.init_pid, true);
}

Result<const Json*> object_field(const Json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_object()) return Error(EPROTO, fmt::format("field `{}` must be an object", name));
  return &*it;
}

Result<void> fields_from(const Json& j, CheckpointReply& r) {
  COVE_TRY(read_field(j, "images_dir", r.images_dir, true));
  COVE_TRY(read_field(j, "criu_version", r.criu_version));
  COVE_TRY(read_field(j, "wall_ms", r.wall_ms));
  COVE_TRY(read_field(j, "stopped", r.stopped));
  auto s = object_field(j, "stats");
  if (!s) return std::move(s).error();
  COVE_TRY(read_field(**s, "freezing_time_us", r.stats.freezing_time_us));
  COVE_TRY(read_field(**s, "frozen_time_us", r.stats.frozen_time_us));
  COVE_TRY(read_field(**s, "memdump_time_us", r.stats.memdump_time_us));
  COVE_TRY(read_field(**s, "memwrite_time_us", r.stats.memwrite_time_us));
  COVE_TRY(read_field(**s, "pages_scanned", r.stats.pages_scanned));
  return read_field(**s, "pages_written", r.stats.pages_written);
}

Result<void> fields_from(const Json& j, RestoreReply& r) {
  COVE_TRY(read_field(j, "init_pid", r.init_pid, true));
  COVE_TRY(read_field(j, "criu_version", r.criu_version));
  COVE_TRY(read_field(j, "wall_ms", r.wall_ms));
  auto s = object_field(j, "stats");
  if (!s) return std::move(s).error();
  COVE_TRY(read_field(**s, "restore_time_us", r.stats.restore_time_us));
  COVE_TRY(read_field(**s, "forking_time_us", r.stats.forking_time_us));
  return read_field(**s, "pages_restored", r.stats.pages_restored);
}

Result<void> fields_from(const Json& j, NicReport& n) {
  COVE_TRY(read_field(j, "name", n.name, true));
  COVE_TRY(read_field(j, "type", n.type));
  COVE_TRY(read_field(j, "host_ifname", n.host_ifname));
  COVE_TRY(read_field(j, "bridge", n.bridge));
  COVE_TRY(read_field(j, "mac", n.mac));
  auto a = string_list(j, "addresses");
  if (!a) return std::move(a).error();
  n.addresses = std::move(*a);
  COVE_TRY(read_field(j, "rate_ingress", n.rate_ingress));
  COVE_TRY(read_field(j, "rate_egress", n.rate_egress));
  COVE_TRY(read_field(j, "rx_bytes", n.rx_bytes));
  COVE_TRY(read_field(j, "tx_bytes", n.tx_bytes));
  COVE_TRY(read_field(j, "rx_packets", n.rx_packets));
  COVE_TRY(read_field(j, "tx_packets", n.tx_packets));
  COVE_TRY(read_field(j, "ingress_drops", n.ingress_drops));
  return read_field(j, "egress_drops", n.egress_drops);
}

Result<void> fields_from(const Json& j, NetStatusReply& r) {
  auto it = j.find("nics");
  if (it == j.end() || !it->is_array()) return Error(EPROTO, "field `nics` must be a list");
  for (const auto& n : *it) {
    if (!n.is_object()) return Error(EPROTO, "field `nics` must be a list of objects");
    NicReport report;
    COVE_TRY(fields_from(n, report));
    r.nics.push_back(std::move(report));
  }
  return {};
}

template <typename R>
std::string encode_result(const Result<R>& r) {
  if (!r) return encode_error_reply(r.error());
  Json j = envelope();
  j["ok"] = true;
  j.update(reply_fields(*r));
  return j.dump();
}

// The envelope of a reply: the sender's Error if it failed, else the object.
Result<Json> open_reply(std::string_view text) {
  auto j = parse_message(text, "reply");
  if (!j) return std::move(j).error();
  auto ok = required_field<bool>(*j, "ok");
  if (!ok) return std::move(ok).error().context("reply");
  if (*ok) return j;
  return error_from_json(j->value("error", Json()));
}

}  // namespace

const char* command_name(const Request& req) { return kCommands[req.index()].name; }

bool is_read_only(const Request& req) {
  return std::holds_alternative<StateRequest>(req) || std::holds_alternative<ConsoleRequest>(req) ||
         std::holds_alternative<NetStatusRequest>(req);
}

std::string encode_request(const Request& req) {
  Json j = envelope();
  j["cmd"] = command_name(req);
  j.update(request_fields(req));
  return j.dump();
}

Result<Request> decode_request(std::string_view text) {
  auto j = parse_message(text, "request");
  if (!j) return std::move(j).error();
  auto name = required_field<std::string>(*j, "cmd");
  if (!name) return std::move(name).error().context("request");
  const Command* c = find_command(*name);
  if (!c) return Error(EPROTO, fmt::format("unknown command `{}`", *name));
  COVE_TRY(check_known_fields(*j, *c));
  auto r = c->decode(*j);
  if (!r) return std::move(r).error().context(fmt::format("`{}` request", c->name));
  return r;
}

std::string encode_error_reply(const Error& e) {
  Json j = envelope();
  j["ok"] = false;
  j["error"] = error_to_json(e);
  return j.dump();
}

std::string encode_reply(const Result<Done>& r) { return encode_result(r); }
std::string encode_reply(const Result<StateReply>& r) { return encode_result(r); }
std::string encode_reply(const Result<ConsoleReply>& r) { return encode_result(r); }
std::string encode_reply(const Result<CheckpointReply>& r) { return encode_result(r); }
std::string encode_reply(const Result<RestoreReply>& r) { return encode_result(r); }
std::string encode_reply(const Result<NetStatusReply>& r) { return encode_result(r); }

template <typename R>
Result<R> decode_reply(std::string_view text) {
  auto j = open_reply(text);
  if (!j) return std::move(j).error();
  R r;
  if (auto f = fields_from(*j, r); !f) return std::move(f).error().context("reply");
  return r;
}
template Result<Done> decode_reply<Done>(std::string_view);
template Result<StateReply> decode_reply<StateReply>(std::string_view);
template Result<ConsoleReply> decode_reply<ConsoleReply>(std::string_view);
template Result<CheckpointReply> decode_reply<CheckpointReply>(std::string_view);
template Result<RestoreReply> decode_reply<RestoreReply>(std::string_view);
template Result<NetStatusReply> decode_reply<NetStatusReply>(std::string_view);

std::string encode_start_status(const StartStatus& s) {
  if (s && *s) return encode_result(Result<RestoreReply>(**s));
  if (s) return encode_result(Result<Done>(Done{}));
  return encode_error_reply(s.error());
}

StartStatus decode_start_status(std::string_view text) {
  auto j = open_reply(text);
  if (!j) return std::move(j).error();
  if (!j->contains("init_pid")) return std::optional<RestoreReply>();
  RestoreReply r;
  if (auto f = fields_from(*j, r); !f) return std::move(f).error().context("start status");
  return std::optional<RestoreReply>(std::move(r));
}

std::string encode_go() {
  Json j = envelope();
  j["go"] = true;
  return j.dump();
}

Result<void> decode_go(std::string_view text) {
  auto j = parse_message(text, "go message");
  if (!j) return std::move(j).error();
  for (const auto& [key, _] : j->items())
    if (key != "version" && key != "go") return Error(EPROTO, fmt::format("go message has no field `{}`", key));
  auto go = required_field<bool>(*j, "go");
  if (!go) return std::move(go).error().context("go message");
  if (!*go) return Error(EPROTO, "go message: `go` is false");
  return {};
}

std::string encode_cgroups_made(const CgroupsMade& m) {
  Json j = envelope();
  j["payload_dirs"] = m.payload_dirs;
  j["monitor_dirs"] = m.monitor_dirs;
  return j.dump();
}

Result<CgroupsMade> decode_cgroups_made(std::string_view text) {
  auto j = parse_message(text, "cgroups message");
  if (!j) return std::move(j).error();
  for (const auto& [key, _] : j->items())
    if (key != "version" && key != "payload_dirs" && key != "monitor_dirs")
      return Error(EPROTO, fmt::format("cgroups message has no field `{}`", key));
  CgroupsMade m;
  for (auto [name, out] : {std::pair{"payload_dirs", &m.payload_dirs}, std::pair{"monitor_dirs", &m.monitor_dirs}}) {
    auto list = string_list(*j, name);
    if (!list) return std::move(list).error().context("cgroups message");
    *out = std::move(*list);
  }
  return m;
}

std::string encode_exec_made(const ExecMade& m) {
  Json j = envelope();
  if (m.restrictions) j["exec_record"] = lifecycle::encode_exec_record({*m.restrictions, {}});
  return j.dump();
}

Result<ExecMade> decode_exec_made(std::string_view text) {
  auto j = parse_message(text, "restrictions message");
  if (!j) return std::move(j).error();
  for (const auto& [key, _] : j->items())
    if (key != "version" && key != "exec_record")
      return Error(EPROTO, fmt::format("restrictions message has no field `{}`", key));
  ExecMade m;
  if (!j->contains("exec_record")) return m;
  auto text_field = required_field<std::string>(*j, "exec_record");
  if (!text_field) return std::move(text_field).error().context("restrictions message");
  auto record = lifecycle::decode_exec_record(*text_field);
  if (!record) return Error(EPROTO, "restrictions message: " + record.error().message());
  if (!record->env.empty()) return Error(EPROTO, "restrictions message: its record carries an environment");
  m.restrictions = std::move(record->restrictions);
  return m;
}

}  // namespace cove::monitor
