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

}  // namespace cove
