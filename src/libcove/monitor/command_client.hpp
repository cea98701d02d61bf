// monitor::Client: how the façade talks to a container's monitor. One connection to its
// command socket; `call(request)` sends a typed request and returns the typed reply (or the
// monitor's Error, rebuilt with its code and context chain). The only user of the protocol's
// request encoder and reply decoder outside the monitor.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "monitor/protocol.hpp"

namespace cove::monitor {

class Client {
 public:
  // Connects to the command socket at `socket_path`.
  static Result<Client> connect(const std::string& socket_path);
  explicit Client(UniqueFd fd) : fd_(std::move(fd)) {}

  // Sends `req` and waits up to `timeout_ms` (-1: forever) for its reply. Fds the reply carries
  // (a console master) are kept for take_fds().
  template <typename Req>
  Result<typename Req::Reply> call(const Req& req, int timeout_ms) {
    auto text = exchange(Request(req), timeout_ms);
    if (!text) return std::move(text).error();
    return decode_reply<typename Req::Reply>(*text);
  }

  std::vector<UniqueFd> take_fds() { return std::move(fds_); }
  // The connection, for a session that outlives the reply (a lent console ends when it closes).
  UniqueFd release() { return std::move(fd_); }

 private:
  Result<std::string> exchange(const Request& req, int timeout_ms);

  UniqueFd fd_;
  std::vector<UniqueFd> fds_;
};

// connect + call, for the one-shot requests.
template <typename Req>
Result<typename Req::Reply> request(const std::string& socket_path, const Req& req, int timeout_ms) {
  auto c = Client::connect(socket_path);
  if (!c) return std::move(c).error();
  return c->call(req, timeout_ms);
}

}  // namespace cove::monitor
