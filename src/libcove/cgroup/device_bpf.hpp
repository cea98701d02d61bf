// Device control on cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program built by hand from the
// same rules v1 writes to devices.allow/deny (resources.hpp `effective_device_rules`), loaded
// with bpf(2) and attached to the payload cgroup with BPF_F_ALLOW_MULTI. `build_device_program`
// is pure (unit-tested); loading and attaching need root (integration tests).
#pragma once

#include <linux/bpf.h>

#include <memory>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "cgroup/resources.hpp"

namespace cove::cgroup {

// The program: load type/access/major/minor from `struct bpf_cgroup_dev_ctx`, then one block
// per rule, last rule first, each returning 1 (allow) or 0 (deny) on a match; no match: 0.
// An allow rule matches when the requested access is a subset of the rule's, a deny rule when
// they overlap.
std::vector<struct bpf_insn> build_device_program(const std::vector<DeviceRule>& rules);

// Loads `insns` as a cgroup device program; the error carries the verifier log.
Result<UniqueFd> load_device_program(const std::vector<struct bpf_insn>& insns);
// Attaches `prog` to the cgroup directory `dir` (BPF_F_ALLOW_MULTI), then detaches
// `replaced` (an earlier program of ours, may be -1), so that there is no moment without one.
Result<void> attach_device_program(const std::string& dir, int prog, int replaced);

}  // namespace cove::cgroup
