// Sending and receiving a message with file descriptors (SCM_RIGHTS) on a unix socket.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace cove {

Result<void> send_with_fds(int sock, const std::string& data, const std::vector<int>& fds);
struct ReceivedMessage {
  std::string data;  // empty with eof=true when the peer closed
  std::vector<UniqueFd> fds;
  bool eof = false;
};
// Receives one datagram (SOCK_SEQPACKET/DGRAM) of up to `max` bytes with up to 128 fds.
Result<ReceivedMessage> recv_with_fds(int sock, size_t max = 65536);

}  // namespace cove
