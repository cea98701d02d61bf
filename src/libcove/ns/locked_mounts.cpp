#include "ns/locked_mounts.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "process/child_process.hpp"

namespace cove::ns {

namespace {

// What the helper reports: 0 and the step it reached, or the errno of the failed step.
struct Report {
  int err = 0;
  int step = 0;
};

const char* const kSteps[] = {
    "make the helper non-dumpable",
    "enter the container's mount namespace",
    "copy it into a namespace owned by the host user namespace",
    "enter the container's user namespace",
    "copy it into a namespace owned by the container's user namespace",
};

[[noreturn]] void helper_main(int pidfd, int sock) {
  Report rep;
  auto step = [&](int n, bool ok) {
    if (ok) return;
    rep = {errno, n};
    (void)!::write(sock, &rep, sizeof rep);
    ::_exit(1);
  };
  // Like every process of ours that enters a container's namespaces: nothing there may ptrace
  // it (it holds the monitor's fds). The parent's open of our /proc/PID/ns/mnt is root's.
  step(0, ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0);
  // Wait for copy(): the child is still building its tree (the parent's end closed: give up).
  char go;
  ssize_t n;
  do n = ::read(sock, &go, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1) ::_exit(1);
  step(1, ::setns(pidfd, CLONE_NEWNS) == 0);
  step(2, ::unshare(CLONE_NEWNS) == 0);
  step(3, ::setns(pidfd, CLONE_NEWUSER) == 0);
  step(4, ::unshare(CLONE_NEWNS) == 0);
  rep = {0, 5};
  (void)!::write(sock, &rep, sizeof rep);
  // Stay until the parent has opened our namespace (it closes its end then).
  char c;
  while (::read(sock, &c, 1) < 0 && errno == EINTR) {
  }
  ::_exit(0);
}

}  // namespace

Result<MountLocker> MountLocker::start(int pidfd) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return Error::from_errno(errno, "socketpair for the mount-locking helper");
  UniqueFd mine(sv[0]), theirs(sv[1]);
  auto helper = process::spawn([&]() -> int {
    mine.reset();
    helper_main(pidfd, theirs.get());
  });
  if (!helper) return std::move(helper).error().context("start the mount-locking helper");
  return MountLocker(std::move(mine), std::move(*helper));
}

Result<UniqueFd> MountLocker::copy() {
  if (!sock_) return Error(EINVAL, "the mount-locking helper was asked twice");
  UniqueFd sock = std::move(sock_);  // closed on return: the helper exits then
  // MSG_NOSIGNAL: a helper that failed already is gone, and its report waits to be read.
  if (::send(sock.get(), "g", 1, MSG_NOSIGNAL) != 1 && errno != EPIPE)
    return Error::from_errno(errno, "start the mount-locking helper's copy");
  Report rep;
  ssize_t n;
  do n = ::read(sock.get(), &rep, sizeof rep);
  while (n < 0 && errno == EINTR);
  if (n != sizeof rep) {
    int err = n < 0 ? errno : EPROTO;
    return Error(err, "mount-locking helper ended without a report");
  }
  if (rep.err != 0) {
    return Error::from_errno(rep.err, std::string("lock the container's mounts: ") + kSteps[rep.step]);
  }
  std::string path = "/proc/" + std::to_string(helper_.pid()) + "/ns/mnt";
  UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  int err = errno;
  if (!ns) return Error::from_errno(err, "open `" + path + "`");
  return ns;
}

}  // namespace cove::ns
