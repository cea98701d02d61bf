#include "process/setup_channel.hpp"

#include <sys/socket.h>

#include <cstring>
#include <string>

#include "base/fd_passing.hpp"
#include "base/wire_error.hpp"

namespace cove {

namespace {
// A message is its phase (4 bytes, host order: both ends are one machine), followed for
// `error` by the error in its wire form (base/wire_error.hpp).
constexpr size_t kMaxMessage = 64 * 1024;

std::string header(Phase phase) {
  uint32_t p = static_cast<uint32_t>(phase);
  return std::string(reinterpret_cast<const char*>(&p), sizeof p);
}

struct Message {
  Phase phase;
  std::string payload;
  std::vector<UniqueFd> fds;
};

Result<Message> parse(ReceivedMessage m) {
  if (m.data.size() < sizeof(uint32_t)) return Error(EPROTO, "malformed setup message");
  uint32_t p;
  std::memcpy(&p, m.data.data(), sizeof p);
  return Message{static_cast<Phase>(p), m.data.substr(sizeof p), std::move(m.fds)};
}

// The error a peer's `error` message carries (a malformed one is an error of its own).
Error peer_error(const std::string& payload) {
  Error e = decode_error(payload);
  if (e.code() != 0) return e;
  WireError w = to_wire(e);  // an error must fail: code 0 reads as EIO
  w.code = EIO;
  return from_wire(w);
}
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
    case Phase::kAtStartGate: return "at-start-gate";
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
  if (auto r = send_with_fds(fd_.get(), header(phase), fds); !r)
    return std::move(r).error().context(std::string("send `") + phase_name(phase) + "`");
  return {};
}

Result<void> SetupChannel::send_error(const Error& error) {
  return send_with_fds(fd_.get(), header(Phase::kError) + encode_error(error), {});
}

static Result<Message> receive(int fd, const std::string& waiting_for) {
  auto m = recv_with_fds(fd, kMaxMessage);
  if (!m) return std::move(m).error().context("wait for " + waiting_for);
  if (m->eof) return Error(EPIPE, "peer closed the setup channel before " + waiting_for);
  return parse(std::move(*m));
}

Result<std::vector<UniqueFd>> SetupChannel::expect(Phase phase) {
  auto r = receive(fd_.get(), std::string("`") + phase_name(phase) + "`");
  if (!r) return std::move(r).error();
  if (r->phase == Phase::kError) return peer_error(r->payload);
  if (r->phase != phase)
    return Error(EPROTO, std::string("setup protocol: expected `") + phase_name(phase) + "`, got `" +
                             phase_name(r->phase) + "`");
  return std::move(r->fds);
}

Result<void> SetupChannel::wait_exec() {
  auto m = recv_with_fds(fd_.get(), kMaxMessage);
  if (!m) return std::move(m).error().context("wait for exec");
  if (m->eof) return {};
  auto r = parse(std::move(*m));
  if (!r) return std::move(r).error();
  if (r->phase == Phase::kError) return peer_error(r->payload);
  return Error(EPROTO, std::string("setup protocol: expected exec, got `") + phase_name(r->phase) + "`");
}

}  // namespace cove
