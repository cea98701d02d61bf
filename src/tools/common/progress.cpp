#include "tools/common/progress.hpp"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "base/clock.hpp"

namespace cove::tools {

TerminalProgress::TerminalProgress(std::string what, const char* unit) : what_(std::move(what)), unit_(unit) {
  tty_ = ::isatty(2) == 1;
  start_ms_ = monotonic_ms();
}

images::ProgressFn TerminalProgress::callback() {
  if (!tty_) return {};
  return [this](uint64_t done, uint64_t total) {
    show(done, total);
    return true;
  };
}

void TerminalProgress::show(uint64_t done, uint64_t total) {
  int64_t now = monotonic_ms();
  if (!tty_ || (shown_ && now - last_ms_ < 200 && done < total)) return;
  last_ms_ = now;
  shown_ = true;
  double secs = static_cast<double>(now - start_ms_) / 1000.0;
  double rate = secs > 0 ? static_cast<double>(done) / 1e6 / secs : 0;
  std::string line = unit_ ? fmt::format("\r  {}: {} / {} {}   ", what_, done, total, unit_)
                     : total ? fmt::format("\r  {}: {} / {} MiB  {:3d}%  {:.0f} MB/s   ", what_, done >> 20, total >> 20,
                                         static_cast<int>(done * 100 / total > 100 ? 100 : done * 100 / total), rate)
                     : fmt::format("\r  {}: {} MiB  {:.0f} MB/s   ", what_, done >> 20, rate);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

void TerminalProgress::finish() {
  if (!shown_) return;
  shown_ = false;
  std::fputs("\n", stderr);
}

}  // namespace cove::tools
