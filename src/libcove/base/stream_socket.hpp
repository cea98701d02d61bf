// Stream sockets: unix ones by path, TCP ones by numeric address (IPv4 or IPv6, no name
// lookup), a listener, a connect, and an accept with a deadline. Used by migration's page
// stream (CRIU's lazy pages, over an ssh forward or direct TCP). Every fd is CLOEXEC.
#pragma once

#include <string>
#include <string_view>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace cove {

// Binds and listens on `path` (which must not exist).
Result<UniqueFd> listen_unix(const std::string& path);
Result<UniqueFd> connect_unix(const std::string& path);
// The next connection on `listener`, waiting at most `timeout_ms` (ETIMEDOUT).
Result<UniqueFd> accept_within(int listener, int timeout_ms);

struct TcpListener {
  UniqueFd fd;
  unsigned port = 0;  // the one the kernel chose
};
// Listens on `address`, a port the kernel chooses.
Result<TcpListener> listen_tcp(const std::string& address);
Result<UniqueFd> connect_tcp(const std::string& address, unsigned port, int timeout_ms = 10 * 1000);
// A TCP connection whose peer went silent (a host gone, a link cut: no reset ever comes) fails
// after about `seconds` instead of waiting for ever: keepalive probes while idle, and
// TCP_USER_TIMEOUT for data sent and not acknowledged.
Result<void> fail_when_peer_silent(int fd, int seconds);
// All of `data` on a connected socket (no SIGPIPE).
Result<void> send_all(int fd, std::string_view data);
// Exactly `n` bytes from a connected socket within `timeout_ms`; ETIMEDOUT, or EPROTO when the
// peer ends the stream first.
Result<std::string> recv_exactly_within(int fd, size_t n, int timeout_ms);
// The numeric address of a connected socket's peer ("10.0.0.1", "fd00::1").
Result<std::string> peer_address(int fd);

}  // namespace cove
