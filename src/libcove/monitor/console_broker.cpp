#include "monitor/console_broker.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <string>

namespace cove::monitor {

void ConsoleBroker::set_sinks(UniqueFd log, bool echo_stdout) {
  log_ = std::move(log);
  echo_stdout_ = echo_stdout;
}

void ConsoleBroker::adopt(UniqueFd console_master, std::vector<UniqueFd> tty_masters) {
  console_ = std::move(console_master);
  ttys_ = std::move(tty_masters);
  int peer = ::ioctl(console_.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (peer >= 0) console_hold_.reset(peer);
  ::fcntl(console_.get(), F_SETFL, O_NONBLOCK);
}

void ConsoleBroker::release_all() {
  console_.reset();
  ttys_.clear();
  console_hold_.reset();
}

std::vector<int> ConsoleBroker::tty_master_fds() const {
  std::vector<int> out;
  for (const auto& m : ttys_) out.push_back(m.get());
  return out;
}

Result<int> ConsoleBroker::lend(int client, unsigned tty) {
  if (tty > ttys_.size())
    return Error(ENOENT, "no tty " + std::to_string(tty) + " (the container has " + std::to_string(ttys_.size()) + ")");
  for (const auto& [c, t] : lent_)
    if (t == tty) return Error(EBUSY, "tty " + std::to_string(tty) + " is in use by another client");
  lent_[client] = tty;
  if (tty == 0) console_lent_ = true;
  return tty == 0 ? console_.get() : ttys_[tty - 1].get();
}

void ConsoleBroker::give_back(int client) {
  auto it = lent_.find(client);
  if (it == lent_.end()) return;
  if (it->second == 0) console_lent_ = false;
  lent_.erase(it);
}

void ConsoleBroker::copy_output() {
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(console_.get(), buf, sizeof buf);
    if (n <= 0) return;
    if (log_) (void)!::write(log_.get(), buf, static_cast<size_t>(n));
    if (echo_stdout_) (void)!::write(1, buf, static_cast<size_t>(n));
  }
}

void ConsoleBroker::write_input(const char* data, size_t n) {
  if (console_) (void)!::write(console_.get(), data, n);
}

}  // namespace cove::monitor
