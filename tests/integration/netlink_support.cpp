#include "netlink_support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <sstream>
#include <thread>

#include "support.hpp"

namespace cove::test::nl {
namespace {

sockaddr_storage sockaddr_of(const IpAddress& addr, uint16_t port, socklen_t* len) {
  sockaddr_storage ss{};
  if (addr.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, addr.bytes.data(), 4);
    *len = sizeof(sockaddr_in);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::memcpy(&sin6->sin6_addr, addr.bytes.data(), 16);
    *len = sizeof(sockaddr_in6);
  }
  return ss;
}

bool wait_fd(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, timeout_ms) == 1 && (p.revents & (events | POLLHUP | POLLERR));
}

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// Connects `fd` to addr:port within 5 s.
bool connect_within(int fd, const IpAddress& addr, uint16_t port, std::string* why) {
  socklen_t len = 0;
  sockaddr_storage ss = sockaddr_of(addr, port, &len);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0 && errno != EINPROGRESS) {
    *why = errno_text("connect");
    return false;
  }
  int err = 0;
  socklen_t errlen = sizeof err;
  if (!wait_fd(fd, POLLOUT, 5000)) {
    *why = "connect: no answer within 5 s";
    return false;
  }
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen);
  if (err) *why = std::string("connect: ") + std::strerror(err);
  return err == 0;
}

}  // namespace

TestNetns::TestNetns() {
  std::thread([this] {
    if (::unshare(CLONE_NEWNET) == 0) fd_.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  }).join();
}

void TestNetns::run(const std::function<void()>& fn) const {
  std::thread([&] {
    if (::setns(fd(), CLONE_NEWNET) == 0) fn();
  }).join();
}

std::string TestNetns::proc_net(const std::string& name) const {
  std::string text;
  run([&] { text = read_text("/proc/thread-self/net/" + name); });
  return text;
}

UniqueFd tcp_listen(const TestNetns& ns, const IpAddress& addr, uint16_t port, std::string* why) {
  UniqueFd fd;
  ns.run([&] { fd.reset(::socket(addr.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)); });
  if (!fd) {
    *why = errno_text("socket");
    return fd;
  }
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  socklen_t len = 0;
  sockaddr_storage ss = sockaddr_of(addr, port, &len);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) < 0 || ::listen(fd.get(), 4) < 0) {
    *why = errno_text("bind and listen on " + addr.str());
    fd.reset();
  }
  return fd;
}

std::string tcp_exchange(const TestNetns& from, int listener, const IpAddress& addr, uint16_t port,
                         const std::string& message, std::string* why) {
  UniqueFd client;
  from.run([&] { client.reset(::socket(addr.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)); });
  if (!client || !connect_within(client.get(), addr, port, why)) return "";
  if (!wait_fd(listener, POLLIN, 5000)) {
    *why = "accept: nothing within 5 s";
    return "";
  }
  UniqueFd conn(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  if (!conn || ::send(client.get(), message.data(), message.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(message.size())) {
    *why = errno_text("accept and send");
    return "";
  }
  std::string got;
  char buf[256];
  while (got.size() < message.size() && wait_fd(conn.get(), POLLIN, 5000)) {
    ssize_t n = ::read(conn.get(), buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  if (got.empty()) *why = "nothing received";
  return got;
}

NetnsProcess::NetnsProcess(const TestNetns& ns, const std::vector<std::string>& argv) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) < 0) return;
  out_.reset(pipefd[0]);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::setns(ns.fd(), CLONE_NEWNET) < 0) ::_exit(126);
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(pipefd[1], 1);
    ::dup2(pipefd[1], 2);
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    ::execvp(a[0], a.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
}

NetnsProcess::~NetnsProcess() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
}

void NetnsProcess::drain(int timeout_ms) {
  if (!out_) return;
  char buf[4096];
  if (!wait_fd(out_.get(), POLLIN, timeout_ms)) return;
  ssize_t n = ::read(out_.get(), buf, sizeof buf);
  if (n > 0) output_.append(buf, static_cast<size_t>(n));
  else out_.reset();
}

int NetnsProcess::wait(int timeout_ms) {
  if (pid_ <= 0) return -1;
  for (int64_t end = now_ms() + timeout_ms; now_ms() < end;) {
    if (out_) drain(50);
    else ::usleep(20000);
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      for (int i = 0; out_ && i < 100; ++i) drain(100);  // what it wrote last, until EOF
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  }
  return -1;
}

// /proc/PID/net/tcp{,6}: "sl local_address rem_address st ...", the port in hex after the
// address, st 0A = LISTEN.
bool NetnsProcess::listens_on(uint16_t port) const {
  char want[8];
  std::snprintf(want, sizeof want, ":%04X", port);
  for (const char* table : {"tcp", "tcp6"}) {
    std::istringstream lines(read_text("/proc/" + std::to_string(pid_) + "/net/" + table));
    std::string line;
    std::getline(lines, line);  // the header
    while (std::getline(lines, line)) {
      std::istringstream cols(line);
      std::string sl, local, remote, st;
      cols >> sl >> local >> remote >> st;
      if (st == "0A" && local.size() > 5 && local.compare(local.size() - 5, 5, want) == 0) return true;
    }
  }
  return false;
}

}  // namespace cove::test::nl
