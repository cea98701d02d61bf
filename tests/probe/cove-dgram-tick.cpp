// cove-dgram-tick PATH MS: connects one SOCK_DGRAM unix socket to PATH and sends "N\n" on it
// every MS milliseconds, N counting from 1, until killed. Send errors are ignored (the peer may
// be away for a while). The process a container keeps with a datagram socket connected to a
// named socket outside it, as a syslog client keeps one to /dev/log. Static, copied into a
// container by tests/integration/oci_runtime_test.cpp.
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (std::strlen(argv[1]) >= sizeof addr.sun_path) return 2;
  std::strcpy(addr.sun_path, argv[1]);
  int sk = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sk < 0 || ::connect(sk, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    std::perror("cove-dgram-tick: connect");
    return 1;
  }
  long ms = std::atol(argv[2]);
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
  for (long n = 1;; ++n) {
    char line[32];
    int len = std::snprintf(line, sizeof line, "%ld\n", n);
    (void)::send(sk, line, size_t(len), MSG_NOSIGNAL);
    ::nanosleep(&t, nullptr);
  }
}
