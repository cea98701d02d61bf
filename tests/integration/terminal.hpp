// A terminal for the tools that want one (cove-console, cove-attach with a pty): a host pty
// whose slave is the child's controlling terminal and stdio, its output collected, with waits
// for prompts. Kills and reaps the child when destroyed.
#pragma once

#include <sys/types.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cove::test {

class Terminal {
 public:
  explicit Terminal(const std::vector<std::string>& argv);
  ~Terminal();
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  // Reads until `text` appears after the read position; true when it did.
  bool wait_for(const std::string& text, int timeout_ms = 30000);
  void type(const std::string& s);
  // The exit status once it ended within `timeout_ms` (128+N for signal N), else -1.
  int wait_exit(int timeout_ms = 30000);
  const std::string& output() const { return out_; }

 private:
  int master_ = -1;
  pid_t pid_ = -1;
  std::string out_;
  size_t seen_ = 0;
};

// A login on the getty behind `t` (a console or tty): user, password, then a command whose
// output proves the shell runs, and `tty` to name the terminal it got (left unread for the caller).
::testing::AssertionResult log_in(Terminal& t, const std::string& user, const std::string& password);

}  // namespace cove::test
