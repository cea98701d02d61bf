// Resolving a seccomp Policy for one container and compiling it to a BPF program (libseccomp).
// Runs in the monitor (and in cove-attach) before the container's process exists; the child
// only loads the finished program (security/exec_restrictions.hpp), as its very last step.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "security/seccomp/policy.hpp"

namespace cove::security::seccomp {

struct ResolveContext {
  std::string native_arch;   // libseccomp name, e.g. "x86_64"
  uint64_t caps = ~0ULL;     // bit N = the container's bounding set holds capability N
  int kernel_major = 0, kernel_minor = 0;
};
// The host's arch and kernel (uname), with every capability.
ResolveContext host_context();

// The filter's architectures: the policy's, or the native arch plus its compat arches.
std::vector<std::string> filter_arches(const Policy& p, const ResolveContext& ctx);
// Whether a rule applies to this container (includes/excludes by caps, arches, minKernel).
bool applies(const Rule& r, const ResolveContext& ctx);

struct Compiled {
  std::vector<sock_filter> program;
  std::vector<std::string> arches;
  size_t rules = 0;                      // syscall rules added over all arches
  std::vector<std::string> unknown;      // syscall names libseccomp does not know at all (skipped, as runc does)
};
Result<Compiled> compile(const Policy& p, const ResolveContext& ctx);

}  // namespace cove::security::seccomp
