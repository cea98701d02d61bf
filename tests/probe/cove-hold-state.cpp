// cove-hold-state KIND MS READY [PROG ARGV0 [ARG...]]: holds, for MS milliseconds (0: for good),
// a state a dump must not meet, then leaves it and sleeps. Writes "PID CHILD FD" to READY once
// the state is there. KIND:
//   opath      what systemd >= 255 does with systemd-executor: opens PROG with O_PATH and forks a
//              child that runs it (as ARGV0 ARG...) through that fd (execveat AT_EMPTY_PATH, as
//              fexecve does). The child's exe is a file its parent holds with O_PATH, which a
//              stock CRIU dumps as one file entry (restore: PR_SET_MM_MAP EBADF).
//   fscontext  a mount being set up: an fsopen("tmpfs") fd (CRIU: "Can't dump file").
//   creds      a datagram queued on a unix socket whose receiver set SO_PASSCRED, as on
//              systemd's notify socket (CRIU: "Control messages in queue, not supported").
// Static, copied into a container by tests/integration/checkpoint_passing_state_test.cpp.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace {

// The O_PATH fd; its child's pid in `child`.
int hold_opath(char** prog_argv, pid_t& child) {
  int fd = ::open(prog_argv[0], O_PATH | O_CLOEXEC);
  int sync[2];
  if (fd < 0 || ::pipe2(sync, O_CLOEXEC) < 0) return -1;
  child = ::fork();
  if (child < 0) return -1;
  if (child == 0) {
    ::close(sync[0]);
    ::syscall(SYS_execveat, fd, "", prog_argv + 1, environ, AT_EMPTY_PATH);
    ::_exit(127);
  }
  ::close(sync[1]);
  char c;
  while (::read(sync[0], &c, 1) > 0) {
  }  // EOF: the child's exec closed its end
  return fd;
}

// The receiving end, with one datagram queued.
int hold_creds() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0) return -1;
  int on = 1;
  if (::setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0) return -1;
  if (::send(sv[1], "READY=1", 7, 0) != 7) return -1;
  return sv[0];
}

// Ends the state: the fd closed, after reading what is queued.
void leave(const char* kind, int fd) {
  char buf[64];
  if (std::strcmp(kind, "creds") == 0)
    while (::recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0) {
    }
  ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) return 2;
  const char* kind = argv[1];
  long ms = std::atol(argv[2]);
  pid_t child = 0;
  int fd = -1;
  if (std::strcmp(kind, "opath") == 0 && argc >= 6)
    fd = hold_opath(argv + 4, child);
  else if (std::strcmp(kind, "fscontext") == 0)
    fd = int(::syscall(SYS_fsopen, "tmpfs", 1 /* FSOPEN_CLOEXEC */));
  else if (std::strcmp(kind, "creds") == 0)
    fd = hold_creds();
  else
    return 2;
  if (fd < 0) return 1;
  char line[64];
  int n = std::snprintf(line, sizeof line, "%d %d %d\n", int(::getpid()), int(child), fd);
  int ready = ::open(argv[3], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (ready < 0 || ::write(ready, line, size_t(n)) != n) return 1;
  ::close(ready);
  if (ms > 0) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
    ::nanosleep(&t, nullptr);
    leave(kind, fd);
  }
  for (;;) ::pause();
}
