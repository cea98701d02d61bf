#include "rootfs/dev.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <iterator>

#include "rootfs/mount.hpp"

namespace cove::rootfs {

Result<std::pair<UniqueFd, UniqueFd>> open_pty_pair(const char* ptmx_path) {
  UniqueFd master(::open(ptmx_path, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master) return Error::from_errno(errno, std::string("open `") + ptmx_path + "`");
  int unlock = 0;
  if (::ioctl(master.get(), TIOCSPTLCK, &unlock) < 0) return Error::from_errno(errno, "unlock pty");
  // TIOCGPTPEER opens the slave through the master, immune to path tricks in the rootfs.
  int slave = ::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) return Error::from_errno(errno, "open pty peer");
  return std::make_pair(std::move(master), UniqueFd(slave));
}

namespace {

// /dev/console is a bind of its pts; /dev/ttyN is a symlink to pts/M. The difference matters
// to CRIU, which takes a pty's index from the last number of the path a process opened it by:
// "/dev/pts/3" is 3, but "/dev/tty1" would be 0 and collide with the console. The console is
// the first pty of the devpts instance, so "console" (no number: 0) is right for it.
enum class PtyLink { kBind, kSymlink };

Result<UniqueFd> console_pty(const FreshDir& dev, const std::string& ptmx, const std::string& name, PtyLink link) {
  auto pair = open_pty_pair(ptmx.c_str());
  if (!pair) return std::move(pair).error().context("allocate pty for `/dev/" + name + "`");
  auto& [master, slave] = *pair;
  // Sane line settings for a console: the host side may be a log, not a terminal.
  struct termios tio;
  if (::tcgetattr(slave.get(), &tio) == 0) {
    tio.c_oflag |= ONLCR | OPOST;
    ::tcsetattr(slave.get(), TCSANOW, &tio);
  }
  if (link == PtyLink::kSymlink) {
    int index = -1;
    if (::ioctl(master.get(), TIOCGPTN, &index) < 0) return Error::from_errno(errno, "pty index for `/dev/" + name + "`");
    COVE_TRY(dev.symlink("pts/" + std::to_string(index), name));
    return std::move(master);
  }
  COVE_TRY(dev.bind(fd_path(slave.get()), name));
  return std::move(master);
}

}  // namespace

Result<std::vector<UniqueFd>> clone_host_nodes() {
  std::vector<UniqueFd> out;
  for (const char* node : kStandardNodes) {
    auto tree = clone_tree(std::string("/dev/") + node, false);
    if (!tree) return std::move(tree).error();
    out.push_back(std::move(*tree));
  }
  return out;
}

Result<void> make_device_nodes(int rootfd, const std::vector<DeviceNode>& nodes) {
  for (const auto& n : nodes) {
    auto slash = n.path.rfind('/');
    std::string dir = "dev" + (slash == std::string::npos ? std::string() : "/" + n.path.substr(0, slash));
    std::string name = slash == std::string::npos ? n.path : n.path.substr(slash + 1);
    std::string what = "device node `/dev/" + n.path + "`";
    auto parent = open_in_root(rootfd, dir, Create::kDir);
    if (!parent) return std::move(parent).error().context(what);
    if (::mknodat(parent->get(), name.c_str(), n.mode, n.rdev) < 0) return Error::from_errno(errno, "mknod " + what);
    // mknod's mode went through the umask: set exactly, then the owner.
    if (::fchmodat(parent->get(), name.c_str(), n.mode & 07777, 0) < 0) return Error::from_errno(errno, "chmod " + what);
    if (::fchownat(parent->get(), name.c_str(), n.uid, n.gid, AT_SYMLINK_NOFOLLOW) < 0)
      return Error::from_errno(errno, "chown " + what);
  }
  return {};
}

Result<DevPtys> setup_dev(int rootfd, unsigned ttys, bool console, std::vector<UniqueFd> nodes,
                          const std::string& mount_context) {
  auto with_context = [&](const char* data) { return with_mount_context(data, mount_context); };
  if (nodes.size() != std::size(kStandardNodes)) return Error(EINVAL, "setup_dev: wrong number of host nodes");
  COVE_TRY(mount_in_root(rootfd, "tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC, with_context("mode=755,size=1024k"),
                         Create::kDir));
  auto dev = FreshDir::open(rootfd, "dev");  // the tmpfs's root now
  if (!dev) return std::move(dev).error();
  for (size_t i = 0; i < nodes.size(); ++i) {
    std::string name = kStandardNodes[i];
    COVE_TRY(dev->attach(std::move(nodes[i]), name, MS_NOSUID | MS_NOEXEC, Create::kFile, "/dev/" + name));
  }
  COVE_TRY(dev->mount("devpts", "pts", "devpts", MS_NOSUID | MS_NOEXEC, with_context("newinstance,ptmxmode=0666,mode=0620,gid=5")));
  COVE_TRY(dev->symlink("pts/ptmx", "ptmx"));
  COVE_TRY(dev->mount("shm", "shm", "tmpfs", MS_NOSUID | MS_NODEV, with_context("mode=1777")));
  COVE_TRY(dev->mount("mqueue", "mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, ""));
  const std::pair<const char*, const char*> links[] = {
      {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}};
  for (const auto& [target, name] : links) COVE_TRY(dev->symlink(target, name));

  auto ptmx = dev->at("pts/ptmx");
  if (!ptmx) return std::move(ptmx).error();
  std::string ptmx_path = fd_path(ptmx->get());
  // Re-open through the O_PATH fd to get a real ptmx handle for each pty.
  DevPtys out;
  if (console) {
    auto master = console_pty(*dev, ptmx_path, "console", PtyLink::kBind);
    if (!master) return std::move(master).error();
    out.console_master = std::move(*master);
  }
  for (unsigned i = 1; i <= ttys; ++i) {
    auto m = console_pty(*dev, ptmx_path, "tty" + std::to_string(i), PtyLink::kSymlink);
    if (!m) return std::move(m).error();
    out.tty_masters.push_back(std::move(*m));
  }
  return out;
}

}  // namespace cove::rootfs
