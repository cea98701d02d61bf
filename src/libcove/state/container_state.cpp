#include "state/container_state.hpp"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <nlohmann/json.hpp>

#include "base/fs.hpp"
#include "base/json_checks.hpp"
#include "base/strings.hpp"

namespace cove {

namespace {
struct Transition {
  ContainerState from, to;
};
// The one table of legal transitions (doc/design/lifecycle.md explains each).
constexpr Transition kTransitions[] = {
    {ContainerState::kStopped, ContainerState::kStarting},        {ContainerState::kStarting, ContainerState::kRunning},
    {ContainerState::kStarting, ContainerState::kAborting},       {ContainerState::kAborting, ContainerState::kStopped},
    {ContainerState::kStarting, ContainerState::kStopping},       {ContainerState::kRunning, ContainerState::kStopping},
    {ContainerState::kStopping, ContainerState::kStopped},        {ContainerState::kRunning, ContainerState::kFrozen},
    {ContainerState::kFrozen, ContainerState::kRunning},          {ContainerState::kFrozen, ContainerState::kStopping},
    {ContainerState::kRunning, ContainerState::kStarting},        {ContainerState::kStopping, ContainerState::kStarting},
    {ContainerState::kRunning, ContainerState::kStopped},         {ContainerState::kRunning, ContainerState::kCheckpointing},
    {ContainerState::kFrozen, ContainerState::kCheckpointing},    {ContainerState::kCheckpointing, ContainerState::kRunning},
    {ContainerState::kCheckpointing, ContainerState::kFrozen},    {ContainerState::kCheckpointing, ContainerState::kStopping},
    {ContainerState::kStopped, ContainerState::kRestoring},       {ContainerState::kRestoring, ContainerState::kRunning},
    {ContainerState::kRestoring, ContainerState::kFrozen},        {ContainerState::kRestoring, ContainerState::kStopped},
};
constexpr const char* kNames[] = {"STOPPED", "STARTING", "RUNNING",       "STOPPING",
                                  "ABORTING", "FROZEN",   "CHECKPOINTING", "RESTORING"};
}  // namespace

const char* state_name(ContainerState s) { return kNames[static_cast<int>(s)]; }

std::optional<ContainerState> parse_state(std::string_view name) {
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
  for (size_t i = 0; i < std::size(kNames); ++i)
    if (upper == kNames[i]) return static_cast<ContainerState>(i);
  return std::nullopt;
}

std::string state_names() {
  std::string out;
  for (const char* n : kNames) out += (out.empty() ? "" : " ") + std::string(n);
  return out;
}

Error busy_error(std::string_view name, ContainerState s) {
  const char* doing = s == ContainerState::kRestoring ? "being restored" : "being checkpointed";
  return Error(EBUSY, "`" + std::string(name) + "` is " + doing + " (" + state_name(s) +
                          "); try again when that has finished");
}

bool can_transition(ContainerState from, ContainerState to) {
  return std::any_of(std::begin(kTransitions), std::end(kTransitions),
                     [&](const Transition& t) { return t.from == from && t.to == to; });
}

std::string encode_runtime_state(const RuntimeState& s) {
  nlohmann::json j = {{"state", state_name(s.state)},
                      {"container", s.container},
                      {"monitor_pid", s.monitor_pid},
                      {"monitor_starttime", s.monitor_starttime},
                      {"init_pid", s.init_pid},
                      {"init_starttime", s.init_starttime},
                      {"privileged", s.privileged},
                      {"started_at_ms", s.started_at_ms},
                      {"payload_cgroups", s.payload_cgroups},
                      {"monitor_cgroups", s.monitor_cgroups},
                      {"host_uids", s.host_uids},
                      {"host_gids", s.host_gids},
                      {"host_links", s.host_links}};
  return j.dump(2) + "\n";
}

static Result<RuntimeState> decode_fields(const nlohmann::json& j);

Result<RuntimeState> decode_runtime_state(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Error::invalid("runtime state is not a JSON object");
  if (json_has_float(j)) return Error::invalid("runtime state has a number that is not a 64-bit integer");
  // A field of the wrong type makes nlohmann's value() throw: a damaged state file, reported
  // as such, never a crash of the tool reading it (both found by tests/fuzz/fuzz_state).
  try {
    return decode_fields(j);
  } catch (const nlohmann::json::exception& e) {
    return Error::invalid(std::string("runtime state has a field of the wrong type: ") + e.what());
  }
}

static Result<RuntimeState> decode_fields(const nlohmann::json& j) {
  RuntimeState s;
  auto st = parse_state(j.value("state", ""));
  if (!st) return Error::invalid("runtime state has no valid `state`");
  s.state = *st;
  s.container = j.value("container", "");
  s.monitor_pid = j.value("monitor_pid", 0);
  s.monitor_starttime = j.value("monitor_starttime", uint64_t{0});
  s.init_pid = j.value("init_pid", 0);
  s.init_starttime = j.value("init_starttime", uint64_t{0});
  s.privileged = j.value("privileged", false);
  s.started_at_ms = j.value("started_at_ms", int64_t{0});
  s.payload_cgroups = j.value("payload_cgroups", std::vector<std::string>{});
  s.monitor_cgroups = j.value("monitor_cgroups", std::vector<std::string>{});
  using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;
  s.host_uids = j.value("host_uids", Ranges{});
  s.host_gids = j.value("host_gids", Ranges{});
  s.host_links = j.value("host_links", std::vector<std::string>{});
  return s;
}

Result<void> check_runtime_state_owner(const RuntimeState& s, const std::string& container_dir) {
  if (s.container.empty()) return Error(EEXIST, "the runtime state names no container (a monitor of an older cove?)");
  if (s.container != container_dir) return Error(EEXIST, "the runtime state is of container `" + s.container + "`");
  return {};
}

Result<RuntimeState> decode_runtime_state_for(const std::string& text, const std::string& container_dir) {
  auto s = decode_runtime_state(text);
  if (!s) return s;
  COVE_TRY(check_runtime_state_owner(*s, container_dir));
  return s;
}

std::optional<uint64_t> process_starttime(pid_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return std::nullopt;
  // comm may contain spaces and parentheses: fields start after the last ')'.
  auto pos = text->rfind(')');
  if (pos == std::string::npos) return std::nullopt;
  auto fields = split_ws(std::string_view(*text).substr(pos + 1));
  // fields[0] is field 3 (state); starttime is field 22.
  if (fields.size() < 20) return std::nullopt;
  return parse_uint(fields[19]);
}

bool process_matches(pid_t pid, uint64_t starttime) {
  if (pid <= 0) return false;
  auto st = process_starttime(pid);
  return st && *st == starttime;
}

}  // namespace cove
