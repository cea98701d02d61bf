#include "monitor/command_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <map>

#include "base/fd_passing.hpp"

namespace cove::monitor {

Result<Client> Client::connect(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd) return Error::from_errno(errno, "socket");
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return Error(ENAMETOOLONG, "socket path `" + path + "` is too long");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
    return Error::from_errno(errno, "connect to monitor `" + path + "`");
  return Client(std::move(fd));
}

Result<std::string> Client::exchange(const Request& req, int timeout_ms) {
  if (!usable_) return Error(EPIPE, "the connection to the monitor was given up after a failed request");
  usable_ = false;  // until this exchange has its reply
  if (auto r = send_with_fds(fd_.get(), encode_request(req), {}); !r)
    return std::move(r).error().context("send request to monitor");
  struct pollfd p = {fd_.get(), POLLIN, 0};
  int n;
  do {
    n = ::poll(&p, 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Error::from_errno(errno, "poll monitor socket");
  if (n == 0) return Error(ETIMEDOUT, "monitor did not answer in time");
  auto m = recv_with_fds(fd_.get(), kMaxMessageBytes);
  if (!m) return std::move(m).error().context("read monitor reply");
  if (m->eof) return Error(ECONNRESET, "monitor closed the connection");
  fds_ = std::move(m->fds);
  usable_ = true;
  return std::move(m->data);
}

namespace {
std::map<std::string, Hold*>& holds() {
  static std::map<std::string, Hold*> m;
  return m;
}
}  // namespace

Result<std::unique_ptr<Hold>> Hold::take(const std::string& socket_path, const std::string& holder) {
  if (holds().count(socket_path)) return Error(EBUSY, "this process already holds `" + socket_path + "`");
  auto c = Client::connect(socket_path);
  if (!c) return std::move(c).error();
  if (auto r = c->call(HoldRequest{holder}, 10 * 1000); !r) return std::move(r).error().context("hold");
  std::unique_ptr<Hold> h(new Hold(socket_path, holder, std::move(*c)));
  holds()[socket_path] = h.get();
  return h;
}

Hold::~Hold() { holds().erase(path_); }

Client* Hold::usable_client() {
  if (client_.usable()) return &client_;
  client_ = Client(UniqueFd());  // closing it ends the old hold
  auto c = Client::connect(path_);
  if (!c || !c->call(HoldRequest{holder_}, 10 * 1000)) return nullptr;
  client_ = std::move(*c);
  return &client_;
}

Client* Hold::client_for(const std::string& socket_path) {
  auto it = holds().find(socket_path);
  return it == holds().end() ? nullptr : it->second->usable_client();
}

}  // namespace cove::monitor
