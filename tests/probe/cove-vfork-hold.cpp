// cove-vfork-hold MS READY [NAME]: (renamed NAME, prctl PR_SET_NAME) vfork()s a child that creates READY, sleeps MS milliseconds and
// exits without exec: the parent sleeps inside vfork() all that time, the state CRIU cannot
// seize. Static, copied into a container by tests/integration/checkpoint_vfork_test.cpp.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) return 2;
  if (argc == 4) ::prctl(PR_SET_NAME, argv[3], 0, 0, 0);
  long ms = std::atol(argv[1]);
  const char* ready = argv[2];
  pid_t child = ::vfork();
  if (child == 0) {
    // Only syscalls here: the child runs on the parent's memory.
    int fd = ::open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) ::close(fd);
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
    ::nanosleep(&t, nullptr);
    ::_exit(0);
  }
  if (child < 0) return 1;
  int status = 0;
  ::waitpid(child, &status, 0);
  return 0;
}
