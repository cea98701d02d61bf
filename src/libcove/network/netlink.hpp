// NetlinkSocket: an rtnetlink socket (libnl-route-3) bound to one network namespace, the handle
// every other network/ call takes. Opening one in another namespace (a container's, a test's)
// setns()es a short-lived thread, connects there and leaves: the socket stays bound to that
// namespace, and the caller's threads never change namespace. Mechanism only.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

struct nl_sock;
struct nlmsgerr;
struct sockaddr_nl;

namespace cove::network {

class NetlinkSocket {
 public:
  static Result<NetlinkSocket> open();                 // in the caller's network namespace
  static Result<NetlinkSocket> open_in(int netns_fd);  // in the namespace `netns_fd` refers to

  nl_sock* get() const { return sock_.get(); }

  // `nl_code` (a libnl return value) as an Error, with the errno and the extended-ack message
  // the kernel sent for it when there was one: "<what>: <strerror> (<kernel message>)". libnl
  // folds several errnos into one code (ENOENT and ESRCH) and drops the kernel's message.
  // The kernel's report is used once, and only when it matches `nl_code`.
  Error error(int nl_code, const std::string& what) const;

 private:
  struct Free {
    void operator()(nl_sock* s) const;
  };
  // What the kernel said about the last failed request (heap: libnl keeps a pointer to it).
  struct KernelError {
    int code = 0;
    std::string message;
  };
  static int record_error(struct sockaddr_nl*, struct nlmsgerr* err, void* arg);
  Result<void> connect();

  std::unique_ptr<nl_sock, Free> sock_;
  std::unique_ptr<KernelError> last_;
};

// Runs `fn` on a short-lived thread that setns()es into `netns_fd` first (-1: on the calling
// thread, in the caller's namespace), for what is bound to a namespace when it is opened or
// created: netlink and ordinary sockets, /proc/sys/net files. The caller's threads never change
// namespace.
Result<void> run_in_netns(int netns_fd, const std::function<Result<void>()>& fn);

// /proc/PID/ns/net, opened O_RDONLY|O_CLOEXEC.
Result<UniqueFd> open_netns_of(pid_t pid);

// A libnl error code as an Error: "<what>: <nl_geterror>", errno-like code where one maps.
Error nl_error(int nl_code, const std::string& what);

}  // namespace cove::network
