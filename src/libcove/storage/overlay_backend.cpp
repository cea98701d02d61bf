// backend `overlay`: overlayfs over read-only lower directories (a snapshot, an image, another
// container's rootfs), the container's own changes in an upper layer (PATH/NAME/overlay, or an
// ext4 image of `size` for a quota'd clone).
//
// An overlay mount cannot be idmapped, and its creator's credentials do its copy-ups: mounted
// by host root over idmapped lowers, it shows the lowers' container ids as the container's
// host ids, and its upper layer stores host ids (so the upper of an unprivileged container is
// "shifted": view_is_shifted). Mounted by host root, set-user-ID files work inside (a mount
// made in a user namespace would be nosuid to the container).
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.hpp"
#include "ns/idmap.hpp"
#include "storage/backends.hpp"
#include "storage/disk_device.hpp"
#include "storage/mount_api.hpp"

namespace cove::storage {
namespace {

// Owner of the upper layer's root: the container's root as the upper stores it.
std::pair<uid_t, gid_t> upper_root_owner(const Layout& l) {
  if (l.maps.empty()) return {0, 0};
  auto u = ns::host_id_of(l.maps.uid, 0), g = ns::host_id_of(l.maps.gid, 0);
  return {u ? *u : 0, g ? *g : 0};
}

Result<void> make_upper_dirs(int parent, const Layout& l) {
  auto [uid, gid] = upper_root_owner(l);
  mode_t mode = 0755;
  struct stat st;
  if (!l.cfg.lower.empty() && ::stat(l.cfg.lower.front().c_str(), &st) == 0) mode = st.st_mode & 07777;
  if (::mkdirat(parent, "upper", mode) < 0 && errno != EEXIST) return Error::from_errno(errno, "make upper layer");
  if (::fchownat(parent, "upper", uid, gid, AT_SYMLINK_NOFOLLOW) < 0) return Error::from_errno(errno, "own upper layer");
  if (::fchmodat(parent, "upper", mode, 0) < 0) return Error::from_errno(errno, "mode of upper layer");
  if (::mkdirat(parent, "work", 0700) < 0 && errno != EEXIST) return Error::from_errno(errno, "make work dir");
  return {};
}

// The upper and work directories' fds, and what holds them (the image's mount).
Result<PreparedRootfs> open_upper(const Layout& l) {
  PreparedRootfs u;
  std::string where = l.overlay_dir();
  if (l.cfg.size) {
    auto m = mount_ext4_image(l.overlay_image(), false, &u.disk);
    if (!m) return std::move(m).error();
    u.mount = std::move(*m);
  } else {
    u.mount.reset(::open(where.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!u.mount) return Error::from_errno(errno, "open `" + where + "`");
    if (auto d = disk_of_path(where)) u.disk = *d;
  }
  u.upper.reset(::openat(u.mount.get(), "upper", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  u.work.reset(::openat(u.mount.get(), "work", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!u.upper || !u.work) return Error::from_errno(errno, "open the upper layer in `" + where + "`");
  return u;
}

// Each lower as a detached tree, idmapped when `userns_fd` >= 0.
Result<std::vector<UniqueFd>> open_lowers(const Layout& l, int userns_fd) {
  std::vector<UniqueFd> out;
  for (const auto& dir : l.cfg.lower) {
    auto t = clone_path(dir);
    if (!t) return std::move(t).error().context("lower layer");
    if (userns_fd >= 0) COVE_TRY(idmap_tree(*t, userns_fd, "lower layer `" + dir + "`"));
    out.push_back(std::move(*t));
  }
  return out;
}

Result<UniqueFd> assemble(const Layout& l, int userns_fd, bool writable, PreparedRootfs& up) {
  auto lowers = open_lowers(l, userns_fd);
  if (!lowers) return std::move(lowers).error();
  if (!up.upper) return Error::invalid("overlay rootfs of `" + l.dir + "` was not prepared");
  OverlayLayers layers;
  if (writable) {
    layers.upper = up.upper.get();
    layers.work = up.work.get();
  } else {
    layers.lowers.push_back(up.upper.get());
  }
  for (const auto& t : *lowers) layers.lowers.push_back(t.get());
  return mount_overlay(layers);
}

class OverlayBackend : public Backend {
 public:
  config::StorageBackend kind() const override { return config::StorageBackend::kOverlay; }
  Result<void> create(const Layout& l) override {
    if (l.cfg.lower.empty()) return Error::invalid("backend `overlay` needs a [rootfs] lower");
    for (const auto& dir : l.cfg.lower)
      if (!is_directory(dir)) return Error(ENOENT, "lower layer `" + dir + "` is not a directory");
    COVE_TRY(mkdir_p(l.rootfs, 0755));
    if (!l.cfg.size) {
      COVE_TRY(mkdir_p(l.overlay_dir(), 0700));
      UniqueFd d(::open(l.overlay_dir().c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!d) return Error::from_errno(errno, "open `" + l.overlay_dir() + "`");
      return make_upper_dirs(d.get(), l);
    }
    COVE_TRY(make_ext4_image(l.overlay_image(), *l.cfg.size));
    auto m = mount_ext4_image(l.overlay_image(), false, nullptr);
    if (!m) return std::move(m).error();
    return make_upper_dirs(m->get(), l);
  }
  Result<PreparedRootfs> prepare(const Layout& l) override { return open_upper(l); }
  Result<RootfsTree> open_tree(const Layout& l, int userns_fd, PreparedRootfs& prepared) override {
    if (!prepared.upper) {  // consumed by an earlier boot (a reboot): again
      auto again = prepare(l);
      if (!again) return std::move(again).error();
      prepared = std::move(*again);
    }
    auto m = assemble(l, userns_fd, true, prepared);
    if (!m) return std::move(m).error();
    return RootfsTree{std::move(*m), prepared.disk};
  }
  Result<bool> mount_view(const Layout& l, bool writable) override {
    UniqueFd userns;
    if (!l.maps.empty()) {
      auto u = userns_for(l.maps);
      if (!u) return std::move(u).error();
      userns = std::move(*u);
    }
    auto up = open_upper(l);
    if (!up) return std::move(up).error();
    auto m = assemble(l, userns ? userns.get() : -1, writable, *up);
    if (!m) return std::move(m).error();
    COVE_TRY(attach_tree(*m, l.rootfs));
    return true;
  }
  bool view_is_shifted(const Layout& l) const override { return !l.maps.empty(); }
  Result<void> resize(const Layout& l, uint64_t size, pid_t init_pid) override {
    if (!l.cfg.size)
      return Error(ENOTSUP, "this overlay's upper layer has no quota (give [rootfs] size when it is made)");
    return grow_ext4_image(l.overlay_image(), size, init_pid);
  }
  Result<uint64_t> used_bytes(const Layout& l) override {
    if (!l.cfg.size) return tree_bytes(l.overlay_dir());
    struct stat st;
    if (::stat(l.overlay_image().c_str(), &st) < 0) return Error::from_errno(errno, "stat `" + l.overlay_image() + "`");
    return static_cast<uint64_t>(st.st_blocks) * 512;
  }

 protected:
  std::vector<std::string> data_names(const Layout& l) const override {
    return {l.cfg.size ? "overlay.img" : "overlay"};
  }
};

}  // namespace

Result<void> reshift_overlay_upper(const Layout& l, const IdMaps& from) {
  if (from.empty() || l.maps.empty()) return {};
  if (!l.cfg.size) return reshift_tree(l.overlay_dir() + "/upper", from, l.maps);
  COVE_TRY(isolate_mounts());
  auto m = mount_ext4_image(l.overlay_image(), false, nullptr);
  if (!m) return std::move(m).error();
  COVE_TRY(attach_tree(*m, l.rootfs));
  auto r = reshift_tree(l.rootfs + "/upper", from, l.maps);
  if (::umount2(l.rootfs.c_str(), MNT_DETACH) < 0) return Error::from_errno(errno, "unmount `" + l.rootfs + "`");
  return r;
}

std::unique_ptr<Backend> make_overlay_backend() { return std::make_unique<OverlayBackend>(); }

}  // namespace cove::storage
