#include "monitor/protocol.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

#include "base/fd_passing.hpp"
#include "base/wire_error.hpp"

namespace cove::monitor {

Result<UniqueFd> connect_socket(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd) return Error::from_errno(errno, "socket");
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return Error(ENAMETOOLONG, "socket path `" + path + "` is too long");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
    return Error::from_errno(errno, "connect to monitor `" + path + "`");
  return fd;
}

Result<void> send_json(int fd, const Json& body, const std::vector<int>& fds) {
  return send_with_fds(fd, body.dump(), fds);
}

Json ok_reply() { return Json{{"ok", true}}; }
Json error_reply(const Error& e) { return Json{{"ok", false}, {"error", error_to_json(e)}}; }

Result<Reply> call(int fd, const Json& request, int timeout_ms) {
  if (auto r = send_json(fd, request); !r) return std::move(r).error().context("send request to monitor");
  struct pollfd p = {fd, POLLIN, 0};
  int n;
  do {
    n = ::poll(&p, 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Error::from_errno(errno, "poll monitor socket");
  if (n == 0) return Error(ETIMEDOUT, "monitor did not answer in time");
  auto m = recv_with_fds(fd);
  if (!m) return std::move(m).error().context("read monitor reply");
  if (m->eof) return Error(ECONNRESET, "monitor closed the connection");
  auto body = Json::parse(m->data, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return Error(EPROTO, "malformed reply from monitor");
  auto ok = body.find("ok");
  if (ok == body.end() || !ok->is_boolean()) return Error(EPROTO, "malformed reply from monitor");
  if (!ok->get<bool>()) return error_from_json(body.value("error", Json()));
  return Reply{std::move(body), std::move(m->fds)};
}

Result<Reply> request(const std::string& socket_path, const Json& req, int timeout_ms, UniqueFd* keep) {
  auto fd = connect_socket(socket_path);
  if (!fd) return std::move(fd).error();
  auto r = call(fd->get(), req, timeout_ms);
  if (keep) *keep = std::move(*fd);
  return r;
}

}  // namespace cove::monitor
