// freeze_for_dump: the freeze that CRIU's seize can work with (see dump_freeze.hpp).
#include "lifecycle/dump_freeze.hpp"

#include <linux/kcmp.h>

#include <algorithm>
#include <unordered_set>

#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/proc_stat.hpp"
#include "base/strings.hpp"
#include "base/syscalls.hpp"
#include "lifecycle/proc_scan.hpp"

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

std::optional<std::string> vfork_obstacle(const std::vector<pid_t>& pids, std::chrono::milliseconds budget) {
  auto v = find_vfork_in_progress(pids);
  if (!v) return std::nullopt;
  return describe(*v, budget);
}

// What keeps the tree from being dumped now: a vfork in progress, else `also`'s state.
std::optional<std::string> obstacle(const cgroup::ContainerCgroups& cgs, const DumpObstacle& also,
                                    std::chrono::milliseconds budget) {
  auto pids = cgs.payload_pids();
  if (auto v = vfork_obstacle(pids, budget)) return v;
  return also ? also(pids, budget) : std::nullopt;
}

// Polls the thawed container until nothing is in the way, or the deadline passes.
bool wait_for_obstacles_to_end(const cgroup::ContainerCgroups& cgs, const DumpObstacle& also,
                               Clock::time_point deadline, std::chrono::milliseconds budget) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return proc::poll_until([&] { return !obstacle(cgs, also, budget); },
                          static_cast<int>(std::max<int64_t>(left.count(), 0)), 2);
}

// Freezes (a v1 freezer stays FREEZING while a vfork holds it: polled in short slices), then
// returns what keeps the frozen tree from being dumped, if anything.
Result<std::optional<std::string>> freeze_once(cgroup::ContainerCgroups& cgs, const DumpObstacle& also,
                                               std::chrono::milliseconds budget) {
  auto deadline = Clock::now() + 10s;
  for (;;) {
    auto frozen = cgs.set_frozen(true, 100ms);
    if (frozen) break;
    if (frozen.error().code() != ETIMEDOUT || Clock::now() > deadline) return std::move(frozen).error();
    if (auto busy = vfork_obstacle(cgs.payload_pids(), budget)) return busy;
  }
  return obstacle(cgs, also, budget);
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

std::optional<std::string> passing_fd_state_obstacle(const std::vector<pid_t>& pids, std::chrono::milliseconds budget) {
  auto found = find_passing_fd_state(pids);
  if (!found) return std::nullopt;
  return "process " + std::to_string(found->pid) + " (`" + command_of(found->pid) + "`) fd " +
         std::to_string(found->fd) + " has been " + found->what + " for " + std::to_string(budget.count()) +
         " ms, which CRIU cannot dump; try again, or end it";
}

std::optional<std::string> exe_held_by_path_obstacle(const std::vector<pid_t>& pids, std::chrono::milliseconds budget) {
  auto found = find_exe_held_by_path(pids);
  if (!found) return std::nullopt;
  return "process " + std::to_string(found->runner) + " (`" + command_of(found->runner) + "`) runs `" +
         printable(found->exe) + "`, which process " + std::to_string(found->holder) + " (`" +
         command_of(found->holder) + "`) has held open with O_PATH for " + std::to_string(budget.count()) +
         " ms: a stock CRIU writes an image of it that cannot be restored (PR_SET_MM_MAP refuses the program); try "
         "again, or install cove's CRIU build (scripts/install-criu)";
}

Result<void> freeze_for_dump(cgroup::ContainerCgroups& cgs, bool was_frozen, const DumpObstacle& also,
                             std::chrono::milliseconds budget) {
  auto deadline = Clock::now() + budget;
  for (;;) {
    auto busy = freeze_once(cgs, also, budget);
    if (!busy) return std::move(busy).error();
    if (!*busy) return {};
    // Thawed, a vfork's child reaches its exec (or exit) and the parent returns; `also`'s
    // state passes.
    log::debug("freeze for the dump: thawed again to wait: {}", **busy);
    if (auto r = cgs.set_frozen(false); !r) return std::move(r).error().context("thaw for the dump to wait");
    if (!wait_for_obstacles_to_end(cgs, also, deadline, budget)) {
      auto still = obstacle(cgs, also, budget);
      Error e(EBUSY, still ? *still : **busy);
      if (was_frozen)
        if (auto r = cgs.set_frozen(true); !r) return std::move(r).error().context(e.message());
      return e;
    }
  }
}

}  // namespace cove::lifecycle
