#include "base/run_program.hpp"

#include <algorithm>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/strings.hpp"
#include "base/unique_fd.hpp"

namespace cove {
namespace {

Result<std::pair<UniqueFd, UniqueFd>> make_pipe() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return Error::from_errno(errno, "pipe");
  return std::make_pair(UniqueFd(p[0]), UniqueFd(p[1]));
}

[[noreturn]] void exec_child(const std::vector<std::string>& argv, int out_fd, int err_fd) {
  ::signal(SIGPIPE, SIG_DFL);
  if (out_fd >= 0) ::dup2(out_fd, 1);
  ::dup2(err_fd, 2);
  int null = ::open("/dev/null", O_RDONLY);
  if (null >= 0) ::dup2(null, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  ::_exit(127);
}

// Reads both pipes to their ends (either may fill while the other is read).
void drain(UniqueFd& out, UniqueFd& err, ProgramOutput& r) {
  char buf[8192];
  while (out || err) {
    struct pollfd p[2] = {{out.get(), POLLIN, 0}, {err.get(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < 2; ++i) {
      UniqueFd& fd = i == 0 ? out : err;
      if (!fd || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n > 0) (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      else if (n == 0 || errno != EINTR) fd.reset();
    }
  }
}

}  // namespace

Result<ProgramOutput> run_program(const std::vector<std::string>& argv, bool capture_stdout) {
  if (argv.empty()) return Error::invalid("run_program: no program");
  auto out = make_pipe();
  if (!out) return std::move(out).error();
  auto err = make_pipe();
  if (!err) return std::move(err).error();
  pid_t pid = ::fork();
  if (pid < 0) return Error::from_errno(errno, "fork for `" + argv[0] + "`");
  if (pid == 0) exec_child(argv, capture_stdout ? out->second.get() : -1, err->second.get());
  out->second.reset();
  err->second.reset();
  ProgramOutput r;
  if (!capture_stdout) out->first.reset();
  drain(out->first, err->first, r);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return Error::from_errno(errno, "wait for `" + argv[0] + "`");
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (r.status == 127 && r.err.empty()) r.err = "not found or not executable";
  return r;
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
