// NetlinkSocket: an rtnetlink socket (libnl-route-3) bound to one network namespace, the handle
// every other network/ call takes. Opening one in another namespace (a container's, a test's)
// setns()es a short-lived thread, connects there and leaves: the socket stays bound to that
// namespace, and the caller's threads never change namespace. Mechanism only.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

struct nl_sock;

namespace cove::network {

class NetlinkSocket {
 public:
  static Result<NetlinkSocket> open();                 // in the caller's network namespace
  static Result<NetlinkSocket> open_in(int netns_fd);  // in the namespace `netns_fd` refers to

  nl_sock* get() const { return sock_.get(); }

 private:
  struct Free {
    void operator()(nl_sock* s) const;
  };
  std::unique_ptr<nl_sock, Free> sock_;
};

// /proc/PID/ns/net, opened O_RDONLY|O_CLOEXEC.
Result<UniqueFd> open_netns_of(pid_t pid);

// A libnl error code as an Error: "<what>: <nl_geterror>", errno-like code where one maps.
Error nl_error(int nl_code, const std::string& what);

}  // namespace cove::network
