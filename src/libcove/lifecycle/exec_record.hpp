// What a command attached to a running container gets from the container's start: init's
// ExecRestrictions (capabilities, LSM label, no_new_privs, rlimits, the compiled seccomp
// program, ...) and the config's init environment. The monitor records them in the runtime
// dir (host root's, 0700, see paths.hpp) when it launches init; cove-attach reads them instead
// of loading the config and compiling its seccomp policy again (~0.4 ms of a ~3 ms attach), and
// the command then gets exactly what init got, not what an edited config would give now.
// One JSON object; the seccomp program as the hex of its `struct sock_filter` array.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"
#include "security/exec_restrictions.hpp"

namespace cove::lifecycle {

struct ExecRecord {
  security::ExecRestrictions restrictions;
  std::vector<std::string> env;  // the config's init environment (KEY=VALUE)
};

std::string encode_exec_record(const ExecRecord& r);
// A damaged record (not JSON, a missing or mistyped field, a program of more than 4096
// instructions) is an error naming what is wrong; never a crash.
Result<ExecRecord> decode_exec_record(const std::string& text);

}  // namespace cove::lifecycle
