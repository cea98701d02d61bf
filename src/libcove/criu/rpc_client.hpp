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
#include <optional>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "process/child_process.hpp"
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

  Client(Client&& o) noexcept
      : sock_(std::move(o.sock_)), child_(std::move(o.child_)), deadline_ms_(o.deadline_ms_), killed_(o.killed_) {}
  Client& operator=(Client&& o) noexcept {
    if (this != &o) {
      (void)finish();
      sock_ = std::move(o.sock_);
      child_ = std::move(o.child_);
      deadline_ms_ = o.deadline_ms_;
      killed_ = o.killed_;
    }
    return *this;
  }
  ~Client();

  // Sends `req`, handles NOTIFY messages (each acknowledged) and returns the final response.
  // A response with success = false becomes an Error: "criu DUMP: MESSAGE (errno): log: LAST ERRORS".
  // `log_path`, when set, is read for the last errors. `timeout_ms` bounds each wait (-1: none);
  // no wait goes past the deadline (set_deadline). Either ends in ETIMEDOUT.
  Result<rpc::criu_resp> call(const rpc::criu_req& req, const NotifyHandler& on_notify = {},
                              const std::string& log_path = "", int timeout_ms = -1);

  // As call(), but returns nullopt once the NOTIFY `pause_at` has been handled and acknowledged:
  // CRIU goes on with the request (a lazy dump serves its pages after `status-ready`), and
  // resume() later waits for its final response. The socket (fd()) polls readable when it comes.
  Result<std::optional<rpc::criu_resp>> call_until(const rpc::criu_req& req, std::string_view pause_at,
                                                   const NotifyHandler& on_notify = {},
                                                   const std::string& log_path = "", int timeout_ms = -1);
  Result<rpc::criu_resp> resume(rpc::criu_req_type type, const NotifyHandler& on_notify = {},
                                const std::string& log_path = "", int timeout_ms = -1);
  int fd() const { return sock_.get(); }

  // A CLOCK_MONOTONIC time (base/clock monotonic_ms) after which every call fails with ETIMEDOUT
  // (0: none): bounds a whole session, notifications included.
  void set_deadline(int64_t monotonic_ms) { deadline_ms_ = monotonic_ms; }
  // SIGKILL to the swrk child through its pidfd (never a pid that may have been reused); the
  // caller then reaps it with finish(). For a CRIU that does not answer.
  void kill();
  // Closes the socket and waits for the swrk child; returns its wait status (0 without a child).
  // With `grace_ms` >= 0 a child still there after that long is killed first (then
  // `was_killed()`); CRIU exits by itself once the connection is closed, unless it hangs.
  int finish(int grace_ms = -1);
  bool was_killed() const { return killed_; }
  pid_t pid() const { return child_.pid(); }

 private:
  Client() = default;
  Result<void> send(const rpc::criu_req& req);
  Result<void> ack(bool success);
  // How long the next wait may take: `timeout_ms` bounded by the deadline (-1: no bound).
  int wait_ms(int timeout_ms) const;
  // Handles messages until the response to a request of `type`, or until `pause_at` (if set).
  Result<std::optional<rpc::criu_resp>> receive(rpc::criu_req_type type, std::string_view pause_at,
                                                const NotifyHandler& on_notify, const std::string& log_path,
                                                int timeout_ms);

  UniqueFd sock_;
  process::ChildProcess child_;  // criu swrk (none for over_socket)
  int64_t deadline_ms_ = 0;
  bool killed_ = false;
};

const char* req_type_name(rpc::criu_req_type t);

// CRIU's "Can't setup RLIMIT_NOFILE" error: logged (and reported as CRIU's first error) by
// every run on a host without CAP_SYS_RESOURCE, and harmless; never the cause of a failure.
bool is_benign_criu_error(std::string_view line);

// The last `max` lines of a CRIU log that report errors ("Error (", "Warn" lines excluded),
// joined with "; ". Empty when the log cannot be read.
std::string last_log_errors(const std::string& log_path, size_t max = 4);

// The criu binary: $COVE_CRIU, the one found at configure time, then PATH, /usr/local/sbin, /usr/sbin.
std::string find_criu();

}  // namespace cove::criu
