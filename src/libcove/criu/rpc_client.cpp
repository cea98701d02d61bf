#include "criu/rpc_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "base/clock.hpp"
#include "base/fd_passing.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/syscalls.hpp"

#ifndef COVE_CRIU_PATH
#define COVE_CRIU_PATH ""
#endif

namespace cove::criu {

namespace {
// CRIU's largest message (a response with a version or an error text) is far below this.
constexpr size_t kMaxMessage = 64 * 1024;
}  // namespace

const char* req_type_name(rpc::criu_req_type t) {
  switch (t) {
    case rpc::EMPTY: return "EMPTY";
    case rpc::DUMP: return "DUMP";
    case rpc::RESTORE: return "RESTORE";
    case rpc::CHECK: return "CHECK";
    case rpc::PRE_DUMP: return "PRE_DUMP";
    case rpc::PAGE_SERVER: return "PAGE_SERVER";
    case rpc::NOTIFY: return "NOTIFY";
    case rpc::CPUINFO_DUMP: return "CPUINFO_DUMP";
    case rpc::CPUINFO_CHECK: return "CPUINFO_CHECK";
    case rpc::FEATURE_CHECK: return "FEATURE_CHECK";
    case rpc::VERSION: return "VERSION";
    case rpc::WAIT_PID: return "WAIT_PID";
    case rpc::PAGE_SERVER_CHLD: return "PAGE_SERVER_CHLD";
    case rpc::SINGLE_PRE_DUMP: return "SINGLE_PRE_DUMP";
  }
  return "UNKNOWN";
}

std::string find_criu() {
  if (const char* env = std::getenv("COVE_CRIU"); env && *env) return env;
  std::vector<std::string> candidates;
  if (*COVE_CRIU_PATH) candidates.emplace_back(COVE_CRIU_PATH);
  if (const char* path = std::getenv("PATH")) {
    std::istringstream in(path);
    for (std::string dir; std::getline(in, dir, ':');)
      if (!dir.empty()) candidates.push_back(dir + "/criu");
  }
  candidates.insert(candidates.end(), {"/usr/local/sbin/criu", "/usr/sbin/criu"});
  for (const auto& c : candidates)
    if (::access(c.c_str(), X_OK) == 0) return c;
  return "criu";
}

bool is_benign_criu_error(std::string_view line) { return line.find("Can't setup RLIMIT_NOFILE") != std::string_view::npos; }

std::string last_log_errors(const std::string& log_path, size_t max) {
  if (log_path.empty()) return "";
  auto text = read_file(log_path);
  if (!text) return "";
  std::vector<std::string> errors;
  std::istringstream in(*text);
  for (std::string line; std::getline(in, line);) {
    // "(00.012345) Error (criu/mount.c:123): ..." or "(00.01) 1: Error (...)"
    if (line.find("Error (") == std::string::npos && line.find("BUG at") == std::string::npos) continue;
    if (is_benign_criu_error(line)) continue;
    auto paren = line.find(") ");
    if (line.rfind("(", 0) == 0 && paren != std::string::npos) line = line.substr(paren + 2);
    errors.push_back(line);
  }
  if (errors.size() > max) errors.erase(errors.begin(), errors.end() - static_cast<long>(max));
  std::string out;
  for (const auto& e : errors) out += (out.empty() ? "" : "; ") + e;
  return out;
}

Result<Client> Client::spawn(const SpawnOptions& opts) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return Error::from_errno(errno, "socketpair for criu swrk");
  UniqueFd ours(sv[0]), theirs(sv[1]);
  std::string criu = opts.criu_path.empty() ? find_criu() : opts.criu_path;
  std::string fd_arg = std::to_string(theirs.get());
  auto child = process::spawn([&]() -> int {
    // The caller (the monitor) blocks signals for its signalfd and ignores SIGPIPE: CRIU must
    // start with neither, or it cannot wait for its helpers.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s = 1; s < NSIG; ++s)
      if (s != SIGKILL && s != SIGSTOP) ::signal(s, SIG_DFL);
    // CRIU logs to its log file; what it prints besides (a peer closing a kept-open session)
    // is not the caller's output.
    if (int null = ::open("/dev/null", O_RDWR | O_CLOEXEC); null >= 0) {
      ::dup2(null, 1);
      ::dup2(null, 2);
    }
    // Without its socket or an inherited fd CRIU cannot do the job: fail as a failed exec would.
    if (::fcntl(theirs.get(), F_SETFD, 0) < 0) return 127;
    for (int fd : opts.keep_fds)
      if (::fcntl(fd, F_SETFD, 0) < 0) return 127;
    if (opts.in_child) opts.in_child();
    // GnuTLS (linked into CRIU for its TLS page server) initialises itself on every exec
    // unless told not to: 3-10 ms of each CRIU run here. cove asks CRIU for no TLS, and cove's
    // CRIU (patch 0007) initialises GnuTLS itself when TLS is asked for. Both names: GnuTLS
    // 3.7 (Debian 12) reads the old one.
    ::setenv("GNUTLS_NO_EXPLICIT_INIT", "1", 1);
    ::setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 1);
    const char* argv[] = {criu.c_str(), "swrk", fd_arg.c_str(), nullptr};
    ::execv(argv[0], const_cast<char* const*>(argv));
    return 127;
  });
  if (!child) return std::move(child).error().context("start criu swrk");
  Client c;
  c.sock_ = std::move(ours);
  c.child_ = std::move(*child);
  return c;
}

Client Client::over_socket(UniqueFd sock) {
  Client c;
  c.sock_ = std::move(sock);
  return c;
}

Client::~Client() { (void)finish(); }

void Client::kill() {
  if (!child_) return;
  killed_ = true;
  // ESRCH: it has exited meanwhile (a zombie until finish() reaps it); nothing else can fail.
  if (auto r = child_.signal(SIGKILL); !r && r.error().code() != ESRCH)
    log::warn("kill criu swrk: {}", r.error().message());
}

int Client::finish(int grace_ms) {
  sock_.reset();
  if (!child_) return 0;
  if (grace_ms >= 0 && child_.pidfd() >= 0) {
    auto exited = child_.wait_exited(grace_ms);
    if (!exited || !*exited) kill();
  }
  auto status = child_.wait();
  if (!status) {
    log::warn("criu swrk: {}", status.error().message());
    return 0;
  }
  return *status;
}

int Client::wait_ms(int timeout_ms) const {
  if (deadline_ms_ <= 0) return timeout_ms;
  int64_t left = std::max<int64_t>(0, deadline_ms_ - monotonic_ms());
  return timeout_ms < 0 ? int(std::min<int64_t>(left, INT32_MAX)) : int(std::min<int64_t>(left, timeout_ms));
}

Result<void> Client::send(const rpc::criu_req& req) {
  std::string buf;
  if (!req.IsInitialized() || !req.SerializePartialToString(&buf))
    return Error(EINVAL, "encode criu request (a required field is missing)");
  if (::send(sock_.get(), buf.data(), buf.size(), MSG_NOSIGNAL) < 0)
    return Error::from_errno(errno, std::string("send criu ") + req_type_name(req.type()) + " request");
  return {};
}

Result<void> Client::ack(bool success) {
  rpc::criu_req req;
  req.set_type(rpc::NOTIFY);
  req.set_notify_success(success);
  return send(req);
}

Result<rpc::criu_resp> Client::call(const rpc::criu_req& req, const NotifyHandler& on_notify,
                                    const std::string& log_path, int timeout_ms) {
  if (!sock_) return Error(EBADF, std::string("criu ") + req_type_name(req.type()) + ": no connection to criu");
  COVE_TRY(send(req));
  return resume(req.type(), on_notify, log_path, timeout_ms);
}

Result<std::optional<rpc::criu_resp>> Client::call_until(const rpc::criu_req& req, std::string_view pause_at,
                                                         const NotifyHandler& on_notify, const std::string& log_path,
                                                         int timeout_ms) {
  if (!sock_) return Error(EBADF, std::string("criu ") + req_type_name(req.type()) + ": no connection to criu");
  COVE_TRY(send(req));
  return receive(req.type(), pause_at, on_notify, log_path, timeout_ms);
}

Result<rpc::criu_resp> Client::resume(rpc::criu_req_type type, const NotifyHandler& on_notify,
                                      const std::string& log_path, int timeout_ms) {
  auto r = receive(type, "", on_notify, log_path, timeout_ms);
  if (!r) return std::move(r).error();
  return std::move(**r);
}

Result<std::optional<rpc::criu_resp>> Client::receive(rpc::criu_req_type type, std::string_view pause_at,
                                                      const NotifyHandler& on_notify, const std::string& log_path,
                                                      int timeout_ms) {
  const std::string what = std::string("criu ") + req_type_name(type);
  auto with_log = [&](Error e) {
    if (auto tail = last_log_errors(log_path); !tail.empty()) e = Error(e.code(), e.message() + "; log: " + tail);
    if (!log_path.empty()) e = Error(e.code(), e.message() + " (see `" + log_path + "`)");
    return e;
  };
  if (!sock_) return Error(EBADF, what + ": no connection to criu");
  std::optional<Error> notify_error;
  for (;;) {
    if (int wait = wait_ms(timeout_ms); wait >= 0) {
      struct pollfd p = {sock_.get(), POLLIN, 0};
      int n;
      while ((n = ::poll(&p, 1, wait)) < 0 && errno == EINTR) {
      }
      if (n == 0) return with_log(Error(ETIMEDOUT, what + ": no answer from criu"));
    }
    auto msg = recv_with_fds(sock_.get(), kMaxMessage);
    if (!msg) return with_log(std::move(msg).error().context(what + ": receive"));
    if (msg->eof) {
      if (notify_error) return with_log(std::move(*notify_error));
      return with_log(Error(EPIPE, what + ": criu closed the connection without an answer"));
    }
    rpc::criu_resp resp;
    if (!resp.ParsePartialFromString(msg->data) || !resp.IsInitialized()) return with_log(Error(EPROTO, what + ": malformed response from criu"));
    if (resp.type() == rpc::NOTIFY) {
      Notify n;
      n.script = resp.has_notify() ? resp.notify().script() : "";
      n.pid = resp.has_notify() ? resp.notify().pid() : 0;
      n.fds = std::move(msg->fds);
      Result<void> handled;
      if (on_notify) handled = on_notify(n);
      if (!handled && !notify_error) notify_error = std::move(handled).error().context("notify `" + n.script + "`");
      COVE_TRY(ack(handled.has_value()));
      if (handled && !pause_at.empty() && n.script == pause_at) return std::optional<rpc::criu_resp>();
      continue;
    }
    if (resp.type() != type)
      return with_log(Error(EPROTO, what + ": criu answered " + req_type_name(resp.type())));
    if (!resp.success()) {
      // A failed notify handler is the real cause of the abort that follows it.
      if (notify_error) return with_log(std::move(*notify_error).context(what));
      // CRIU reports its first error; on a host without CAP_SYS_RESOURCE that is always the
      // benign RLIMIT_NOFILE one (with its EPERM), never the cause: then the log tail says it.
      bool benign = resp.has_cr_errmsg() && is_benign_criu_error(resp.cr_errmsg());
      bool has_errno = !benign && resp.has_cr_errno() && resp.cr_errno() > 0;
      int code = has_errno ? resp.cr_errno() : EIO;
      std::string msg_text = resp.has_cr_errmsg() && !resp.cr_errmsg().empty() && !benign ? resp.cr_errmsg() : "failed";
      while (!msg_text.empty() && (msg_text.back() == '\n' || msg_text.back() == ' ')) msg_text.pop_back();
      std::string text = what + ": " + msg_text;
      if (has_errno) text += " (" + std::string(std::strerror(resp.cr_errno())) + ")";
      return with_log(Error(code, text));
    }
    return std::optional<rpc::criu_resp>(std::move(resp));
  }
}

}  // namespace cove::criu
