// A live progress line on stderr when it is a terminal ("\r  copying: 120 / 480 MiB  25%
// 210 MB/s"), nothing otherwise; finish() ends the line.
#pragma once

#include <cstdint>
#include <string>

#include "container.hpp"

namespace cove::tools {

class TerminalProgress {
 public:
  explicit TerminalProgress(std::string what);
  ~TerminalProgress() { finish(); }
  // The callback for the library (ProgressFn); empty when stderr is no terminal.
  images::ProgressFn callback();
  void finish();

 private:
  void show(uint64_t done, uint64_t total);
  std::string what_;
  bool tty_ = false, shown_ = false;
  int64_t start_ms_ = 0, last_ms_ = 0;
};

}  // namespace cove::tools
