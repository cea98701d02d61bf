// The seccomp rule model: what a policy file says, independent of its format. Both parsers
// (LXC text: lxc_format.cpp, OCI runtime-spec JSON: oci_json.cpp) produce a Policy; compile.cpp
// resolves it for one container (its capabilities, the host's architecture and kernel) and turns
// it into a BPF program with libseccomp. The monitor compiles; the child only loads the program.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace cove::security::seccomp {

enum class ActionKind { kAllow, kErrno, kKillProcess, kKillThread, kTrap, kLog };

struct Action {
  ActionKind kind = ActionKind::kAllow;
  uint32_t errno_value = 0;  // kErrno only

  bool operator==(const Action&) const = default;
};
std::string describe(const Action& a);  // "allow", "errno 1", "kill", ...

enum class CmpOp { kNe, kLt, kLe, kEq, kGe, kGt, kMaskedEq };

// Argument `index` compared with `value`; for kMaskedEq: (arg & value) == value2.
struct ArgCondition {
  unsigned index = 0;
  CmpOp op = CmpOp::kEq;
  uint64_t value = 0;
  uint64_t value2 = 0;

  bool operator==(const ArgCondition&) const = default;
};

struct Rule {
  std::vector<std::string> names;     // syscall names
  Action action;
  // All conditions must hold. The OCI format allows several conditions on one argument, which
  // the kernel filter cannot AND; compile() then adds one rule per condition (runc's semantics).
  std::vector<ArgCondition> args;
  std::vector<std::string> arches;    // libseccomp arch names the rule is for; empty = every arch of the filter
  // OCI/Docker conditions, resolved per container (compile.hpp `applies`).
  std::vector<int> include_caps;      // only if the container holds all of these
  std::vector<int> exclude_caps;      // not if it holds any of these
  std::vector<std::string> exclude_arches;
  std::string min_kernel;             // "5.8": only on that kernel or newer
  int line = 0;                       // where the rule was written (LXC line, OCI syscalls[] index)
};

struct Policy {
  Action default_action;
  // libseccomp arch names ("x86_64", "x86", "x32", "aarch64", ...). Empty: the native arch and
  // the compat arches it can run (x86_64: x86 and x32), so 32-bit syscalls cannot bypass the rules.
  std::vector<std::string> architectures;
  std::vector<Rule> rules;
};

// Parses a policy file's text; the format is recognised from the content (a JSON object is OCI).
// Errors are "LABEL:LINE: what" (LXC) or "LABEL: what" (OCI).
Result<Policy> parse_policy(std::string_view text, const std::string& label);
Result<Policy> parse_lxc_policy(std::string_view text, const std::string& label);
Result<Policy> parse_oci_policy(std::string_view text, const std::string& label);

// Normalises an architecture name from either format ("SCMP_ARCH_X86_64", "amd64", "i386",
// "arm64", "x86_64") to libseccomp's ("x86_64", "x86", "aarch64"); "" when unknown.
std::string arch_name(std::string_view name);

}  // namespace cove::security::seccomp
