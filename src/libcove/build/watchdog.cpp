#include "build/watchdog.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "base/log.hpp"

namespace cove::build {

namespace {

// How long the watchdog waits for the dead build's lock: the kernel releases it when the last
// process holding it is gone (the RUN helper dies with the build: PR_SET_PDEATHSIG).
constexpr int kLockWaitMs = 60000;

[[noreturn]] void watch(LayerCache& cache, const std::string& id, int read_fd) {
  (void)::setsid();
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGTERM, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  // Hold no fd of the build (its scratch lock above all) but the pipe.
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int i = 0; i < 3; ++i)
    if (null >= 0) (void)::dup2(null, i);
  if (read_fd > 3) ::close_range(3, static_cast<unsigned>(read_fd) - 1, 0);
  ::close_range(static_cast<unsigned>(read_fd) + 1, ~0U, 0);
  char c;
  for (;;) {
    ssize_t n = ::read(read_fd, &c, 1);
    if (n == 0 || (n < 0 && errno != EINTR)) break;
  }
  if (auto r = cache.remove_build(id, kLockWaitMs); !r) log::warn("build watchdog: {}", r.error().message());
  ::_exit(0);
}

}  // namespace

Result<UniqueFd> start_watchdog(LayerCache& cache, const std::string& id) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) return Error::from_errno(errno, "pipe for the build watchdog");
  UniqueFd rd(fds[0]), wr(fds[1]);
  pid_t pid = ::fork();
  if (pid < 0) return Error::from_errno(errno, "fork the build watchdog");
  if (pid == 0) watch(cache, id, rd.get());
  // Not reaped by us: it outlives the build by design; init reaps it once we are gone. A
  // double fork would hide it from our children list, but we never wait for unknown children.
  return wr;
}

}  // namespace cove::build
