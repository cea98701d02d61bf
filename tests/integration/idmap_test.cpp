// User namespaces on the host's disk: with the idmapped rootfs a file made by container uid 1000
// is stored as uid 1000; the one-time ownership shift (forced, or automatic on a filesystem that
// cannot be idmapped: ramfs) stores it as HOST-BASE+1000 and is not redone; host id ranges are
// allocated host-wide (across cove paths) and overlapping explicit maps are refused.
#include <sys/mount.h>
#include <sys/stat.h>
#include <linux/capability.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support.hpp"

namespace cove::test {
namespace {

struct stat stat_of(const std::string& path) {
  struct stat st = {};
  ::lstat(path.c_str(), &st);
  return st;
}

// The host id that container uid 0 maps to, from the container's config.
long mapped_base(const std::string& config) {
  std::istringstream in(read_text(config));
  bool idmap = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("[", 0) == 0) idmap = line == "[idmap]";
    if (idmap && line.rfind("uid = 0 ", 0) == 0) return std::stol(line.substr(8));
  }
  return -1;
}

class IdmapTest : public ContainerTest {};

TEST_F(IdmapTest, IdmappedRootfsStoresContainerIdsOnDisk) {
  create_busybox("im");
  ASSERT_EQ(cove("cove-start", "im").status, 0);
  attach_out("im", {"sh", "-c", "echo a > /root/by-root && echo b > /root/by-1000 && chown 1000:1000 /root/by-1000"});
  std::string root = path_ + "/im/rootfs/root/";
  // Through the idmapped mount, container uid N is stored as uid N: the rootfs stays portable.
  EXPECT_EQ(stat_of(root + "by-root").st_uid, 0u);
  EXPECT_EQ(stat_of(root + "by-1000").st_uid, 1000u);
  EXPECT_EQ(stat_of(root + "by-1000").st_gid, 1000u);
  EXPECT_FALSE(std::filesystem::exists(path_ + "/im/.rootfs-shift"));
  // Inside, they show as the container's ids.
  EXPECT_EQ(attach_out("im", {"stat", "-c", "%u:%g", "/root/by-1000"}), "1000:1000");
}

TEST_F(IdmapTest, ForcedShiftStoresHostIdsAndIsNotRedone) {
  create_busybox("sh", "[idmap]\nrootfs = shift\n");
  long base = mapped_base(path_ + "/sh/config");
  ASSERT_GT(base, 0);
  std::string rootfs = path_ + "/sh/rootfs";
  // A file capability (v2: cap_net_raw, effective) must survive the shift's chown.
  std::filesystem::copy_file(rootfs + "/bin/busybox", rootfs + "/bin/capbox");
  struct vfs_cap_data caps = {};
  caps.magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE;
  caps.data[0].permitted = 1u << CAP_NET_RAW;
  ASSERT_EQ(::setxattr((rootfs + "/bin/capbox").c_str(), "security.capability", &caps, XATTR_CAPS_SZ_2, 0), 0)
      << std::strerror(errno);
  ASSERT_EQ(cove("cove-start", "sh").status, 0);
  EXPECT_EQ(stat_of(rootfs + "/bin/capbox").st_uid, static_cast<uid_t>(base));
  struct vfs_cap_data after = {};
  EXPECT_EQ(::getxattr((rootfs + "/bin/capbox").c_str(), "security.capability", &after, sizeof after),
            static_cast<ssize_t>(XATTR_CAPS_SZ_2));
  EXPECT_EQ(after.magic_etc, caps.magic_etc);
  EXPECT_EQ(after.data[0].permitted, caps.data[0].permitted);
  EXPECT_EQ(stat_of(rootfs + "/bin").st_uid, static_cast<uid_t>(base));
  EXPECT_TRUE(std::filesystem::exists(path_ + "/sh/.rootfs-shift"));
  attach_out("sh", {"sh", "-c", "echo b > /root/by-1000 && chown 1000:1000 /root/by-1000"});
  EXPECT_EQ(stat_of(rootfs + "/root/by-1000").st_uid, static_cast<uid_t>(base + 1000));
  EXPECT_EQ(attach_out("sh", {"stat", "-c", "%u", "/root/by-1000"}), "1000");
  // Recorded: a second start does not walk the tree again (a file put back to 0 stays 0).
  ASSERT_EQ(cove("cove-stop", "sh", {"-k"}).status, 0);
  ASSERT_EQ(::chown((rootfs + "/root/by-1000").c_str(), 0, 0), 0);
  ASSERT_EQ(cove("cove-start", "sh").status, 0);
  EXPECT_EQ(stat_of(rootfs + "/root/by-1000").st_uid, 0u);
}

TEST_F(IdmapTest, AutoFallsBackToShiftOnAFilesystemWithoutIdmapSupport) {
  // ramfs cannot be idmapped (no FS_ALLOW_IDMAP); tmpfs can since Linux 6.3.
  std::string mnt = path_ + "/ramfs";
  std::filesystem::create_directories(mnt);
  ASSERT_EQ(::mount("ramfs", mnt.c_str(), "ramfs", 0, "mode=700"), 0) << std::strerror(errno);
  struct Unmount {
    std::string m;
    ~Unmount() { ::umount2(m.c_str(), MNT_DETACH); }
  } unmount{mnt};
  create_busybox("rf", "[container]\nrootfs = " + mnt + "/rootfs\n");
  long base = mapped_base(path_ + "/rf/config");
  auto r = cove("cove-start", "rf");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(stat_of(mnt + "/rootfs/bin").st_uid, static_cast<uid_t>(base));
  EXPECT_TRUE(std::filesystem::exists(mnt + "/.rootfs-shift"));
  EXPECT_EQ(attach_out("rf", {"stat", "-c", "%u", "/bin"}), "0");
  cove("cove-stop", "rf", {"-k"});
  cove("cove-destroy", "rf", {"-f"});
}

TEST_F(IdmapTest, ForcedIdmappedFailsOnAFilesystemWithoutIdmapSupport) {
  std::string mnt = path_ + "/ramfs";
  std::filesystem::create_directories(mnt);
  ASSERT_EQ(::mount("ramfs", mnt.c_str(), "ramfs", 0, "mode=700"), 0);
  struct Unmount {
    std::string m;
    ~Unmount() { ::umount2(m.c_str(), MNT_DETACH); }
  } unmount{mnt};
  create_busybox("rf", "[container]\nrootfs = " + mnt + "/rootfs\n[idmap]\nrootfs = idmapped\n");
  auto r = cove("cove-start", "rf");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("idmap mount"), std::string::npos) << r.err;
  cove("cove-destroy", "rf", {"-f"});
}

TEST_F(IdmapTest, RangesAreDistinctAcrossCovePaths) {
  std::string tmpl = scratch_dir() + "/cove-it2.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  std::string other = tmpl;
  ::chmod(other.c_str(), 0711);
  struct Cleanup {
    std::string p;
    ~Cleanup() {
      run_tool("cove-destroy", {"-P", p, "-n", "b", "-f"});
      std::error_code ec;
      std::filesystem::remove_all(p, ec);
    }
  } cleanup{other};
  create_busybox("a");
  auto r = run_tool("cove-create", {"-P", other, "-n", "b", "-t", "busybox"}, 120);
  ASSERT_EQ(r.status, 0) << r.err;
  long a = mapped_base(path_ + "/a/config"), b = mapped_base(other + "/b/config");
  ASSERT_GT(a, 0);
  ASSERT_GT(b, 0);
  EXPECT_TRUE(a + 65536 <= b || b + 65536 <= a) << a << " " << b;
  // An explicit map that overlaps `a` is refused, naming `a`'s config.
  std::string conf = path_ + "/overlap.conf";
  std::ofstream(conf) << "[idmap]\nuid = 0 " << a + 100 << " 65536\ngid = 0 " << a + 100 << " 65536\n";
  names_.push_back("c");
  r = cove("cove-create", "c", {"-t", "busybox", "-f", conf});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(path_ + "/a/config"), std::string::npos) << r.err;
}

// A host directory owned by host root: `f` root's, `g` uid/gid 1000's. Bound plain, it shows
// with overflow ids inside a user namespace; idmapped, with the ids it has on disk.
std::string make_shared_dir(const std::string& dir) {
  std::filesystem::create_directories(dir);
  ::chmod(dir.c_str(), 0755);
  std::ofstream(dir + "/f") << "host\n";
  std::ofstream(dir + "/g") << "1000\n";
  ::chmod((dir + "/f").c_str(), 0644);
  if (::chown((dir + "/g").c_str(), 1000, 1000) != 0) return "";
  return dir;
}

TEST_F(IdmapTest, IdmappedBindShowsItsFilesWithTheirIdsOnDisk) {
  std::string dir = make_shared_dir(path_ + "/shared");
  ASSERT_FALSE(dir.empty());
  create_busybox("ib", "[mount]\nentry = " + dir + " data none bind,create=dir,idmap=container\n" +
                           "entry = " + dir + " plain none bind,create=dir\n");
  auto r = cove("cove-start", "ib");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(attach_out("ib", {"stat", "-c", "%u:%g", "/data/f", "/data/g"}), "0:0\n1000:1000");
  EXPECT_EQ(attach_out("ib", {"stat", "-c", "%u:%g", "/plain/f"}), "65534:65534");
  // The container's root owns what host root owns there: it writes, and what it makes is
  // stored as root's on the host (not as its host uid).
  EXPECT_EQ(attach_out("ib", {"sh", "-c", "echo c >> /data/f && echo made > /data/new && echo ok"}), "ok");
  EXPECT_EQ(stat_of(dir + "/new").st_uid, 0u);
  EXPECT_EQ(read_text(dir + "/f"), "host\nc\n");
  EXPECT_EQ(attach_out("ib", {"sh", "-c", "echo x >> /plain/g 2>/dev/null && echo written || echo refused"}), "refused");
  // Through a checkpoint and a restore the bind comes back idmapped (CRIU binds it from a
  // staged idmapped clone), with a process that holds a file open in it.
  if (!criu_backend_built()) return;
  attach_out("ib", {"sh", "-c", "setsid sh -c 'exec 7>>/data/held; sleep 1000' </dev/null >/dev/null 2>&1 &"});
  auto ck = cove("cove-checkpoint", "ib", {"-D", path_ + "/ck", "--stop"}, 120);
  ASSERT_EQ(ck.status, 0) << ck.err;
  auto rs = cove("cove-restore", "ib", {"-D", path_ + "/ck"}, 120);
  ASSERT_EQ(rs.status, 0) << rs.err;
  EXPECT_EQ(attach_out("ib", {"stat", "-c", "%u:%g", "/data/f", "/data/g", "/data/held"}), "0:0\n1000:1000\n0:0");
  EXPECT_EQ(attach_out("ib", {"sh", "-c", "echo d >> /data/f && echo ok"}), "ok");
  EXPECT_EQ(read_text(dir + "/f"), "host\nc\nd\n");
  EXPECT_EQ(attach_out("ib", {"stat", "-c", "%u:%g", "/plain/f"}), "65534:65534");
  // Nothing of the restore's staging is left on the host.
  EXPECT_EQ(read_text("/proc/self/mountinfo").find("/.binds-"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(runtime_dir("ib")).parent_path() /
                                       (".binds-" + std::filesystem::path(runtime_dir("ib")).filename().string())));
}

TEST_F(IdmapTest, IdmappedBindTakesAnExplicitMapping) {
  std::string dir = make_shared_dir(path_ + "/shared");
  ASSERT_FALSE(dir.empty());
  create_busybox("ie");
  long base = mapped_base(path_ + "/ie/config");
  ASSERT_GT(base, 0);
  // Disk uid 0 shows as host base+7: container uid 7. Disk uid 1000 is outside this mapping.
  std::ofstream(path_ + "/ie/config", std::ios::app)
      << "[mount]\nentry = " << dir << " data none bind,create=dir,uidmap=0:" << base + 7 << ":1,gidmap=0:" << base + 9
      << ":1\n";
  auto r = cove("cove-start", "ie");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(attach_out("ie", {"stat", "-c", "%u:%g", "/data/f", "/data/g"}), "7:9\n65534:65534");
  if (!criu_backend_built()) return;
  ASSERT_EQ(cove("cove-checkpoint", "ie", {"-D", path_ + "/ck", "--stop"}, 120).status, 0);
  // A restore whose bind source is gone fails, staging nothing for good; with it back, it works.
  std::filesystem::rename(dir, dir + ".away");
  auto failed = cove("cove-restore", "ie", {"-D", path_ + "/ck"}, 120);
  EXPECT_NE(failed.status, 0);
  EXPECT_NE(failed.err.find("idmapped bind `/data`"), std::string::npos) << failed.err;
  EXPECT_EQ(read_text("/proc/self/mountinfo").find("/.binds-"), std::string::npos);
  for (const auto& e : std::filesystem::directory_iterator("/run/cove"))
    EXPECT_NE(e.path().filename().string().rfind(".binds-ie-", 0), 0u) << e.path();
  std::filesystem::rename(dir + ".away", dir);
  auto rs = cove("cove-restore", "ie", {"-D", path_ + "/ck"}, 120);
  ASSERT_EQ(rs.status, 0) << rs.err;
  EXPECT_EQ(attach_out("ie", {"stat", "-c", "%u:%g", "/data/f", "/data/g"}), "7:9\n65534:65534");
}

// Host root clones and idmaps the source: a symlink the container swapped into the source's path
// would hand it host files as its own (host root's files show as its root's). No symlink is followed.
TEST_F(IdmapTest, IdmappedBindSourceFollowsNoSymlinkTheContainerPlanted) {
  std::string secret = path_ + "/secret";
  std::filesystem::create_directories(secret);
  ::chmod(secret.c_str(), 0700);
  std::ofstream(secret + "/key") << "host secret\n";
  std::string exported = path_ + "/is/rootfs/exported";
  create_busybox("is", "[mount]\nentry = " + exported + " data none bind,create=dir,idmap=container\n");
  std::filesystem::create_directories(exported);
  std::ofstream(exported + "/f") << "ok\n";
  auto r = cove("cove-start", "is");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(attach_out("is", {"cat", "/data/f"}), "ok");
  // The container's root replaces its own directory with a symlink to a host path.
  attach_out("is", {"sh", "-c", "rm -rf /exported && ln -s " + secret + " /exported"});
  ASSERT_TRUE(std::filesystem::is_symlink(exported));
  ASSERT_EQ(cove("cove-stop", "is", {"-k"}).status, 0);
  r = cove("cove-start", "is");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("has a symlink in its path"), std::string::npos) << r.err;
  EXPECT_TRUE(leftover_cgroups("is").empty());
}

TEST_F(IdmapTest, IdmappedBindRulesAreCheckedBeforeAnythingIsMade) {
  std::string dir = make_shared_dir(path_ + "/shared");
  ASSERT_FALSE(dir.empty());
  // A privileged container has no [idmap] to map with.
  create_busybox("ip", "[container]\nprivileged = true\n[mount]\nentry = " + dir +
                           " data none bind,create=dir,idmap=container\n");
  auto r = cove("cove-start", "ip");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("`idmap=container`"), std::string::npos) << r.err;
  EXPECT_TRUE(leftover_cgroups("ip").empty());
  // Half a mapping is a config error, with the file and line.
  std::string conf = path_ + "/half.conf";
  std::ofstream(conf) << "[mount]\nentry = " << dir << " data none bind,uidmap=0:1000000:1\n";
  names_.push_back("ih");
  r = cove("cove-create", "ih", {"-t", "busybox", "-f", conf});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("half.conf:2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("go together"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace cove::test
