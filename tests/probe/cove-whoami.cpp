// cove-whoami: prints "ruid=R euid=E". Static, so that a copy planted in a rootfs runs from the
// host too: tests/integration/host_files_test.cpp makes it set-user-ID root inside a container
// and checks that a host user cannot run it (issue 10).
#include <unistd.h>

#include <cstdio>

int main() {
  std::printf("ruid=%u euid=%u\n", static_cast<unsigned>(::getuid()), static_cast<unsigned>(::geteuid()));
  return 0;
}
