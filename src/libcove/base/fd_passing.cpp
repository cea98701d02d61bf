#include "base/fd_passing.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace cove {

// Enough for the console plus the 64 ttys a config may ask for (the kernel allows 253).
constexpr size_t kMaxFds = 128;

Result<void> send_with_fds(int sock, const std::string& data, const std::vector<int>& fds) {
  if (fds.size() > kMaxFds) return Error(EINVAL, "too many fds to send");
  struct iovec iov = {const_cast<char*>(data.data()), data.size()};
  char dummy = 0;
  if (data.empty()) iov = {&dummy, 1};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kMaxFds)];
  if (!fds.empty()) {
    std::memset(cbuf, 0, sizeof cbuf);
    msg.msg_control = cbuf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    ssize_t n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n >= 0) return {};
    if (errno != EINTR) return Error::from_errno(errno, "sendmsg");
  }
}

Result<ReceivedMessage> recv_with_fds(int sock, size_t max) {
  ReceivedMessage out;
  // The record's size first (MSG_TRUNC reports it whole), so that the buffer fits it: a
  // buffer of `max` per message is `max` zeroed bytes, which a monitor's heap would keep dirty.
  ssize_t size;
  do {
    size = ::recv(sock, nullptr, 0, MSG_PEEK | MSG_TRUNC);
  } while (size < 0 && errno == EINTR);
  if (size < 0) return Error::from_errno(errno, "recvmsg");
  std::string buf(std::clamp<size_t>(static_cast<size_t>(size), 1, max), '\0');
  struct iovec iov = {buf.data(), buf.size()};
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kMaxFds)];
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Error::from_errno(errno, "recvmsg");
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        out.fds.emplace_back(fd);
      }
    }
  }
  if (n == 0) {
    out.eof = true;
    return out;
  }
  if (msg.msg_flags & MSG_TRUNC) return Error(EMSGSIZE, "message truncated");
  buf.resize(static_cast<size_t>(n));
  out.data = std::move(buf);
  return out;
}

}  // namespace cove
