#include "process/setup_channel.hpp"

#include <sys/socket.h>

#include <cstring>
#include <string>

#include "base/fd_passing.hpp"

namespace cove {

namespace {
struct Wire {
  uint32_t phase;
  int32_t code;
  char text[2040];
};
static_assert(sizeof(Wire) == 2048);
}  // namespace

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::kChildStarted: return "child-started";
    case Phase::kParentConfigured: return "parent-configured";
    case Phase::kRootfsReady: return "rootfs-ready";
    case Phase::kMountsLocked: return "mounts-locked";
    case Phase::kDevReady: return "dev-ready";
    case Phase::kGo: return "go";
    case Phase::kError: return "error";
  }
  return "unknown";
}

Result<std::pair<SetupChannel, SetupChannel>> SetupChannel::make_pair() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return Error::from_errno(errno, "socketpair for setup channel");
  return std::make_pair(SetupChannel(UniqueFd(sv[0])), SetupChannel(UniqueFd(sv[1])));
}

Result<void> SetupChannel::send(Phase phase, const std::vector<int>& fds) {
  Wire w = {};
  w.phase = static_cast<uint32_t>(phase);
  if (auto r = send_with_fds(fd_.get(), std::string(reinterpret_cast<char*>(&w), sizeof w), fds); !r)
    return std::move(r).error().context(std::string("send `") + phase_name(phase) + "`");
  return {};
}

Result<void> SetupChannel::send_error(const Error& error) {
  Wire w = {};
  w.phase = static_cast<uint32_t>(Phase::kError);
  w.code = error.code();
  std::strncpy(w.text, error.message().c_str(), sizeof w.text - 1);
  return send_with_fds(fd_.get(), std::string(reinterpret_cast<char*>(&w), sizeof w), {});
}

static Result<std::pair<Wire, std::vector<UniqueFd>>> receive(int fd, Phase wanted) {
  auto m = recv_with_fds(fd, sizeof(Wire));
  if (!m) return std::move(m).error().context(std::string("wait for `") + phase_name(wanted) + "`");
  if (m->eof) return Error(EPIPE, std::string("peer closed the setup channel before `") + phase_name(wanted) + "`");
  if (m->data.size() != sizeof(Wire)) return Error(EPROTO, "malformed setup message");
  Wire w;
  std::memcpy(&w, m->data.data(), sizeof w);
  w.text[sizeof w.text - 1] = '\0';
  return std::make_pair(w, std::move(m->fds));
}

Result<std::vector<UniqueFd>> SetupChannel::expect(Phase phase) {
  auto r = receive(fd_.get(), phase);
  if (!r) return std::move(r).error();
  auto& [w, fds] = *r;
  auto got = static_cast<Phase>(w.phase);
  if (got == Phase::kError) return Error(w.code ? w.code : EIO, w.text);
  if (got != phase)
    return Error(EPROTO, std::string("setup protocol: expected `") + phase_name(phase) + "`, got `" +
                             phase_name(got) + "`");
  return std::move(fds);
}

Result<void> SetupChannel::wait_exec() {
  auto m = recv_with_fds(fd_.get(), sizeof(Wire));
  if (!m) return std::move(m).error().context("wait for exec");
  if (m->eof) return {};
  if (m->data.size() != sizeof(Wire)) return Error(EPROTO, "malformed setup message");
  Wire w;
  std::memcpy(&w, m->data.data(), sizeof w);
  w.text[sizeof w.text - 1] = '\0';
  if (static_cast<Phase>(w.phase) == Phase::kError) return Error(w.code ? w.code : EIO, w.text);
  return Error(EPROTO, std::string("setup protocol: expected exec, got `") + phase_name(static_cast<Phase>(w.phase)) +
                           "`");
}

}  // namespace cove
