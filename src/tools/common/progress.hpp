// A live progress line on stderr when it is a terminal ("\r  copying: 120 / 480 MiB  25%
// 210 MB/s", or with a unit "\r  starting: 12 / 200 containers"), nothing otherwise; finish()
// ends the line.
#pragma once

#include <cstdint>
#include <string>

#include "container.hpp"

namespace cove::tools {

class TerminalProgress {
 public:
  // `unit`: counts of things ("containers") instead of bytes.
  explicit TerminalProgress(std::string what, const char* unit = nullptr);
  ~TerminalProgress() { finish(); }
  // The callback for the library (ProgressFn); empty when stderr is no terminal.
  images::ProgressFn callback();
  void finish();
  void show(uint64_t done, uint64_t total);

 private:
  std::string what_;
  const char* unit_ = nullptr;
  bool tty_ = false, shown_ = false;
  int64_t start_ms_ = 0, last_ms_ = 0;
};

}  // namespace cove::tools
