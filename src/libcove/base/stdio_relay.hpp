// StdioRelay: stands between a caller's terminal and a process that must not be handed it. A
// terminal fd given to a container process lets it read the admin's keystrokes after the tool
// returns, change the terminal's settings, or (with CAP_SYS_ADMIN, or as its session) push input
// with TIOCSTI. For each of stdin, stdout and stderr that is a terminal the relay makes a pipe
// the process gets instead, and copies between pipe and terminal; fds that are not terminals
// (files, pipes, sockets: the caller's own plumbing) are handed over as they are.
// Used by cove-attach (--no-pty) and cove-execute; the parent side runs the copy loop.
#pragma once

#include <poll.h>

#include <sys/signalfd.h>
#include <sys/types.h>

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace cove {

class StdioRelay {
 public:
  // Pipes for each of fds 0-2 that is a terminal (none when none is).
  static Result<StdioRelay> for_terminals();

  // The fd the child must have as `i` (0-2): the child's end of a pipe, or -1 to keep fd `i`.
  int child_fd(int i) const { return child_[i].get(); }
  bool relays(int i) const { return child_[i].valid(); }
  bool empty() const;
  // In the parent, once the child has its copies.
  void close_child_ends();

  // The copy loop, driven by the caller's poll: append this relay's fds, then hand the
  // results back (same order).
  void add_pollfds(std::vector<struct pollfd>& out) const;
  void on_poll(const struct pollfd* fds);
  // After the child ended: copy what its output pipes already hold, without waiting for
  // writers that outlived it (a background process keeps a pipe open).
  void drain_output();

  // The whole copy loop: until the process `pidfd` names has exited, copies this relay's fds
  // and hands every signal read from `sigfd` (-1: none) to `on_signal`; then drains the
  // output. Does not reap: the caller owns the child (process::ChildProcess) and waits for it.
  void copy_until_exit(int pidfd, int sigfd, const std::function<void(const struct signalfd_siginfo&)>& on_signal);

 private:
  struct Pump {
    int src = -1;  // read from
    int dst = -1;  // write to
    std::string pending;
    bool src_eof = false;
    bool dst_broken = false;
    bool done() const { return dst_broken || (src_eof && pending.empty()); }
  };
  static void step(Pump& p, short src_revents, short dst_revents);

  std::array<UniqueFd, 3> child_;   // the ends the child gets
  std::array<UniqueFd, 3> parent_;  // our ends: write end for 0, read ends for 1 and 2
  std::array<Pump, 3> pumps_;
};

}  // namespace cove
