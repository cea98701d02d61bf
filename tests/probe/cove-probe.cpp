// cove-probe: the escape battery's in-container helper. Built static (-all-static) so it runs in
// any rootfs; the integration tests copy it into a container and run one attempt per cove-attach:
//   cove-probe ATTEMPT [ARG...]
// It prints one line: `ok` (the attempt worked), `errno N` or `errno N at STEP`, or a fact
// (`masked`, `reachable`, ...). Every attempt is written so that it cannot hurt the host even
// if the sandbox were broken: no writes to kernel knobs (opening for writing is the test), no
// module data, invalid kexec arguments, swapoff of a non-swap path. It refuses to run at all
// outside a container (initial PID or UTS namespace), before any attempt.
#include <dirent.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <sched.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

// The kernel's fixed inode numbers of the initial namespaces (include/linux/proc_ns.h).
constexpr ino_t kInitPidNs = 0xEFFFFFFCU;
constexpr ino_t kInitUtsNs = 0xEFFFFFFEU;

bool in_initial_ns(const char* file, ino_t init_ino) {
  struct stat st;
  if (::stat(file, &st) < 0) return true;  // cannot tell: assume the worst
  return st.st_ino == init_ino;
}

int report_errno(const char* step = nullptr) {
  int e = errno;
  if (step) std::printf("errno %d at %s\n", e, step);
  else std::printf("errno %d\n", e);
  return 0;
}
int report_ok() {
  std::printf("ok\n");
  return 0;
}
// -1 + errno -> "errno N"; otherwise "ok".
int result(long rc, const char* step = nullptr) { return rc < 0 ? report_errno(step) : report_ok(); }

std::string tmpdir(const char* name) {
  std::string d = std::string("/tmp/") + name;
  ::mkdir("/tmp", 01777);
  ::mkdir(d.c_str(), 0700);
  return d;
}

int mount_fresh(const char* fstype) {
  std::string d = tmpdir(fstype);
  if (::mount(fstype, d.c_str(), fstype, 0, nullptr) < 0) return report_errno();
  ::umount2(d.c_str(), MNT_DETACH);
  return report_ok();
}

// Mounts a fresh proc or sysfs and opens one of its host-wide knobs for writing (never writes).
int fresh_write(const char* fstype, const std::vector<const char*>& rels) {
  std::string d = tmpdir(fstype);
  if (::mount(fstype, d.c_str(), fstype, 0, nullptr) < 0) return report_errno("mount");
  int rc = -1, err = ENOENT;
  for (const char* rel : rels) {
    int fd = ::open((d + "/" + rel).c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      ::close(fd);
      rc = 0;
      break;
    }
    err = errno;
  }
  ::umount2(d.c_str(), MNT_DETACH);
  if (rc == 0) return report_ok();
  errno = err;
  return report_errno("open");
}

int open_for_write(const char* path) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return report_errno();
  ::close(fd);
  return report_ok();
}

bool is_dev_null(int fd) {
  struct stat st;
  return ::fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3;
}

// Unmounts a mask and opens what it hid.
int unmask(const char* path) {
  if (::umount2(path, MNT_DETACH) < 0) return report_errno("umount");
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return report_errno("open");
  bool masked = is_dev_null(fd);
  ::close(fd);
  std::printf(masked ? "masked\n" : "ok\n");
  return 0;
}

// Remounts /proc/sys read-write (inside the container's own mount namespace), then opens a
// host-wide knob for writing.
int proc_sys_rw_write() {
  if (::mount(nullptr, "/proc/sys", nullptr, MS_REMOUNT | MS_BIND, nullptr) < 0) return report_errno("remount");
  int fd = ::open("/proc/sys/kernel/core_pattern", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return report_errno("open");
  ::close(fd);
  return report_ok();
}

// `masked` when `path` is /dev/null or an empty directory, `ok` when it shows content.
int read_masked(const char* path) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return report_errno();
  struct stat st;
  bool masked = is_dev_null(fd);
  if (!masked && ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    DIR* d = ::fdopendir(fd);
    int n = 0;
    while (struct dirent* e = ::readdir(d))
      if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) ++n;
    ::closedir(d);
    std::printf(n == 0 ? "masked\n" : "ok\n");
    return 0;
  }
  ::close(fd);
  std::printf(masked ? "masked\n" : "ok\n");
  return 0;
}

int raw_disk() {
  // /sys/block lists the host's disks (sysfs is not namespaced); none may be openable.
  DIR* d = ::opendir("/sys/block");
  int last = ENOENT;
  if (d) {
    while (struct dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::string dev = std::string("/dev/") + e->d_name;
      int fd = ::open(dev.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        ::close(fd);
        ::closedir(d);
        std::printf("ok %s\n", dev.c_str());
        return 0;
      }
      last = errno;
    }
    ::closedir(d);
  }
  errno = last;
  return report_errno();
}

int mknod_block(unsigned maj, unsigned min) {
  std::string path = tmpdir("mknod") + "/blk";
  ::unlink(path.c_str());
  if (::mknod(path.c_str(), S_IFBLK | 0600, makedev(maj, min)) < 0) return report_errno("mknod");
  // Made: never open it for writing; reading one block proves the exposure.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  int e = errno;
  ::unlink(path.c_str());
  if (fd < 0) {
    errno = e;
    return report_errno("open");
  }
  ::close(fd);
  return report_ok();
}

int open_by_handle() {
  // The "shocker" attack: a handle for inode 2 (the root of an ext4 filesystem), generation 0.
  struct {
    struct file_handle fh;
    unsigned char data[8];
  } h = {};
  h.fh.handle_bytes = 8;
  h.fh.handle_type = 1;  // FILEID_INO32_GEN
  uint32_t ino = 2, gen = 0;
  std::memcpy(h.fh.f_handle, &ino, 4);
  std::memcpy(h.fh.f_handle + 4, &gen, 4);
  int mfd = ::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  long fd = ::syscall(SYS_open_by_handle_at, mfd, &h.fh, O_RDONLY);
  if (fd >= 0) ::close(static_cast<int>(fd));
  return result(fd);
}

int reach_via_proc_root(const char* host_path) {
  DIR* d = ::opendir("/proc");
  if (!d) return report_errno("opendir");
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::string p = std::string("/proc/") + e->d_name + "/root" + host_path;
    if (::access(p.c_str(), F_OK) == 0) {
      ::closedir(d);
      std::printf("reachable %s\n", p.c_str());
      return 0;
    }
  }
  ::closedir(d);
  errno = ENOENT;
  return report_errno();
}

int chroot_escape(const char* host_path) {
  std::string jail = tmpdir("jail");
  int up = ::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (::chroot(jail.c_str()) < 0) return report_errno("chroot");
  // The classic: with a directory fd outside the new root, walk up past it.
  if (::fchdir(up) < 0) return report_errno("fchdir");
  for (int i = 0; i < 64; ++i) (void)::chdir("..");
  if (::chroot(".") < 0) return report_errno("chroot back");
  if (::access(host_path, F_OK) == 0) {
    std::printf("reachable %s\n", host_path);
    return 0;
  }
  return report_errno("access");
}

int set_clock() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);  // the current time: a no-op even if it were allowed
  return result(::clock_settime(CLOCK_REALTIME, &ts));
}

int bpf_prog_load() {
  struct bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0},  // r0 = 0
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},           // exit
  };
  union bpf_attr attr = {};
  attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  attr.insns = reinterpret_cast<uint64_t>(insns);
  attr.insn_cnt = 2;
  attr.license = reinterpret_cast<uint64_t>("GPL");
  long fd = ::syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
  if (fd >= 0) ::close(static_cast<int>(fd));
  return result(fd);
}

int perf_open() {
  struct perf_event_attr a = {};
  a.type = PERF_TYPE_SOFTWARE;
  a.size = sizeof a;
  a.config = PERF_COUNT_SW_CPU_CLOCK;
  long fd = ::syscall(SYS_perf_event_open, &a, -1, 0, -1, 0);  // every process on CPU 0
  if (fd >= 0) ::close(static_cast<int>(fd));
  return result(fd);
}

int do_reboot() {
  // Only inside a PID namespace other than the host's (checked in main), where the kernel turns
  // reboot(2) into the end of that namespace's init.
  ::sync();
  return result(::syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_POWER_OFF, nullptr));
}

int print_status_line(const char* key) {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return report_errno();
  char line[512];
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, key, std::strlen(key)) == 0) {
      std::fputs(line + std::strlen(key), stdout);
      std::fclose(f);
      return 0;
    }
  }
  std::fclose(f);
  std::printf("none\n");
  return 0;
}

int usage() {
  std::fprintf(stderr, "usage: cove-probe ATTEMPT [ARG...] (see tests/probe/cove-probe.cpp)\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (in_initial_ns("/proc/self/ns/pid", kInitPidNs) || in_initial_ns("/proc/self/ns/uts", kInitUtsNs)) {
    std::fprintf(stderr, "cove-probe: refusing to run outside a container (initial PID or UTS namespace)\n");
    return 99;
  }
  if (argc < 2) return usage();
  std::string a = argv[1];
  const char* arg = argc > 2 ? argv[2] : "";
  // Attempts that change mounts run in a mount namespace of their own, so that one attempt
  // (a successful remount in a privileged container) cannot change the next one's result.
  static const char* const kMountAttempts[] = {"mount-proc", "mount-sysfs", "mount-devtmpfs", "fresh-proc-write",
                                               "fresh-sysfs-write", "proc-sys-rw-write", "remount-sys-rw", "unmask"};
  for (const char* m : kMountAttempts) {
    if (a != m) continue;
    if (::unshare(CLONE_NEWNS) < 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0)
      return report_errno("unshare");
  }
  // Not an attempt: the CPU count glibc gives programs (get_nprocs reads
  // /sys/devices/system/cpu/online; sysconf(_SC_NPROCESSORS_ONLN), getconf's and Python's
  // os.cpu_count, is the same), for the LXCFS tests.
  if (a == "nprocs") {
    std::printf("%d %ld\n", ::get_nprocs(), ::sysconf(_SC_NPROCESSORS_ONLN));
    return 0;
  }
  if (a == "mount-proc") return mount_fresh("proc");
  if (a == "mount-sysfs") return mount_fresh("sysfs");
  if (a == "remount-sys-rw") return result(::mount(nullptr, "/sys", nullptr, MS_REMOUNT, nullptr));
  if (a == "unmask") return unmask(arg);
  if (a == "proc-sys-rw-write") return proc_sys_rw_write();
  if (a == "mount-devtmpfs") {
    std::string d = tmpdir("devtmpfs");
    if (::mount("devtmpfs", d.c_str(), "devtmpfs", 0, nullptr) < 0) return report_errno();
    ::umount2(d.c_str(), MNT_DETACH);
    return report_ok();
  }
  if (a == "write") return open_for_write(arg);
  if (a == "read-masked") return read_masked(arg);
  if (a == "init-module") return result(::syscall(SYS_init_module, nullptr, 0, ""));
  if (a == "finit-module") return result(::syscall(SYS_finit_module, -1, "", 0));
  if (a == "delete-module") return result(::syscall(SYS_delete_module, "cove_probe_none", O_NONBLOCK));
  if (a == "kexec-load") return result(::syscall(SYS_kexec_load, 0UL, 0UL, nullptr, 0x7fff0000UL));
  if (a == "kexec-file-load") return result(::syscall(SYS_kexec_file_load, -1, -1, 0UL, "", 0UL));
  if (a == "raw-disk") return raw_disk();
  if (a == "mknod-block") return mknod_block(argc > 3 ? std::atoi(argv[2]) : 8, argc > 3 ? std::atoi(argv[3]) : 0);
  if (a == "open-by-handle") return open_by_handle();
  if (a == "proc-root") return reach_via_proc_root(arg);
  if (a == "chroot-escape") return chroot_escape(arg);
  if (a == "set-clock") return set_clock();
  if (a == "sethostname") return result(::sethostname("cove-probe", 10));
  if (a == "swapoff") return result(::swapoff("/cove-probe-not-a-swap-file"));
  if (a == "keyctl") return result(::syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -4 /* user keyring */, 0));
  if (a == "bpf") return bpf_prog_load();
  if (a == "perf") return perf_open();
  if (a == "iopl") return result(::syscall(SYS_iopl, 3));
  if (a == "userfaultfd") return result(::syscall(SYS_userfaultfd, O_CLOEXEC));
  if (a == "io-uring") return result(::syscall(SYS_io_uring_setup, 1, nullptr));
  if (a == "dmesg") {
    char buf[64];
    return result(::klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, sizeof buf));
  }
  if (a == "fresh-proc-write") return fresh_write("proc", {"sys/kernel/core_pattern"});
  if (a == "fresh-sysfs-write") return fresh_write("sysfs", {"kernel/mm/transparent_hugepage/enabled"});
  if (a == "reboot") return do_reboot();
  if (a == "status") return print_status_line(argc > 2 ? argv[2] : "CapBnd:\t");
  return usage();
}
