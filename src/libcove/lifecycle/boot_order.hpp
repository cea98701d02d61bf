// The order cove-autostart starts a host's containers in at boot, and stops them in at
// shutdown: `[boot] order` (lower first), and a container that shares a namespace of another
// (`[namespaces] share.*`) after that one, whatever the orders say. Pure: no I/O (the caller
// reads the configs); container_autostart.cpp runs the plan.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace cove::lifecycle {

struct BootEntry {
  std::string name;
  int order = 0;                    // [boot] order
  unsigned delay_s = 0;             // [boot] delay
  std::vector<std::string> shares;  // the containers it shares a namespace with (share.*)
};

// Containers that may start at the same time (they share nothing with one another), and how
// long to wait after them before the next step: the longest `delay` among them.
struct BootStep {
  std::vector<std::string> names;   // sorted
  int order = 0;                    // the order the step runs at (a dependent's may be raised)
  unsigned delay_s = 0;
};

struct BootPlan {
  std::vector<BootStep> steps;      // to start, first to last; to stop, last to first
  // Containers left out and why: a cycle of share.* between them, or a share of one left out.
  std::vector<std::pair<std::string, std::string>> refused;
};

// Steps by (order, depth): a container's order is raised to that of the containers it shares
// with when theirs is later, and it goes one step after the latest of them. Shares naming a
// container that is not among `entries` do not order anything (its start checks that the
// other one runs). Deterministic: the same entries in any order give the same plan.
BootPlan plan_boot(const std::vector<BootEntry>& entries);

}  // namespace cove::lifecycle
