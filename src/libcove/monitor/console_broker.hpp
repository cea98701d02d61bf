// ConsoleBroker: the monitor's hold on init's console and tty pty masters. It keeps a slave of
// the console open (so the master never reads EIO/HUP while nobody is attached), copies console
// output to the console log (and to stdout in the foreground) while the console is not lent,
// and lends one master at a time per tty to a client connection (cove-console) until that
// connection closes.
#pragma once

#include <map>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace cove::monitor {

class ConsoleBroker {
 public:
  // The console log (may be empty) and whether output is echoed to our stdout.
  void set_sinks(UniqueFd log, bool echo_stdout);
  // A new init's masters (started or restored); non-blocking from now on.
  void adopt(UniqueFd console_master, std::vector<UniqueFd> tty_masters);
  // Init is gone: closes every master (lent ones end with their connections).
  void release_all();

  bool has_console() const { return static_cast<bool>(console_); }
  // The fd to poll for console output: -1 while the console is lent or absent.
  int output_fd() const { return console_ && !console_lent_ ? console_.get() : -1; }
  std::vector<int> tty_master_fds() const;

  // Lends tty `tty` (0: the console) to connection `client`; returns the master to pass.
  Result<int> lend(int client, unsigned tty);
  // The connection closed: what it borrowed is the broker's again.
  void give_back(int client);

  void copy_output();                          // console -> log (and stdout)
  void write_input(const char* data, size_t n);  // our stdin -> console (foreground)

 private:
  UniqueFd console_;
  UniqueFd console_hold_;  // a slave fd kept open so the master never reads EIO/HUP
  std::vector<UniqueFd> ttys_;
  UniqueFd log_;
  bool echo_stdout_ = false;
  std::map<int, unsigned> lent_;  // client fd -> tty index (0 = console)
  bool console_lent_ = false;
};

}  // namespace cove::monitor
