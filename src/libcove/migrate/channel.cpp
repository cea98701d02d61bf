#include "migrate/channel.hpp"

#include <poll.h>
#include <unistd.h>

#include "base/clock.hpp"

namespace cove::migrate {

Result<void> Channel::send(const Message& m) {
  std::string line = encode(m);
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(out_.get(), line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno(errno, fmt::format("send `{}`", message_name(m)));
    done += static_cast<size_t>(n);
  }
  return {};
}

Result<Message> Channel::receive(int timeout_ms) {
  int64_t deadline = timeout_ms < 0 ? -1 : monotonic_ms() + timeout_ms;
  for (;;) {
    if (auto nl = buf_.find('\n'); nl != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return decode(line);
    }
    if (buf_.size() > kMaxLineBytes) return Error(E2BIG, "message without an end of line");
    int left = deadline < 0 ? -1 : static_cast<int>(std::max<int64_t>(0, deadline - monotonic_ms()));
    struct pollfd p = {in_.get(), POLLIN, 0};
    int r = ::poll(&p, 1, left);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Error::from_errno(errno, "wait for a message");
    if (r == 0) return Error(ETIMEDOUT, fmt::format("no message within {} ms", timeout_ms));
    char chunk[4096];
    ssize_t n = ::read(in_.get(), chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno(errno, "read a message");
    if (n == 0) return Error(ECONNRESET, "the connection ended");
    buf_.append(chunk, static_cast<size_t>(n));
  }
}

}  // namespace cove::migrate
