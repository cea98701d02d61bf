// StopController: how init is ended. A stop sends the halt signal (or, with `kill`, the stop
// signal) and arms a timer; when the timer fires the stop signal follows, and SIGKILL 2 s after
// that. A reboot sends the reboot signal under the same timer. Signals go through init's pidfd.
// It also keeps the connections waiting for the stop's (or reboot's) end, and tells, when init
// exits, whether that exit was a reboot.
#pragma once

#include <sys/types.h>

#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace cove::monitor {

struct StopSignals {
  int halt = 0, stop = 0, reboot = 0;
};

class StopController {
 public:
  explicit StopController(StopSignals sigs) : sigs_(sigs) {}
  Result<void> open_timer();
  int timer_fd() const { return timer_.get(); }

  bool stop_requested() const { return stop_requested_; }
  void mark_stop_requested() { stop_requested_ = true; }
  void mark_reboot_requested() { reboot_requested_ = true; }
  // The signal a stop starts with.
  int first_signal(bool kill) const { return kill ? sigs_.stop : sigs_.halt; }
  int reboot_signal() const { return sigs_.reboot; }

  // Sends `sig` to init and, unless it is SIGKILL, arms the escalation timer.
  void signal(int init_pidfd, int sig, unsigned timeout_s);
  // The timer fired: the stop signal, then SIGKILL.
  void escalate(int init_pidfd);
  // Init exited: disarms; true when the exit is a reboot (asked for, or init's own reboot(2),
  // which inside a pid namespace ends init with SIGHUP, unless `sighup_is_an_end`).
  bool init_exited(int status, bool sighup_is_an_end);

  void add_waiter(int fd) { waiters_.push_back(fd); }
  void forget_waiter(int fd);
  std::vector<int> take_waiters();

 private:
  void arm(unsigned seconds);

  StopSignals sigs_;
  UniqueFd timer_;
  bool stop_requested_ = false;
  bool reboot_requested_ = false;
  bool escalated_ = false;
  std::vector<int> waiters_;
};

}  // namespace cove::monitor
