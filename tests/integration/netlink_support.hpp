// Network namespaces a test makes for itself, and traffic between them, so that network tests
// never touch the host's own interfaces, routes or addresses. A TestNetns is unshared on a
// short-lived thread and kept only by its fd: when the fd closes and no socket or process holds
// it any more, the kernel removes the namespace with every link in it. Names inside such a
// namespace cannot clash with anyone else's.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/ip_address.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "network/netlink.hpp"

namespace cove::test::nl {

class TestNetns {
 public:
  TestNetns();
  bool ok() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  Result<network::NetlinkSocket> sock() const { return network::NetlinkSocket::open_in(fd()); }
  // Runs `fn` on a thread inside the namespace.
  void run(const std::function<void()>& fn) const;
  // A file of /proc/thread-self/net (route, ipv6_route, tcp, ...) as seen from inside.
  std::string proc_net(const std::string& name) const;

 private:
  UniqueFd fd_;
};

// A TCP socket listening on addr:port inside `ns` (invalid on failure, reason in `why`).
UniqueFd tcp_listen(const TestNetns& ns, const IpAddress& addr, uint16_t port, std::string* why);
// Connects from inside `from` to addr:port, where `listener` accepts, and sends `message`
// across. Returns what the accepting side received ("" on failure, reason in `why`).
std::string tcp_exchange(const TestNetns& from, int listener, const IpAddress& addr, uint16_t port,
                         const std::string& message, std::string* why);

// A process running `argv` inside `ns`, its stdout and stderr collected. The destructor kills
// (SIGKILL) and reaps it unless wait() saw it exit. It also dies with the test (PDEATHSIG).
class NetnsProcess {
 public:
  NetnsProcess(const TestNetns& ns, const std::vector<std::string>& argv);
  ~NetnsProcess();
  NetnsProcess(const NetnsProcess&) = delete;
  NetnsProcess& operator=(const NetnsProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Collects output until the process exits; its exit status, or -1 after `timeout_ms` (then
  // it is killed).
  int wait(int timeout_ms);
  const std::string& output() const { return output_; }
  // Whether the process has a TCP socket listening on `port` (in its namespace's tables).
  bool listens_on(uint16_t port) const;

 private:
  void drain(int timeout_ms);
  pid_t pid_ = -1;
  UniqueFd out_;
  std::string output_;
};

}  // namespace cove::test::nl
