#include "base/stream_socket.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

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

}  // namespace cove
