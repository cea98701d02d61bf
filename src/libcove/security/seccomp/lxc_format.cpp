// LXC's seccomp policy text format (version 2), as documented in lxc.container.conf(5):
//   2
//   denylist [DEFAULT-ACTION]        (or allowlist; blacklist/whitelist are accepted too)
//   [ARCH]                           (optional sections: x86_64, i386, x32, arm64, all, ...)
//   SYSCALL [ACTION] [[ARG,VALUE,OP(,VALUE2)] ...]
// A denylist allows by default and a rule without an action kills; an allowlist kills by
// default and a rule without an action allows. ACTION: allow, errno N, kill, trap, log.
#include <algorithm>

#include "base/strings.hpp"
#include "security/seccomp/policy.hpp"

namespace cove::security::seccomp {
namespace {

Error at(const std::string& label, int line, const std::string& what) {
  return Error::invalid(label + ":" + std::to_string(line) + ": " + what);
}

// Parses "allow", "errno N", "kill", "trap", "log" from words[i...]; advances i.
Result<Action> parse_action(const std::vector<std::string>& words, size_t& i) {
  const std::string& w = words[i];
  Action a;
  if (w == "allow") a.kind = ActionKind::kAllow;
  else if (w == "kill") a.kind = ActionKind::kKillProcess;
  else if (w == "trap") a.kind = ActionKind::kTrap;
  else if (w == "log") a.kind = ActionKind::kLog;
  else if (w == "errno") {
    if (i + 1 >= words.size()) return Error::invalid("`errno` needs a number");
    auto n = parse_uint(words[i + 1]);
    if (!n || *n > 4095) return Error::invalid("`" + words[i + 1] + "` is not an errno number (0..4095)");
    a.kind = ActionKind::kErrno;
    a.errno_value = static_cast<uint32_t>(*n);
    ++i;
  } else if (w == "trace" || w == "notify") {
    return Error::invalid("action `" + w + "` is not supported (allow, errno N, kill, trap, log)");
  } else {
    return Error::invalid("unknown action `" + w + "` (allow, errno N, kill, trap, log)");
  }
  ++i;
  return a;
}

std::optional<CmpOp> parse_op(const std::string& s) {
  static const std::pair<const char*, CmpOp> kOps[] = {
      {"SCMP_CMP_NE", CmpOp::kNe}, {"!=", CmpOp::kNe},       {"SCMP_CMP_LT", CmpOp::kLt}, {"<", CmpOp::kLt},
      {"SCMP_CMP_LE", CmpOp::kLe}, {"<=", CmpOp::kLe},       {"SCMP_CMP_EQ", CmpOp::kEq}, {"==", CmpOp::kEq},
      {"SCMP_CMP_GE", CmpOp::kGe}, {">=", CmpOp::kGe},       {"SCMP_CMP_GT", CmpOp::kGt}, {">", CmpOp::kGt},
      {"SCMP_CMP_MASKED_EQ", CmpOp::kMaskedEq}, {"&=", CmpOp::kMaskedEq}};
  for (const auto& [name, op] : kOps)
    if (s == name) return op;
  return std::nullopt;
}

std::optional<uint64_t> parse_number(const std::string& s) {
  if (s.empty()) return std::nullopt;
  try {
    size_t used = 0;
    unsigned long long v = std::stoull(s, &used, 0);  // decimal, 0x hex, 0 octal
    if (used != s.size() || s[0] == '-') return std::nullopt;
    return v;
  } catch (...) {
    return std::nullopt;
  }
}

// "[0,1,SCMP_CMP_EQ]" or "[1,0x20,SCMP_CMP_MASKED_EQ,0x20]".
Result<ArgCondition> parse_arg(const std::string& w) {
  if (w.size() < 2 || w.front() != '[' || w.back() != ']')
    return Error::invalid("argument condition `" + w + "` must be [ARG,VALUE,OP] or [ARG,VALUE,OP,VALUE2]");
  auto f = split(w.substr(1, w.size() - 2), ',');
  for (auto& x : f) x = std::string(trim(x));
  if (f.size() != 3 && f.size() != 4)
    return Error::invalid("argument condition `" + w + "` must be [ARG,VALUE,OP] or [ARG,VALUE,OP,VALUE2]");
  ArgCondition c;
  auto idx = parse_number(f[0]);
  if (!idx || *idx > 5) return Error::invalid("argument index in `" + w + "` must be 0..5");
  c.index = static_cast<unsigned>(*idx);
  auto v = parse_number(f[1]);
  if (!v) return Error::invalid("value in `" + w + "` is not a number");
  c.value = *v;
  auto op = parse_op(f[2]);
  if (!op) return Error::invalid("unknown comparison `" + f[2] + "` in `" + w + "`");
  c.op = *op;
  if (f.size() == 4) {
    auto v2 = parse_number(f[3]);
    if (!v2) return Error::invalid("second value in `" + w + "` is not a number");
    c.value2 = *v2;
  } else if (c.op == CmpOp::kMaskedEq) {
    return Error::invalid("`" + w + "`: SCMP_CMP_MASKED_EQ needs [ARG,MASK,OP,VALUE]");
  }
  return c;
}

bool valid_syscall_name(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

}  // namespace

Result<Policy> parse_lxc_policy(std::string_view text, const std::string& label) {
  Policy p;
  enum { kVersion, kListType, kRules } stage = kVersion;
  bool denylist = true;
  std::vector<std::string> section;  // current [arch] section; empty = all
  auto lines = split(text, '\n');
  for (size_t n = 0; n < lines.size(); ++n) {
    int line = static_cast<int>(n + 1);
    std::string_view l = trim(lines[n]);
    if (l.empty() || l[0] == '#') continue;
    auto words = split_ws(l);
    if (stage == kVersion) {
      if (words[0] == "1") return at(label, line, "policy version 1 (bare syscall numbers) is not supported; use version 2");
      if (words.size() != 1 || words[0] != "2") return at(label, line, "expected the policy version `2` on the first line");
      stage = kListType;
      continue;
    }
    if (stage == kListType) {
      const std::string& t = words[0];
      if (t == "denylist" || t == "blacklist") denylist = true;
      else if (t == "allowlist" || t == "whitelist") denylist = false;
      else return at(label, line, "expected `denylist` or `allowlist`, got `" + t + "`");
      p.default_action = denylist ? Action{ActionKind::kAllow, 0} : Action{ActionKind::kKillProcess, 0};
      if (words.size() > 1) {
        size_t i = 1;
        auto a = parse_action(words, i);
        if (!a) return at(label, line, a.error().message());
        if (i != words.size()) return at(label, line, "unexpected `" + words[i] + "` after the default action");
        p.default_action = *a;
      }
      stage = kRules;
      continue;
    }
    if (l.front() == '[' && l.back() == ']' && l.find(',') == std::string_view::npos) {
      std::string name(trim(l.substr(1, l.size() - 2)));
      if (name == "all" || name == "ALL") {
        section.clear();
      } else {
        std::string a = arch_name(name);
        if (a.empty()) return at(label, line, "unknown architecture section `[" + name + "]`");
        section = {a};
      }
      continue;
    }
    Rule r;
    r.line = line;
    if (!valid_syscall_name(words[0])) return at(label, line, "`" + words[0] + "` is not a syscall name");
    r.names = {words[0]};
    r.action = denylist ? Action{ActionKind::kKillProcess, 0} : Action{ActionKind::kAllow, 0};
    size_t i = 1;
    if (i < words.size() && words[i].front() != '[') {
      auto a = parse_action(words, i);
      if (!a) return at(label, line, a.error().message());
      r.action = *a;
    }
    for (; i < words.size(); ++i) {
      auto c = parse_arg(words[i]);
      if (!c) return at(label, line, c.error().message());
      r.args.push_back(*c);
    }
    r.arches = section;
    p.rules.push_back(std::move(r));
  }
  if (stage == kVersion) return Error::invalid(label + ": empty policy (expected the version line `2`)");
  if (stage == kListType) return Error::invalid(label + ": missing `denylist` or `allowlist` line");
  return p;
}

Result<Policy> parse_policy(std::string_view text, const std::string& label) {
  std::string_view t = trim(text);
  if (!t.empty() && t.front() == '{') return parse_oci_policy(text, label);
  return parse_lxc_policy(text, label);
}

std::string describe(const Action& a) {
  switch (a.kind) {
    case ActionKind::kAllow: return "allow";
    case ActionKind::kErrno: return "errno " + std::to_string(a.errno_value);
    case ActionKind::kKillProcess: return "kill";
    case ActionKind::kKillThread: return "kill-thread";
    case ActionKind::kTrap: return "trap";
    case ActionKind::kLog: return "log";
  }
  return "?";
}

std::string arch_name(std::string_view name) {
  std::string n;
  for (char c : name) n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (n.rfind("scmp_arch_", 0) == 0) n = n.substr(10);
  static const std::pair<const char*, const char*> kAliases[] = {
      {"amd64", "x86_64"}, {"i386", "x86"}, {"i686", "x86"}, {"arm64", "aarch64"}, {"armel", "arm"},
      {"armhf", "arm"},    {"ppc64el", "ppc64le"}, {"riscv64", "riscv64"}};
  for (const auto& [from, to] : kAliases)
    if (n == from) return to;
  static const char* const kKnown[] = {"x86_64", "x86", "x32", "arm", "aarch64", "mips", "mipsel", "mips64",
                                       "mipsel64", "mips64n32", "mipsel64n32", "ppc", "ppc64", "ppc64le",
                                       "s390", "s390x", "parisc", "parisc64", "riscv64", "loongarch64"};
  for (const char* k : kKnown)
    if (n == k) return n;
  return "";
}

}  // namespace cove::security::seccomp
