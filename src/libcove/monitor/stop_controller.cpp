#include "monitor/stop_controller.hpp"

#include <signal.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "base/log.hpp"
#include "base/signals.hpp"
#include "base/syscalls.hpp"

namespace cove::monitor {

Result<void> StopController::open_timer() {
  timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  if (!timer_) return Error::from_errno(errno, "timerfd_create for the stop timeout");
  return {};
}

void StopController::arm(unsigned seconds) {
  struct itimerspec its = {};
  its.it_value.tv_sec = seconds;
  its.it_value.tv_nsec = seconds ? 0 : 1;
  if (::timerfd_settime(timer_.get(), 0, &its, nullptr) < 0)
    log::warn("arm the stop timer: {}", std::strerror(errno));
}

void StopController::signal(int init_pidfd, int sig, unsigned timeout_s) {
  log::info("sending {} to init, timeout {}s", signal_name(sig), timeout_s);
  sys::pidfd_send_signal(init_pidfd, sig, nullptr, 0);
  if (sig != SIGKILL) arm(timeout_s);
}

void StopController::escalate(int init_pidfd) {
  uint64_t ticks;
  if (::read(timer_.get(), &ticks, sizeof ticks) <= 0 || init_pidfd < 0) return;
  // First the configured stop_signal; if that does not end init either, SIGKILL.
  int sig = escalated_ || sigs_.stop == SIGKILL ? SIGKILL : sigs_.stop;
  log::info("stop timed out; sending {} to init", sig);
  sys::pidfd_send_signal(init_pidfd, sig, nullptr, 0);
  if (sig != SIGKILL) {
    escalated_ = true;
    arm(2);
  }
}

bool StopController::init_exited(int status, bool sighup_is_an_end) {
  struct itimerspec off = {};
  ::timerfd_settime(timer_.get(), 0, &off, nullptr);
  escalated_ = false;
  bool own_reboot = !sighup_is_an_end && WIFSIGNALED(status) && WTERMSIG(status) == SIGHUP;
  bool rebooted = !stop_requested_ && (reboot_requested_ || own_reboot);
  if (rebooted) reboot_requested_ = false;
  return rebooted;
}

void StopController::forget_waiter(int fd) { std::erase(waiters_, fd); }

std::vector<int> StopController::take_waiters() { return std::exchange(waiters_, {}); }

}  // namespace cove::monitor
