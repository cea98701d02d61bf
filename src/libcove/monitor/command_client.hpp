// monitor::Client: how the façade talks to a container's monitor. One connection to its
// command socket; `call(request)` sends a typed request and returns the typed reply (or the
// monitor's Error, rebuilt with its code and context chain). The only user of the protocol's
// request encoder and reply decoder outside the monitor.
#pragma once

#include <memory>
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
  // False once a request on this connection timed out or failed in transit: its reply could
  // still arrive and be taken for the next one's, so the connection serves no more requests.
  bool usable() const { return usable_; }
  // The connection, for a session that outlives the reply (a lent console ends when it closes).
  UniqueFd release() { return std::move(fd_); }

 private:
  Result<std::string> exchange(const Request& req, int timeout_ms);

  UniqueFd fd_;
  std::vector<UniqueFd> fds_;
  bool usable_ = true;
};

// This process's hold on one monitor (HoldRequest): while the Hold lives, every request this
// process sends to that monitor through request() below goes over the holding connection, so
// the monitor takes it as the holder's; every other process's changing request is refused.
// Destroying the Hold closes the connection, which ends the hold.
class Hold {
 public:
  static Result<std::unique_ptr<Hold>> take(const std::string& socket_path, const std::string& holder);
  ~Hold();
  Hold(const Hold&) = delete;
  Hold& operator=(const Hold&) = delete;

  // The holding connection of `socket_path`, if this process holds that monitor. One that a
  // failed request left unusable is replaced (the hold taken again on a new connection), so a
  // timed-out request does not cost the rollbacks after it their connection.
  static Client* client_for(const std::string& socket_path);

 private:
  Hold(std::string path, std::string holder, Client c)
      : path_(std::move(path)), holder_(std::move(holder)), client_(std::move(c)) {}
  Client* usable_client();
  std::string path_, holder_;
  Client client_;
};

// connect + call, for the one-shot requests (over the hold's connection when this process
// holds the monitor).
template <typename Req>
Result<typename Req::Reply> request(const std::string& socket_path, const Req& req, int timeout_ms) {
  if (Client* held = Hold::client_for(socket_path)) return held->call(req, timeout_ms);
  auto c = Client::connect(socket_path);
  if (!c) return std::move(c).error();
  return c->call(req, timeout_ms);
}

}  // namespace cove::monitor
