// SetupChannel: the parent (monitor) <-> child (future init) protocol during start.
// One SOCK_SEQPACKET socketpair, CLOEXEC on both ends. Each message is its phase, and for
// `error` the Error in its wire form (base/wire_error.hpp); fds travel with it by SCM_RIGHTS. Phases are named and checked:
// expecting `rootfs-ready` and receiving `child-started` is a protocol error naming both.
// A child that fails sends `error` carrying its Error, which becomes the parent's error.
// Exec success shows up as EOF on the parent's end (the child's end is CLOEXEC).
// See doc/design/setup-protocol.md for the sequence.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace cove {

enum class Phase : uint32_t {
  kChildStarted = 1,     // child -> parent: alive in its new namespaces
  kParentConfigured,     // parent -> child: id maps written, cgroups joined (+ rootfs mount fd)
  kRootfsReady,          // child -> parent: proc, sys, cgroup, masks mounted; pivoted
  kMountsLocked,         // parent -> child: (+ the locked copy of its mount namespace, userns only)
  kDevReady,             // child -> parent: /dev and [mount] entries done (+ console and tty masters)
  kGo,                   // parent -> child: the parent is done (limits applied), exec init
  kError,                // either way: the sender's Error, {code, context chain}
  kAtStartGate,          // child -> parent (OCI create): set up, waiting at the start gate
};
const char* phase_name(Phase p);

class SetupChannel {
 public:
  // Both ends of a new channel: {parent end, child end}.
  static Result<std::pair<SetupChannel, SetupChannel>> make_pair();
  explicit SetupChannel(UniqueFd fd) : fd_(std::move(fd)) {}

  Result<void> send(Phase phase, const std::vector<int>& fds = {});
  Result<void> send_error(const Error& error);
  // Waits for `phase`; a peer `error` becomes this Error, EOF becomes "peer closed before `phase`".
  Result<std::vector<UniqueFd>> expect(Phase phase);
  // After `go`: EOF means the child exec'd; an `error` message means it did not.
  Result<void> wait_exec();

  int fd() const { return fd_.get(); }
  void close() { fd_.reset(); }

 private:
  UniqueFd fd_;
};

}  // namespace cove
