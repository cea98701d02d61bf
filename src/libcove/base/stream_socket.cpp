#include "base/stream_socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "base/clock.hpp"

namespace cove {

namespace {
Result<sockaddr_un> address_of(const std::string& path) {
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return Error(ENAMETOOLONG, "socket path `" + path + "` is too long");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}
}  // namespace

Result<UniqueFd> listen_unix(const std::string& path) {
  auto addr = address_of(path);
  if (!addr) return std::move(addr).error();
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Error::from_errno(errno, "socket");
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof *addr) < 0)
    return Error::from_errno(errno, "bind `" + path + "`");
  if (::listen(fd.get(), 1) < 0) return Error::from_errno(errno, "listen on `" + path + "`");
  return fd;
}

Result<UniqueFd> connect_unix(const std::string& path) {
  auto addr = address_of(path);
  if (!addr) return std::move(addr).error();
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Error::from_errno(errno, "socket");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof *addr) < 0)
    return Error::from_errno(errno, "connect to `" + path + "`");
  return fd;
}

Result<UniqueFd> accept_within(int listener, int timeout_ms) {
  struct pollfd p = {listener, POLLIN, 0};
  int n;
  while ((n = ::poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
  }
  if (n < 0) return Error::from_errno(errno, "poll");
  if (n == 0) return Error(ETIMEDOUT, "no connection came");
  UniqueFd fd(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "accept");
  return fd;
}

namespace {
Result<sockaddr_storage> inet_address(const std::string& address, unsigned port, socklen_t& len) {
  sockaddr_storage ss = {};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(uint16_t(port));
    len = sizeof *v4;
  } else if (::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(uint16_t(port));
    len = sizeof *v6;
  } else {
    return Error::invalid("`" + address + "` is not a numeric IP address");
  }
  return ss;
}
}  // namespace

Result<TcpListener> listen_tcp(const std::string& address) {
  socklen_t len = 0;
  auto ss = inet_address(address, 0, len);
  if (!ss) return std::move(ss).error();
  TcpListener l;
  l.fd.reset(::socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!l.fd) return Error::from_errno(errno, "socket");
  if (::bind(l.fd.get(), reinterpret_cast<sockaddr*>(&*ss), len) < 0)
    return Error::from_errno(errno, "bind `" + address + "`");
  if (::listen(l.fd.get(), 8) < 0) return Error::from_errno(errno, "listen on `" + address + "`");
  sockaddr_storage bound = {};
  socklen_t blen = sizeof bound;
  if (::getsockname(l.fd.get(), reinterpret_cast<sockaddr*>(&bound), &blen) < 0) return Error::from_errno(errno, "getsockname");
  l.port = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                            : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  return l;
}

Result<UniqueFd> connect_tcp(const std::string& address, unsigned port, int timeout_ms) {
  socklen_t len = 0;
  auto ss = inet_address(address, port, len);
  if (!ss) return std::move(ss).error();
  // Non-blocking with a deadline: the caller (a monitor's single thread, the container frozen)
  // must not wait out the kernel's SYN retries (~2 min) for an address that drops them.
  UniqueFd fd(::socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return Error::from_errno(errno, "socket");
  std::string where = "connect to `" + address + ":" + std::to_string(port) + "`";
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&*ss), len) < 0) {
    if (errno != EINPROGRESS) return Error::from_errno(errno, where);
    pollfd p = {fd.get(), POLLOUT, 0};
    int n;
    do n = ::poll(&p, 1, timeout_ms);
    while (n < 0 && errno == EINTR);
    if (n == 0) return Error(ETIMEDOUT, where + ": no answer in time");
    int err = 0;
    socklen_t elen = sizeof err;
    if (n < 0 || ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &elen) < 0) return Error::from_errno(errno, where);
    if (err) return Error::from_errno(err, where);
  }
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) < 0) return Error::from_errno(errno, "fcntl");
  return fd;
}

Result<void> fail_when_peer_silent(int fd, int seconds) {
  int on = 1, idle = std::max(1, seconds / 3), intvl = std::max(1, seconds / 6), cnt = 3;
  unsigned user_ms = unsigned(seconds) * 1000;
  if (::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) < 0 ||
      ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) < 0 ||
      ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl) < 0 ||
      ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt) < 0 ||
      ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_ms, sizeof user_ms) < 0)
    return Error::from_errno(errno, "setsockopt (keepalive)");
  return {};
}

Result<void> send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno(errno, "send");
    data.remove_prefix(size_t(n));
  }
  return {};
}

Result<std::string> recv_exactly_within(int fd, size_t n, int timeout_ms) {
  std::string out;
  for (int64_t end = monotonic_ms() + timeout_ms; out.size() < n;) {
    pollfd p = {fd, POLLIN, 0};
    int r = ::poll(&p, 1, int(std::max<int64_t>(0, end - monotonic_ms())));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Error::from_errno(errno, "poll");
    if (r == 0) return Error(ETIMEDOUT, fmt::format("{} of {} bytes came in time", out.size(), n));
    char buf[256];
    ssize_t got = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), MSG_DONTWAIT);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got < 0) return Error::from_errno(errno, "recv");
    if (got == 0) return Error(EPROTO, fmt::format("the stream ended after {} of {} bytes", out.size(), n));
    out.append(buf, size_t(got));
  }
  return out;
}

Result<std::string> peer_address(int fd) {
  sockaddr_storage ss = {};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return Error::from_errno(errno, "getpeername");
  char host[NI_MAXHOST];
  if (int e = ::getnameinfo(reinterpret_cast<sockaddr*>(&ss), len, host, sizeof host, nullptr, 0, NI_NUMERICHOST); e)
    return Error(EINVAL, std::string("getnameinfo: ") + ::gai_strerror(e));
  return std::string(host);
}

}  // namespace cove
