#include "base/run_program.hpp"

#include <algorithm>
#include <cstring>

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/strings.hpp"
#include "base/unique_fd.hpp"

extern char** environ;

namespace cove {
namespace {

Result<std::pair<UniqueFd, UniqueFd>> make_pipe() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return Error::from_errno(errno, "pipe");
  return std::make_pair(UniqueFd(p[0]), UniqueFd(p[1]));
}

[[noreturn]] void exec_child(const ProgramRequest& req, int in_fd, int out_fd, int err_fd) {
  ::signal(SIGPIPE, SIG_DFL);
  if (req.setns_pidfd >= 0 && ::setns(req.setns_pidfd, req.setns_flags) < 0) {
    std::string msg = std::string("enter namespaces: ") + std::strerror(errno) + "\n";
    (void)!::write(err_fd, msg.data(), msg.size());
    ::_exit(126);
  }
  if (out_fd >= 0) ::dup2(out_fd, 1);
  ::dup2(err_fd, 2);
  int in = in_fd >= 0 ? in_fd : ::open("/dev/null", O_RDONLY);
  if (in >= 0) ::dup2(in, 0);
  std::vector<char*> args, envp;
  for (const auto& a : req.argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  if (req.env) {
    for (const auto& e : *req.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
  }
  if (!req.path.empty()) ::execve(req.path.c_str(), args.data(), req.env ? envp.data() : environ);
  else if (req.env) ::execvpe(args[0], args.data(), envp.data());
  else ::execvp(args[0], args.data());
  ::_exit(127);
}

// Reads both pipes to their ends (either may fill while the other is read), until `deadline_ms`
// (-1: none) has passed; returns false then.
bool drain(UniqueFd& out, UniqueFd& err, ProgramOutput& r, int64_t deadline_ms) {
  char buf[8192];
  while (out || err) {
    int wait = -1;
    if (deadline_ms >= 0) {
      struct timespec ts;
      ::clock_gettime(CLOCK_MONOTONIC, &ts);
      int64_t now = ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
      if (now >= deadline_ms) return false;
      wait = static_cast<int>(deadline_ms - now);
    }
    struct pollfd p[2] = {{out.get(), POLLIN, 0}, {err.get(), POLLIN, 0}};
    if (::poll(p, 2, wait) < 0) {
      if (errno == EINTR) continue;
      return true;
    }
    for (int i = 0; i < 2; ++i) {
      UniqueFd& fd = i == 0 ? out : err;
      if (!fd || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n > 0) (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      else if (n == 0 || errno != EINTR) fd.reset();
    }
  }
  return true;
}

int64_t deadline_after(int timeout_ms) {
  if (timeout_ms < 0) return -1;
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + timeout_ms;
}

// The request's input, written whole before the output is read (hook states are small: far
// below a pipe's 64 KiB); a program that does not read it gets EOF when we close.
void feed(UniqueFd& in, const std::string& input) {
  size_t done = 0;
  while (done < input.size()) {
    ssize_t n = ::write(in.get(), input.data() + done, input.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  in.reset();
}

}  // namespace

Result<ProgramOutput> run_program(const ProgramRequest& req) {
  if (req.argv.empty()) return Error::invalid("run_program: no program");
  const std::string& name = req.path.empty() ? req.argv[0] : req.path;
  auto out = make_pipe();
  if (!out) return std::move(out).error();
  auto err = make_pipe();
  if (!err) return std::move(err).error();
  std::optional<std::pair<UniqueFd, UniqueFd>> in;
  if (!req.input.empty()) {
    auto p = make_pipe();
    if (!p) return std::move(p).error();
    in = std::move(*p);
  }
  // Ignored while we write: a program that exits without reading is no reason to die.
  struct sigaction ign = {}, old_pipe = {};
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ign, &old_pipe);
  pid_t pid = ::fork();
  if (pid < 0) return Error::from_errno(errno, "fork for `" + name + "`");
  if (pid == 0)
    exec_child(req, in ? in->first.get() : -1, req.capture_stdout ? out->second.get() : -1, err->second.get());
  out->second.reset();
  err->second.reset();
  if (in) {
    in->first.reset();
    feed(in->second, req.input);
  }
  ::sigaction(SIGPIPE, &old_pipe, nullptr);
  ProgramOutput r;
  if (!req.capture_stdout) out->first.reset();
  if (!drain(out->first, err->first, r, deadline_after(req.timeout_ms))) {
    ::kill(pid, SIGKILL);
    r.timed_out = true;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return Error::from_errno(errno, "wait for `" + name + "`");
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (r.status == 127 && r.err.empty()) r.err = "not found or not executable";
  return r;
}

Result<ProgramOutput> run_program(const std::vector<std::string>& argv, bool capture_stdout) {
  ProgramRequest req;
  req.argv = argv;
  req.capture_stdout = capture_stdout;
  return run_program(req);
}

Result<std::string> run_checked_program(const std::vector<std::string>& argv, std::initializer_list<int> also_ok) {
  auto r = run_program(argv);
  if (!r) return std::move(r).error();
  if (r->status == 0 || std::find(also_ok.begin(), also_ok.end(), r->status) != also_ok.end()) return std::move(r->out);
  std::string msg = std::string(trim(r->err));
  if (msg.size() > 400) msg = msg.substr(0, 400) + "...";
  return Error(EIO, "`" + argv[0] + "` exited with status " + std::to_string(r->status) + (msg.empty() ? "" : ": " + msg));
}

}  // namespace cove
