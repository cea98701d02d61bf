#include "oci/hooks.hpp"

#include <sched.h>

#include <fmt/format.h>

#include "base/strings.hpp"
#include "base/syscalls.hpp"
#include "base/unique_fd.hpp"

namespace cove::oci {

ProgramRequest hook_request(const Hook& hook) {
  ProgramRequest req;
  req.path = hook.path;
  req.argv = hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
  req.env = hook.env;
  if (hook.timeout) req.timeout_ms = static_cast<int>(*hook.timeout) * 1000;
  return req;
}

namespace {

Result<void> run_each(const std::vector<Hook>& hooks, const std::string& kind, const std::string& state, int pidfd,
                      int flags) {
  for (size_t i = 0; i < hooks.size(); ++i) {
    ProgramRequest req = hook_request(hooks[i]);
    req.input = state;
    req.setns_pidfd = pidfd;
    req.setns_flags = flags;
    std::string what = fmt::format("hook `hooks.{}[{}]` (`{}`)", kind, i, hooks[i].path);
    auto r = run_program(req);
    if (!r) return std::move(r).error().context(what);
    if (r->timed_out) return Error(ETIMEDOUT, fmt::format("{}: timed out after {} s", what, *hooks[i].timeout));
    if (r->status != 0) {
      std::string err(trim(r->err));
      return Error(EIO, fmt::format("{}: exited with status {}{}", what, r->status, err.empty() ? "" : ": " + err));
    }
  }
  return {};
}

}  // namespace

Result<void> run_hooks(const std::vector<Hook>& hooks, const std::string& kind, const std::string& state) {
  return run_each(hooks, kind, state, -1, 0);
}

Result<void> run_hooks_in(const std::vector<Hook>& hooks, const std::string& kind, const std::string& state, pid_t pid,
                          bool userns) {
  if (hooks.empty()) return {};
  UniqueFd pidfd(sys::pidfd_open(pid, 0));
  if (!pidfd) return Error::from_errno(errno, "open the container's init for its " + kind + " hooks");
  int flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | (userns ? CLONE_NEWUSER : 0);
  return run_each(hooks, kind, state, pidfd.get(), flags);
}

}  // namespace cove::oci
