#include "base/syscalls.hpp"

#include <sys/syscall.h>
#include <unistd.h>

namespace cove::sys {

pid_t clone3(struct clone_args* args, size_t size) { return static_cast<pid_t>(::syscall(SYS_clone3, args, size)); }
int kcmp(pid_t pid1, pid_t pid2, int type, unsigned long idx1, unsigned long idx2) {
  return static_cast<int>(::syscall(SYS_kcmp, pid1, pid2, type, idx1, idx2));
}
int pidfd_open(pid_t pid, unsigned flags) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, flags)); }
int pidfd_getfd(int pidfd, int targetfd, unsigned flags) {
  return static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, targetfd, flags));
}
int pidfd_send_signal(int pidfd, int sig, siginfo_t* info, unsigned flags) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, info, flags));
}
int open_tree(int dfd, const char* path, unsigned flags) {
  return static_cast<int>(::syscall(SYS_open_tree, dfd, path, flags));
}
int fsopen(const char* fstype, unsigned flags) { return static_cast<int>(::syscall(SYS_fsopen, fstype, flags)); }
int fsconfig(int fd, unsigned cmd, const char* key, const void* value, int aux) {
  return static_cast<int>(::syscall(SYS_fsconfig, fd, cmd, key, value, aux));
}
int fsmount(int fd, unsigned flags, unsigned attr_flags) {
  return static_cast<int>(::syscall(SYS_fsmount, fd, flags, attr_flags));
}
int mount_setattr(int dfd, const char* path, unsigned flags, struct mount_attr* attr, size_t size) {
  return static_cast<int>(::syscall(SYS_mount_setattr, dfd, path, flags, attr, size));
}
int move_mount(int from_dfd, const char* from_path, int to_dfd, const char* to_path, unsigned flags) {
  return static_cast<int>(::syscall(SYS_move_mount, from_dfd, from_path, to_dfd, to_path, flags));
}
int openat2(int dfd, const char* path, struct open_how* how, size_t size) {
  return static_cast<int>(::syscall(SYS_openat2, dfd, path, how, size));
}
int pivot_root(const char* new_root, const char* put_old) {
  return static_cast<int>(::syscall(SYS_pivot_root, new_root, put_old));
}

}  // namespace cove::sys
