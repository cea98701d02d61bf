#include "monitor/command_server.hpp"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "base/fd_passing.hpp"
#include "base/log.hpp"

namespace cove::monitor {

Result<void> CommandServer::listen(const std::string& path) {
  listen_fd_.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listen_fd_) return Error::from_errno(errno, "command socket");
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return Error(ENAMETOOLONG, "command socket path is too long");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ::unlink(path.c_str());
  if (::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
    return Error::from_errno(errno, "bind `" + path + "`");
  if (::chmod(path.c_str(), 0600) < 0) return Error::from_errno(errno, "chmod `" + path + "`");
  if (::listen(listen_fd_.get(), 64) < 0) return Error::from_errno(errno, "listen on `" + path + "`");
  return {};
}

void CommandServer::accept_clients() {
  for (;;) {
    UniqueFd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd) return;
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) continue;
    adopt(std::move(fd));
  }
}

void CommandServer::adopt(UniqueFd fd) {
  int raw = fd.get();
  clients_.emplace(raw, std::move(fd));
}

std::vector<int> CommandServer::client_fds() const {
  std::vector<int> out;
  for (const auto& [fd, _] : clients_) out.push_back(fd);
  return out;
}

void CommandServer::serve(int fd) {
  auto m = recv_with_fds(fd, kMaxMessageBytes);
  if (!m && m.error().code() == EAGAIN) return;
  if (!m && m.error().code() == EMSGSIZE) {
    reply_error(fd, Error(E2BIG, fmt::format("request is larger than the limit of {} bytes", kMaxMessageBytes)));
    return;
  }
  if (!m || m->eof) return drop(fd);
  auto req = decode_request(m->data);
  if (!req) return reply_error(fd, req.error());
  if (auto r = dispatch(fd, *req); !r) reply_error(fd, r.error());
  if (!is_read_only(*req)) served_change_ = true;
}

// A handler's exception is the request's failure, answered as such: the monitor (and the
// container) carry on.
Result<void> CommandServer::dispatch(int fd, const Request& req) {
  if (!busy_.empty() && !is_read_only(req))
    return Error(EBUSY, fmt::format("`{}` is refused: {}", command_name(req), busy_));
  if (holder_fd_ >= 0 && fd != holder_fd_ && !is_read_only(req))
    return Error(EBUSY, fmt::format("the container is held by {}: `{}` is refused until that ends", holder_,
                                    command_name(req)));
  const auto& handler = table_[req.index()];
  if (!handler) return Error(ENOTSUP, "this monitor does not serve the request");
  try {
    return handler(fd, req);
  } catch (const std::exception& e) {
    log::warn("request `{}` failed: {}", command_name(req), e.what());
    return Error(EIO, std::string("request failed: ") + e.what());
  }
}

Result<void> CommandServer::hold(int fd, std::string holder) {
  if (holder_fd_ >= 0 && holder_fd_ != fd) return Error(EBUSY, fmt::format("the container is held by {}", holder_));
  // Shown in other clients' errors, on their terminals: printable ASCII only.
  for (char& c : holder)
    if (c < 0x20 || c > 0x7e) c = '?';
  holder_fd_ = fd;
  holder_ = std::move(holder);
  return {};
}

void CommandServer::drop(int fd) {
  if (!clients_.count(fd)) return;
  if (fd == holder_fd_) holder_fd_ = -1;
  if (on_disconnect_) on_disconnect_(fd);
  clients_.erase(fd);
}

void CommandServer::close() {
  holder_fd_ = -1;
  listen_fd_.reset();
  clients_.clear();
}

void CommandServer::reply(int fd, const std::string& text, const std::vector<int>& fds) {
  (void)send_with_fds(fd, text, fds);  // a client that went away gets no reply
}

void CommandServer::reply_error(int fd, const Error& e) { reply(fd, encode_error_reply(e)); }

}  // namespace cove::monitor
