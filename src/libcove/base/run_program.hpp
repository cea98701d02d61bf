// Runs a helper program (mkfs.ext4, btrfs, cp, rsync) and waits for it: its stderr is captured
// for the error ("PROG: MESSAGE"), its stdout captured or left on ours. No shell is involved.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace cove {

struct ProgramOutput {
  int status = -1;  // exit status, 128+N for signal N
  std::string out, err;
  bool timed_out = false;  // killed at the request's timeout
};

// The general form: an exact program and environment, bytes on its stdin, a time limit.
struct ProgramRequest {
  std::string path;                              // executed as it is; "" = argv[0] looked up in PATH
  std::vector<std::string> argv;
  std::optional<std::vector<std::string>> env;   // nullopt = ours
  std::string input;                             // written to its stdin, then closed; "" = /dev/null
  int timeout_ms = -1;                           // SIGKILLed after this; -1 = no limit
  bool capture_stdout = true;
  int setns_pidfd = -1;                          // >= 0: enter `setns_flags` namespaces of that process first
  int setns_flags = 0;
};
Result<ProgramOutput> run_program(const ProgramRequest& req);

// Runs argv[0] (looked up in PATH). `capture_stdout` false: the program writes to our stdout.
Result<ProgramOutput> run_program(const std::vector<std::string>& argv, bool capture_stdout = true);
// run_program, and an error naming the program and its stderr unless it exits 0 (or with one of
// `also_ok`: rsync's 24, "files vanished", for a copy of a tree in use); returns stdout.
Result<std::string> run_checked_program(const std::vector<std::string>& argv, std::initializer_list<int> also_ok = {});

}  // namespace cove
