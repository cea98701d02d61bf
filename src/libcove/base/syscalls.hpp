// Thin wrappers for syscalls glibc 2.36 does not wrap (clone3, pidfd, new mount API,
// openat2, pivot_root, kcmp). Each returns -1 with errno set, like the raw syscall.
#pragma once

#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/types.h>

#include <cstddef>

namespace cove::sys {

pid_t clone3(struct clone_args* args, size_t size);
int pidfd_open(pid_t pid, unsigned flags);
int pidfd_send_signal(int pidfd, int sig, siginfo_t* info, unsigned flags);
int pidfd_getfd(int pidfd, int targetfd, unsigned flags);
int open_tree(int dfd, const char* path, unsigned flags);
int mount_setattr(int dfd, const char* path, unsigned flags, struct mount_attr* attr, size_t size);
int move_mount(int from_dfd, const char* from_path, int to_dfd, const char* to_path, unsigned flags);
int fsopen(const char* fstype, unsigned flags);
int fsconfig(int fd, unsigned cmd, const char* key, const void* value, int aux);
int fsmount(int fd, unsigned flags, unsigned attr_flags);
int openat2(int dfd, const char* path, struct open_how* how, size_t size);
int pivot_root(const char* new_root, const char* put_old);
int kcmp(pid_t pid1, pid_t pid2, int type, unsigned long idx1, unsigned long idx2);

}  // namespace cove::sys
