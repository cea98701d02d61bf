// The OCI runtime-spec `linux.seccomp` JSON format, with Docker's extensions (archMap,
// includes/excludes by caps, arches and minKernel, comment), parsed into the rule model.
// Fields not listed are rejected, so a typo never silently weakens a policy.
#include <nlohmann/json.hpp>

#include "security/cap_names.hpp"
#include "security/seccomp/policy.hpp"

namespace cove::security::seccomp {
namespace {

using Json = nlohmann::json;

Result<Action> parse_action(const Json& j, const Json* errno_ret, uint32_t default_errno) {
  if (!j.is_string()) return Error::invalid("`action` must be a string");
  std::string s = j.get<std::string>();
  Action a;
  if (s == "SCMP_ACT_ALLOW") a.kind = ActionKind::kAllow;
  else if (s == "SCMP_ACT_KILL" || s == "SCMP_ACT_KILL_THREAD") a.kind = ActionKind::kKillThread;
  else if (s == "SCMP_ACT_KILL_PROCESS") a.kind = ActionKind::kKillProcess;
  else if (s == "SCMP_ACT_TRAP") a.kind = ActionKind::kTrap;
  else if (s == "SCMP_ACT_LOG") a.kind = ActionKind::kLog;
  else if (s == "SCMP_ACT_ERRNO") {
    a.kind = ActionKind::kErrno;
    a.errno_value = default_errno;
    if (errno_ret) {
      if (!errno_ret->is_number_unsigned() || errno_ret->get<uint64_t>() > 4095)
        return Error::invalid("`errnoRet` must be a number in 0..4095");
      a.errno_value = errno_ret->get<uint32_t>();
    }
  } else if (s == "SCMP_ACT_TRACE" || s == "SCMP_ACT_NOTIFY") {
    return Error::invalid("action `" + s + "` is not supported");
  } else {
    return Error::invalid("unknown action `" + s + "`");
  }
  return a;
}

Result<CmpOp> parse_op(const std::string& s) {
  static const std::pair<const char*, CmpOp> kOps[] = {
      {"SCMP_CMP_NE", CmpOp::kNe}, {"SCMP_CMP_LT", CmpOp::kLt}, {"SCMP_CMP_LE", CmpOp::kLe},
      {"SCMP_CMP_EQ", CmpOp::kEq}, {"SCMP_CMP_GE", CmpOp::kGe}, {"SCMP_CMP_GT", CmpOp::kGt},
      {"SCMP_CMP_MASKED_EQ", CmpOp::kMaskedEq}};
  for (const auto& [name, op] : kOps)
    if (s == name) return op;
  return Error::invalid("unknown comparison `" + s + "`");
}

Result<void> check_keys(const Json& j, std::initializer_list<const char*> allowed, const std::string& where) {
  if (!j.is_object()) return Error::invalid(where + " must be an object");
  for (const auto& [k, v] : j.items()) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || k == a;
    if (!ok) return Error::invalid(where + ": unknown field `" + k + "`");
  }
  return {};
}

Result<std::vector<std::string>> string_list(const Json& j, const std::string& what) {
  if (!j.is_array()) return Error::invalid("`" + what + "` must be an array of strings");
  std::vector<std::string> out;
  for (const auto& e : j) {
    if (!e.is_string()) return Error::invalid("`" + what + "` must be an array of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

Result<std::vector<int>> cap_list(const Json& j, const std::string& what) {
  auto names = string_list(j, what);
  if (!names) return std::move(names).error();
  std::vector<int> caps;
  for (const auto& n : *names) {
    auto c = cap_from_name(n);
    if (!c) return Error::invalid("`" + what + "`: unknown capability `" + n + "`");
    caps.push_back(*c);
  }
  return caps;
}

Result<std::vector<std::string>> arch_list(const Json& j, const std::string& what) {
  auto names = string_list(j, what);
  if (!names) return std::move(names).error();
  std::vector<std::string> out;
  for (const auto& n : *names) {
    std::string a = arch_name(n);
    if (a.empty()) return Error::invalid("`" + what + "`: unknown architecture `" + n + "`");
    out.push_back(a);
  }
  return out;
}

Result<Rule> parse_syscall(const Json& s, uint32_t default_errno, const std::string& where) {
  COVE_TRY(check_keys(s, {"names", "name", "action", "errnoRet", "args", "includes", "excludes", "comment"}, where));
  Rule r;
  if (s.contains("names")) {
    auto n = string_list(s["names"], "names");
    if (!n) return std::move(n).error().context(where);
    r.names = std::move(*n);
  }
  if (s.contains("name")) {  // runtime-spec before 1.0
    if (!s["name"].is_string()) return Error::invalid(where + ": `name` must be a string");
    r.names.push_back(s["name"].get<std::string>());
  }
  if (r.names.empty()) return Error::invalid(where + ": no syscall `names`");
  if (!s.contains("action")) return Error::invalid(where + ": no `action`");
  auto a = parse_action(s["action"], s.contains("errnoRet") ? &s["errnoRet"] : nullptr, default_errno);
  if (!a) return std::move(a).error().context(where);
  r.action = *a;
  if (s.contains("args") && !s["args"].is_null()) {
    if (!s["args"].is_array()) return Error::invalid(where + ": `args` must be an array");
    for (const auto& arg : s["args"]) {
      COVE_TRY(check_keys(arg, {"index", "value", "valueTwo", "op"}, where + ": args"));
      if (!arg.contains("index") || !arg["index"].is_number_unsigned() || arg["index"].get<uint64_t>() > 5)
        return Error::invalid(where + ": args: `index` must be 0..5");
      if (!arg.contains("value") || !arg["value"].is_number_unsigned())
        return Error::invalid(where + ": args: `value` must be an unsigned number");
      if (arg.contains("valueTwo") && !arg["valueTwo"].is_number_unsigned())
        return Error::invalid(where + ": args: `valueTwo` must be an unsigned number");
      if (!arg.contains("op") || !arg["op"].is_string()) return Error::invalid(where + ": args: no `op`");
      auto op = parse_op(arg["op"].get<std::string>());
      if (!op) return std::move(op).error().context(where + ": args");
      r.args.push_back(ArgCondition{arg["index"].get<unsigned>(), *op, arg["value"].get<uint64_t>(),
                                    arg.value("valueTwo", uint64_t(0))});
    }
  }
  if (s.contains("includes")) {
    const auto& inc = s["includes"];
    COVE_TRY(check_keys(inc, {"caps", "arches", "minKernel"}, where + ": includes"));
    if (inc.contains("caps")) {
      auto c = cap_list(inc["caps"], "includes.caps");
      if (!c) return std::move(c).error().context(where);
      r.include_caps = *c;
    }
    if (inc.contains("arches")) {
      auto ar = arch_list(inc["arches"], "includes.arches");
      if (!ar) return std::move(ar).error().context(where);
      r.arches = *ar;
    }
    if (inc.contains("minKernel")) {
      if (!inc["minKernel"].is_string()) return Error::invalid(where + ": `minKernel` must be a string");
      r.min_kernel = inc["minKernel"].get<std::string>();
    }
  }
  if (s.contains("excludes")) {
    const auto& exc = s["excludes"];
    COVE_TRY(check_keys(exc, {"caps", "arches"}, where + ": excludes"));
    if (exc.contains("caps")) {
      auto c = cap_list(exc["caps"], "excludes.caps");
      if (!c) return std::move(c).error().context(where);
      r.exclude_caps = *c;
    }
    if (exc.contains("arches")) {
      auto ar = arch_list(exc["arches"], "excludes.arches");
      if (!ar) return std::move(ar).error().context(where);
      r.exclude_arches = *ar;
    }
  }
  return r;
}

}  // namespace

Result<Policy> parse_oci_policy(std::string_view text, const std::string& label) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Error::invalid(label + ": not valid JSON");
  if (auto r = check_keys(j, {"defaultAction", "defaultErrnoRet", "architectures", "archMap", "syscalls", "flags",
                              "listenerPath", "listenerMetadata"},
                          "the policy");
      !r)
    return std::move(r).error().context(label);
  if (j.contains("listenerPath") && !j["listenerPath"].is_string())
    return Error::invalid(label + ": `listenerPath` must be a string");
  if (j.contains("listenerPath") && !j["listenerPath"].get<std::string>().empty())
    return Error::invalid(label + ": `listenerPath` (SCMP_ACT_NOTIFY) is not supported");
  Policy p;
  uint32_t default_errno = 1;  // EPERM, as runc
  if (j.contains("defaultErrnoRet")) {
    if (!j["defaultErrnoRet"].is_number_unsigned() || j["defaultErrnoRet"].get<uint64_t>() > 4095)
      return Error::invalid(label + ": `defaultErrnoRet` must be a number in 0..4095");
    default_errno = j["defaultErrnoRet"].get<uint32_t>();
  }
  if (!j.contains("defaultAction")) return Error::invalid(label + ": no `defaultAction`");
  auto da = parse_action(j["defaultAction"], j.contains("defaultErrnoRet") ? &j["defaultErrnoRet"] : nullptr, 1);
  if (!da) return std::move(da).error().context(label + ": defaultAction");
  p.default_action = *da;
  if (j.contains("architectures") && !j["architectures"].is_null()) {
    auto a = arch_list(j["architectures"], "architectures");
    if (!a) return std::move(a).error().context(label);
    p.architectures = *a;
  } else if (j.contains("archMap") && !j["archMap"].is_null()) {
    // Docker: every entry names an arch and the sub-arches it runs; the entry for the native
    // arch is picked at compile time (empty `architectures` = native + compat does the same).
    if (!j["archMap"].is_array()) return Error::invalid(label + ": `archMap` must be an array");
    for (const auto& m : j["archMap"]) {
      if (auto r = check_keys(m, {"architecture", "subArchitectures"}, "archMap entry"); !r)
        return std::move(r).error().context(label);
      if (!m.contains("architecture") || !m["architecture"].is_string() ||
          arch_name(m["architecture"].get<std::string>()).empty())
        return Error::invalid(label + ": archMap: bad `architecture`");
      if (m.contains("subArchitectures") && !m["subArchitectures"].is_null()) {
        auto subs = arch_list(m["subArchitectures"], "archMap.subArchitectures");
        if (!subs) return std::move(subs).error().context(label);
      }
    }
  }
  if (j.contains("syscalls") && !j["syscalls"].is_null()) {
    if (!j["syscalls"].is_array()) return Error::invalid(label + ": `syscalls` must be an array");
    int i = 0;
    for (const auto& s : j["syscalls"]) {
      auto r = parse_syscall(s, default_errno, "syscalls[" + std::to_string(i) + "]");
      if (!r) return std::move(r).error().context(label);
      r->line = i++;
      p.rules.push_back(std::move(*r));
    }
  }
  return p;
}

}  // namespace cove::security::seccomp
