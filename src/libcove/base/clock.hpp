// Milliseconds from the monotonic clock (intervals, deadlines) and the wall clock (timestamps).
#pragma once

#include <time.h>

#include <cstdint>

namespace cove {

inline int64_t clock_ms(clockid_t clock) {
  struct timespec ts;
  ::clock_gettime(clock, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}
inline int64_t monotonic_ms() { return clock_ms(CLOCK_MONOTONIC); }
inline int64_t realtime_ms() { return clock_ms(CLOCK_REALTIME); }

// The sleeps of a poll for a state the kernel settles soon (a freeze, an rmdir after the last
// task died, a lock): 50 µs first, doubling up to `cap_us`. A fixed 5–10 ms step cost every caller
// that much even when the state was there a few hundred µs later.
class Backoff {
 public:
  explicit Backoff(int64_t cap_us = 5000) : cap_us_(cap_us < kFirstUs ? kFirstUs : cap_us) {}
  void sleep() {
    struct timespec ts = {time_t(next_us_ / 1000000), long(next_us_ % 1000000) * 1000};
    ::nanosleep(&ts, nullptr);
    next_us_ = next_us_ * 2 > cap_us_ ? cap_us_ : next_us_ * 2;
  }

 private:
  static constexpr int64_t kFirstUs = 50;
  int64_t cap_us_;
  int64_t next_us_ = kFirstUs;
};

}  // namespace cove
