// The container's /dev: a small tmpfs holding only the standard nodes (bind-mounted from the
// host: a filesystem mounted inside a user namespace is nodev, so nodes made there cannot be
// opened), a new devpts instance, /dev/ptmx, /dev/shm, /dev/mqueue, the /proc/self/fd links,
// and the console and ttys: ptys of the container's own devpts whose masters the monitor holds
// (CRIU can checkpoint such a console; host ptys bind-mounted into the container it cannot).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace cove::rootfs {

inline constexpr const char* kStandardNodes[] = {"null", "zero", "full", "random", "urandom", "tty"};

struct DevPtys {
  UniqueFd console_master;          // /dev/console's master
  std::vector<UniqueFd> tty_masters;  // /dev/tty1..N
};

// Detached clones of the host's standard nodes (kStandardNodes order), taken while /dev of the
// host is still in reach; setup_dev() attaches them.
Result<std::vector<UniqueFd>> clone_host_nodes();

// Mounts /dev inside the rootfs with `nodes` from clone_host_nodes(), and allocates the console
// (when `console`) and `ttys` ptys. `mount_context` (SELinux, may be empty) labels its tmpfs,
// devpts and shm.
Result<DevPtys> setup_dev(int rootfd, unsigned ttys, bool console, std::vector<UniqueFd> nodes,
                          const std::string& mount_context);

// A device node made in the container's /dev (mknod), for one the host lacks.
struct DeviceNode {
  std::string path;  // below dev/, e.g. "net/tun" (validated by the caller: no `..`, no empty part)
  mode_t mode = 0;   // S_IFCHR or S_IFBLK | permissions
  dev_t rdev = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Makes `nodes` in the /dev setup_dev() mounted (a fresh tmpfs nothing of the container has
// touched yet), with their parent directories, exact mode and owner. Needs CAP_MKNOD in the
// host's user namespace (a node made in a user namespace cannot be opened): privileged only.
Result<void> make_device_nodes(int rootfd, const std::vector<DeviceNode>& nodes);

// Allocates a pty pair on the devpts instance whose ptmx is `ptmx_path`; returns {master, slave}.
Result<std::pair<UniqueFd, UniqueFd>> open_pty_pair(const char* ptmx_path);

}  // namespace cove::rootfs
