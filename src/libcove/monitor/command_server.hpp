// CommandServer: the monitor's side of the command socket. It accepts root's connections,
// reads one message per request, decodes it (monitor/protocol.hpp) and dispatches it through
// a table with one handler per command. No request can take the monitor down: a message that
// does not decode (not JSON, truncated, oversized, unknown command, wrong field type), a
// handler's Error and an exception a handler throws all become an error reply on that
// connection, and the server carries on with the next message.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "monitor/protocol.hpp"

namespace cove::monitor {

class CommandServer {
 public:
  // A handler answers a request on connection `fd`, at once (reply()) or later (a stop is
  // answered once the container is cleaned up). An Error it returns is replied for it.
  template <typename Req>
  using Handler = std::function<Result<void>(int fd, const Req& req)>;

  // Binds and listens on `path` (mode 0600; a stale socket there is replaced).
  Result<void> listen(const std::string& path);
  int listen_fd() const { return listen_fd_.get(); }

  template <typename Req>
  void on(Handler<Req> handler) {
    static_assert(kRequestIndex<Req> < std::variant_size_v<Request>, "not a request");
    table_[kRequestIndex<Req>] = [h = std::move(handler)](int fd, const Request& req) { return h(fd, std::get<Req>(req)); };
  }
  // Called when a connection goes away (a lent console or a stop waiter is released).
  void on_disconnect(std::function<void(int fd)> f) { on_disconnect_ = std::move(f); }

  // Accepts every pending connection from root (others are closed at once).
  void accept_clients();
  // Takes an already connected socket as a client (tests, a socketpair).
  void adopt(UniqueFd fd);
  std::vector<int> client_fds() const;
  bool has_client(int fd) const { return clients_.count(fd) != 0; }
  // Reads and answers one message from client `fd`; EOF or a dead connection drops it.
  void serve(int fd);
  // A changing request was served since the last call: a checkpoint above all (CRIU's RPC,
  // the images' metadata) uses the heap and the stack far more than the monitor keeps. The
  // loop gives that memory back (base/memory.hpp) from its shallowest frame.
  bool take_memory_to_give_back() { return std::exchange(served_change_, false); }
  void drop(int fd);
  // Stops listening (new connections are refused); the open ones stay, for their replies.
  void stop_listening() { listen_fd_.reset(); }
  // Stops listening and closes every connection.
  void close();

  // Connection `fd` holds the server (HoldRequest) until it closes: dispatch() refuses every
  // other connection's requests that are not read-only. EBUSY when another connection holds it.
  Result<void> hold(int fd, std::string holder);
  // While `why` is set, every connection's changing requests are refused (EBUSY, saying why):
  // the container is in the middle of something no request may cut into.
  void set_busy(std::string why) { busy_ = std::move(why); }

  static void reply(int fd, const std::string& text, const std::vector<int>& fds = {});
  static void reply_error(int fd, const Error& e);

 private:
  Result<void> dispatch(int fd, const Request& req);

  UniqueFd listen_fd_;
  std::map<int, UniqueFd> clients_;
  std::array<std::function<Result<void>(int, const Request&)>, std::variant_size_v<Request>> table_;
  std::function<void(int)> on_disconnect_;
  int holder_fd_ = -1;
  std::string holder_;
  std::string busy_;
  bool served_change_ = false;
};

}  // namespace cove::monitor
