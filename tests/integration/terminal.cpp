#include "terminal.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.hpp"

namespace cove::test {

Terminal::Terminal(const std::vector<std::string>& argv) {
  master_ = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master_ < 0 || ::grantpt(master_) < 0 || ::unlockpt(master_) < 0) return;
  std::string slave = ::ptsname(master_);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::setsid();
    int s = ::open(slave.c_str(), O_RDWR);
    if (s < 0) ::_exit(126);
    for (int i = 0; i < 3; ++i) ::dup2(s, i);
    std::vector<char*> a;
    for (const auto& x : argv) a.push_back(const_cast<char*>(x.c_str()));
    a.push_back(nullptr);
    ::execv(a[0], a.data());
    ::_exit(127);
  }
}

Terminal::~Terminal() {
  if (pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (master_ >= 0) ::close(master_);
}

bool Terminal::wait_for(const std::string& text, int timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  while (now_ms() < deadline) {
    auto at = out_.find(text, seen_);
    if (at != std::string::npos) {
      seen_ = at + text.size();
      return true;
    }
    struct pollfd p = {master_, POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      char buf[4096];
      ssize_t n = ::read(master_, buf, sizeof buf);
      if (n <= 0) return false;
      out_.append(buf, size_t(n));
    }
  }
  return false;
}

void Terminal::type(const std::string& s) { (void)!::write(master_, s.data(), s.size()); }

int Terminal::wait_exit(int timeout_ms) {
  int st = 0;
  int64_t deadline = now_ms() + timeout_ms;
  while (now_ms() < deadline) {
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    wait_for("\x01never", 50);
  }
  return -1;
}

::testing::AssertionResult log_in(Terminal& t, const std::string& user, const std::string& password) {
  t.type("\r");
  if (!t.wait_for("login:")) return ::testing::AssertionFailure() << "no login prompt:\n" << t.output();
  t.type(user + "\r");
  if (!t.wait_for("assword:")) return ::testing::AssertionFailure() << "no password prompt:\n" << t.output();
  t.type(password + "\r");
  if (!t.wait_for("#")) return ::testing::AssertionFailure() << "no shell prompt:\n" << t.output();
  t.type("echo logged-$((6*7))-in; tty\r");
  if (!t.wait_for("logged-42-in")) return ::testing::AssertionFailure() << "the shell did not run:\n" << t.output();
  return ::testing::AssertionSuccess();
}

}  // namespace cove::test
