#include "base/stdio_relay.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>


namespace cove {

Result<StdioRelay> StdioRelay::for_terminals() {
  StdioRelay r;
  for (int i = 0; i < 3; ++i) {
    if (!::isatty(i)) continue;
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) return Error::from_errno(errno, "pipe for stdio relay");
    bool in = i == 0;
    r.child_[i].reset(in ? p[0] : p[1]);
    r.parent_[i].reset(in ? p[1] : p[0]);
    // Our end only: the caller's terminal keeps its own flags (its file description is shared).
    // A blocking end would stall the whole copy loop on one slow reader.
    if (::fcntl(r.parent_[i].get(), F_SETFL, O_NONBLOCK) < 0) return Error::from_errno(errno, "stdio relay: set O_NONBLOCK");
    r.pumps_[i].src = in ? 0 : r.parent_[i].get();
    r.pumps_[i].dst = in ? r.parent_[i].get() : i;
  }
  // A command that closes its stdin must not kill us with SIGPIPE on the next copy.
  if (!r.empty()) ::signal(SIGPIPE, SIG_IGN);
  return r;
}

bool StdioRelay::empty() const { return !relays(0) && !relays(1) && !relays(2); }

void StdioRelay::close_child_ends() {
  for (auto& fd : child_) fd.reset();
}

void StdioRelay::add_pollfds(std::vector<struct pollfd>& out) const {
  for (const auto& p : pumps_) {
    bool live = p.src >= 0 && !p.done();
    out.push_back({live && p.pending.empty() && !p.src_eof ? p.src : -1, POLLIN, 0});
    out.push_back({live && !p.pending.empty() ? p.dst : -1, POLLOUT, 0});
  }
}

void StdioRelay::on_poll(const struct pollfd* fds) {
  for (size_t i = 0; i < pumps_.size(); ++i) {
    auto& p = pumps_[i];
    if (p.src < 0 || p.done()) continue;
    step(p, fds[2 * i].revents, fds[2 * i + 1].revents);
    // Our stdin pipe's write end closes with the caller's stdin: the command sees EOF.
    if (i == 0 && p.done()) parent_[0].reset();
  }
}

void StdioRelay::step(Pump& p, short src_revents, short dst_revents) {
  if (src_revents) {
    char buf[8192];
    ssize_t n = ::read(p.src, buf, sizeof buf);
    if (n > 0) p.pending.append(buf, static_cast<size_t>(n));
    else if (n == 0 || (errno != EAGAIN && errno != EINTR)) p.src_eof = true;
  }
  if (dst_revents || !p.pending.empty()) {
    ssize_t n = ::write(p.dst, p.pending.data(), p.pending.size());
    if (n > 0) p.pending.erase(0, static_cast<size_t>(n));
    else if (n < 0 && errno != EAGAIN && errno != EINTR) p.dst_broken = true;  // reader gone (EPIPE)
  }
}

void StdioRelay::drain_output() {
  for (int i = 1; i < 3; ++i) {
    auto& p = pumps_[i];
    if (p.src < 0) continue;
    char buf[8192];
    ssize_t n = 0;
    while (!p.pending.empty() || (n = ::read(p.src, buf, sizeof buf)) > 0) {
      if (p.pending.empty()) p.pending.assign(buf, static_cast<size_t>(n));
      ssize_t w = ::write(p.dst, p.pending.data(), p.pending.size());
      if (w <= 0) break;
      p.pending.erase(0, static_cast<size_t>(w));
    }
    p.src_eof = true;
  }
}

void StdioRelay::copy_until_exit(int pidfd, int sigfd,
                                 const std::function<void(const struct signalfd_siginfo&)>& on_signal) {
  while (pidfd >= 0) {
    std::vector<struct pollfd> p = {{pidfd, POLLIN, 0}, {sigfd, POLLIN, 0}};
    add_pollfds(p);
    if (::poll(p.data(), p.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    struct signalfd_siginfo si;
    while (p[1].revents && ::read(sigfd, &si, sizeof si) == sizeof si) on_signal(si);
    on_poll(&p[2]);
    if (p[0].revents) break;
  }
  drain_output();
}

}  // namespace cove
