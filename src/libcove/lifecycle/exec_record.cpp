#include "lifecycle/exec_record.hpp"

#include <linux/filter.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "base/json_checks.hpp"

namespace cove::lifecycle {

namespace {

constexpr int kVersion = 1;
constexpr size_t kMaxInstructions = BPF_MAXINSNS;

std::string to_hex(const std::vector<sock_filter>& prog) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(prog.size() * sizeof(sock_filter) * 2);
  const auto* bytes = reinterpret_cast<const unsigned char*>(prog.data());
  for (size_t i = 0; i < prog.size() * sizeof(sock_filter); ++i) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 15];
  }
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

Result<std::vector<sock_filter>> from_hex(const std::string& hex) {
  constexpr size_t kInsnChars = sizeof(sock_filter) * 2;
  if (hex.size() % kInsnChars != 0) return Error::invalid("seccomp program: not a whole number of instructions");
  if (hex.size() / kInsnChars > kMaxInstructions)
    return Error::invalid("seccomp program: more than " + std::to_string(kMaxInstructions) + " instructions");
  std::vector<unsigned char> bytes(hex.size() / 2);
  for (size_t i = 0; i < bytes.size(); ++i) {
    int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return Error::invalid("seccomp program: not lowercase hex");
    bytes[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  std::vector<sock_filter> prog(bytes.size() / sizeof(sock_filter));
  if (!prog.empty()) std::memcpy(prog.data(), bytes.data(), bytes.size());
  return prog;
}

nlohmann::json encode_restrictions(const security::ExecRestrictions& r) {
  nlohmann::json rlimits = nlohmann::json::array();
  for (const auto& l : r.rlimits) rlimits.push_back({l.resource, l.soft, l.hard});
  nlohmann::json j = {{"bounding", r.bounding},   {"no_new_privs", r.no_new_privs},
                      {"seccomp", to_hex(r.seccomp)}, {"seccomp_source", r.seccomp_source},
                      {"rlimits", rlimits},        {"lsm", r.lsm},
                      {"lsm_label", r.lsm_label},  {"identity", nullptr},
                      {"cap_sets", nullptr},       {"umask", nullptr}};
  if (r.identity) j["identity"] = {{"uid", r.identity->uid}, {"gid", r.identity->gid}, {"groups", r.identity->groups}};
  if (r.cap_sets)
    j["cap_sets"] = {{"effective", r.cap_sets->effective},
                     {"permitted", r.cap_sets->permitted},
                     {"inheritable", r.cap_sets->inheritable},
                     {"ambient", r.cap_sets->ambient}};
  if (r.umask) j["umask"] = *r.umask;
  return j;
}

// Throws nlohmann's exceptions on a missing or mistyped field (caught by the caller).
Result<security::ExecRestrictions> decode_restrictions(const nlohmann::json& j) {
  security::ExecRestrictions r;
  r.bounding = j.at("bounding").get<uint64_t>();
  r.no_new_privs = j.at("no_new_privs").get<bool>();
  auto prog = from_hex(j.at("seccomp").get<std::string>());
  if (!prog) return std::move(prog).error();
  r.seccomp = std::move(*prog);
  r.seccomp_source = j.at("seccomp_source").get<std::string>();
  for (const auto& l : j.at("rlimits")) {
    if (!l.is_array() || l.size() != 3) return Error::invalid("rlimits: each is [resource, soft, hard]");
    r.rlimits.push_back({l[0].get<int>(), l[1].get<uint64_t>(), l[2].get<uint64_t>()});
  }
  r.lsm = j.at("lsm").get<std::string>();
  r.lsm_label = j.at("lsm_label").get<std::string>();
  if (const auto& id = j.at("identity"); !id.is_null())
    r.identity = security::Identity{id.at("uid").get<uint32_t>(), id.at("gid").get<uint32_t>(),
                                    id.at("groups").get<std::vector<uint32_t>>()};
  if (const auto& cs = j.at("cap_sets"); !cs.is_null())
    r.cap_sets = security::CapSets{cs.at("effective").get<uint64_t>(), cs.at("permitted").get<uint64_t>(),
                                   cs.at("inheritable").get<uint64_t>(), cs.at("ambient").get<uint64_t>()};
  if (const auto& um = j.at("umask"); !um.is_null()) r.umask = um.get<uint32_t>();
  return r;
}

}  // namespace

std::string encode_exec_record(const ExecRecord& r) {
  nlohmann::json j = {{"version", kVersion}, {"restrictions", encode_restrictions(r.restrictions)}, {"env", r.env}};
  return j.dump() + "\n";
}

Result<ExecRecord> decode_exec_record(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Error::invalid("exec record is not a JSON object");
  if (json_has_float(j)) return Error::invalid("exec record has a number that is not a 64-bit integer");
  try {
    if (j.at("version").get<int>() != kVersion)
      return Error::invalid("exec record version " + j.at("version").dump() + " (this cove reads " +
                            std::to_string(kVersion) + ")");
    ExecRecord out;
    auto r = decode_restrictions(j.at("restrictions"));
    if (!r) return std::move(r).error().context("exec record");
    out.restrictions = std::move(*r);
    out.env = j.at("env").get<std::vector<std::string>>();
    return out;
  } catch (const nlohmann::json::exception& e) {
    return Error::invalid(std::string("exec record has a missing or mistyped field: ") + e.what());
  }
}

}  // namespace cove::lifecycle
