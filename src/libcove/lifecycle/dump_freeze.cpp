// freeze_for_dump: the freeze that CRIU's seize can work with (see dump_freeze.hpp).
#include "lifecycle/dump_freeze.hpp"

#include <linux/kcmp.h>

#include <algorithm>
#include <unordered_set>

#include "base/fs.hpp"
#include "base/proc_stat.hpp"
#include "base/strings.hpp"
#include "base/syscalls.hpp"

namespace cove::lifecycle {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string proc_path(pid_t pid, const char* file) { return "/proc/" + std::to_string(pid) + "/" + file; }

// Its comm, which the process itself chose: made printable.
std::string command_of(pid_t pid) {
  auto text = read_file(proc_path(pid, "comm"));
  return text ? printable(trim(*text)) : std::string("?");
}

std::string describe(const VforkInProgress& v, std::chrono::milliseconds budget) {
  return "process " + std::to_string(v.parent) + " (`" + command_of(v.parent) + "`) is inside vfork(): its child " +
         std::to_string(v.child) + " (`" + command_of(v.child) + "`) has not called exec for " +
         std::to_string(budget.count()) + " ms, and CRIU cannot seize the parent until it does; try again, or end it";
}

// Polls the thawed container until no vfork is in progress, or the deadline passes.
bool wait_for_vforks_to_end(const cgroup::ContainerCgroups& cgs, Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return proc::poll_until([&] { return !find_vfork_in_progress(cgs.payload_pids()); },
                          static_cast<int>(std::max<int64_t>(left.count(), 0)), 2);
}

// Freezes (a v1 freezer stays FREEZING while a vfork holds it: polled in short slices), then
// returns the vfork in progress that keeps the frozen tree from being seized, if any.
Result<std::optional<VforkInProgress>> freeze_once(cgroup::ContainerCgroups& cgs) {
  auto deadline = Clock::now() + 10s;
  for (;;) {
    auto frozen = cgs.set_frozen(true, 100ms);
    if (frozen) break;
    if (frozen.error().code() != ETIMEDOUT || Clock::now() > deadline) return std::move(frozen).error();
    if (auto busy = find_vfork_in_progress(cgs.payload_pids())) return busy;
  }
  return find_vfork_in_progress(cgs.payload_pids());
}

}  // namespace

std::optional<VforkInProgress> find_vfork_in_progress(const std::vector<pid_t>& pids) {
  std::unordered_set<pid_t> members(pids.begin(), pids.end());
  for (pid_t pid : pids) {
    pid_t parent = proc::parent_of(pid);
    if (parent <= 0 || !members.count(parent)) continue;
    if (sys::kcmp(pid, parent, KCMP_VM, 0, 0) == 0) return VforkInProgress{parent, pid};
  }
  return std::nullopt;
}

Result<void> freeze_for_dump(cgroup::ContainerCgroups& cgs, bool was_frozen, std::chrono::milliseconds budget) {
  auto deadline = Clock::now() + budget;
  for (;;) {
    auto busy = freeze_once(cgs);
    if (!busy) return std::move(busy).error();
    if (!*busy) return {};
    // Thawed, the child reaches its exec (or exit) and the parent returns from vfork().
    if (auto r = cgs.set_frozen(false); !r) return std::move(r).error().context("thaw for a vfork to end");
    if (!wait_for_vforks_to_end(cgs, deadline)) {
      Error e(EBUSY, describe(**busy, budget));
      if (was_frozen)
        if (auto r = cgs.set_frozen(true); !r) return std::move(r).error().context(e.message());
      return e;
    }
  }
}

}  // namespace cove::lifecycle
