// criu::Client speaks CRIU's RPC protocol (`criu swrk FD`): one CriuReq and one CriuResp per
// SOCK_SEQPACKET message, with NOTIFY responses in between that carry a script name (and for
// `orphan-pts-master` a file descriptor by SCM_RIGHTS) and must each be acknowledged before CRIU
// continues. The client checks that the final response type matches the request and maps a
// failure into an Error that carries CRIU's message *and* the last errors of its log (CRIU's
// `cr_errmsg` is its first error, often a benign `Can't setup RLIMIT_NOFILE` on hosts without
// CAP_SYS_RESOURCE).
// Used by criu/checkpoint, criu/restore and criu/features; the generated protobuf types stay
// inside criu/ (rpc.pb.h is generated from CRIU's installed rpc.proto at build time).
#pragma once

#include <sys/types.h>

#include <functional>
#include <utility>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
// autoconf's -DVERSION="..." (there is no config.h) would rewrite the enum value `VERSION`;
// cove's own code uses COVE_VERSION.
#undef VERSION
#include "criu/rpc.pb.h"

namespace cove::criu {

struct Notify {
  std::string script;          // "pre-dump", "post-setup-namespaces", "orphan-pts-master", ...
  int pid = 0;                 // set for setup-namespaces and post-restore
  std::vector<UniqueFd> fds;   // received with the notification (orphan-pts-master)
};

// Returns an error to make CRIU abort (the ack then says notify_success = false).
using NotifyHandler = std::function<Result<void>(Notify&)>;

struct SpawnOptions {
  std::string criu_path;       // empty: find_criu()
  std::vector<int> keep_fds;   // fds the swrk child keeps open (inherit_fd), by their number here
  // Called in the child after fork, before exec (e.g. to join a namespace); must be async-signal-safe.
  std::function<void()> in_child;
};

class Client {
 public:
  // Forks and execs `criu swrk FD`; the child is reaped by `finish()` or the destructor.
  static Result<Client> spawn(const SpawnOptions& opts = {});
  // A client over an existing socket with no child process (unit tests: a fake swrk peer).
  static Client over_socket(UniqueFd sock);

  Client(Client&& o) noexcept : sock_(std::move(o.sock_)), pid_(std::exchange(o.pid_, 0)) {}
  Client& operator=(Client&& o) noexcept {
    if (this != &o) {
      (void)finish();
      sock_ = std::move(o.sock_);
      pid_ = std::exchange(o.pid_, 0);
    }
    return *this;
  }
  ~Client();

  // Sends `req`, handles NOTIFY messages (each acknowledged) and returns the final response.
  // A response with success = false becomes an Error: "criu DUMP: MESSAGE (errno): log: LAST ERRORS".
  // `log_path`, when set, is read for the last errors. `timeout_ms` bounds each wait (-1: none).
  Result<rpc::criu_resp> call(const rpc::criu_req& req, const NotifyHandler& on_notify = {},
                              const std::string& log_path = "", int timeout_ms = -1);

  // Closes the socket and waits for the swrk child; returns its wait status (0 without a child).
  int finish();
  pid_t pid() const { return pid_; }

 private:
  Client() = default;
  Result<void> send(const rpc::criu_req& req);
  Result<void> ack(bool success);

  UniqueFd sock_;
  pid_t pid_ = 0;
};

const char* req_type_name(rpc::criu_req_type t);

// The last `max` lines of a CRIU log that report errors ("Error (", "Warn" lines excluded),
// joined with "; ". Empty when the log cannot be read.
std::string last_log_errors(const std::string& log_path, size_t max = 4);

// The criu binary: $COVE_CRIU, the one found at configure time, then PATH, /usr/local/sbin, /usr/sbin.
std::string find_criu();

}  // namespace cove::criu
