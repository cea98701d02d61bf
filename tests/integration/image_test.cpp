// Images (issue 14), end to end through cove-image and cove-create -t image:REF: a round trip
// keeps every kind of file and attribute (compared file by file with tree_compare) from a dir,
// a loop, a shifted and an unprivileged overlay container; containers made from one image share
// it and never change it; damaged archives, a killed export or import, and a disk too small
// leave nothing behind; aliases, show and list. After every case no loop device or mount of the
// test's is left (TearDown checks).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../common/tree_compare.hpp"
#include "rootfs_support.hpp"

namespace cove::test {
namespace {

namespace fs = std::filesystem;
constexpr const char* kNoLxcfs = "[mount]\nlxcfs = off\n";

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

// Every kind of file and attribute an image must keep, under DIR/fx (run as host root on a
// tree holding container ids).
std::string populate_script(const std::string& dir) {
  return "set -e; mkdir '" + dir + "/fx'; cd '" + dir + "/fx'\n" + R"(
echo owned > owned; chown 1234:5678 owned
echo s > suid; chmod 4755 suid; echo g > sgid; chown 0:50 sgid; chmod 2711 sgid
mkdir sticky; chmod 3777 sticky
echo x > xattrs; setfattr -n user.color -v blue xattrs; setfattr -n trusted.secret -v s3cr3t xattrs
setfattr -n user.empty xattrs
echo c > cap; chmod 755 cap; setcap cap_net_raw+ep cap
echo a > acl; setfacl -m u:1000:rwx,g:1001:r acl
mkdir dacl; setfacl -m u:1000:rx dacl; setfacl -d -m u:1000:rwx,g:1002:rx dacl
echo h > hl1; ln hl1 hl2; mkdir sub; ln hl1 sub/hl3; chown 77:88 hl1
truncate -s 100M sparse; printf abc | dd of=sparse bs=1 seek=50000000 conv=notrunc status=none
printf xyz | dd of=sparse bs=1 seek=104857597 conv=notrunc status=none
truncate -s 10M allhole
mknod null c 1 3; mknod loopdev b 7 200; chown 5:6 null
mkfifo fifo; chmod 640 fifo
ln -s /etc/passwd abs; ln -s ../fx/owned rel; ln -s nowhere dangling; ln -s /nonexistent/x dangling_abs
chown -h 42:43 rel
touch -h -d '2001-02-03 04:05:06.789' dangling
touch -d '1999-12-31 23:59:59.123456789' owned sub
)";
}

class ImageTest : public RootfsTest {
 protected:
  void TearDown() override {
    std::string base = path_;
    for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) unmount(*it);
    mounts_.clear();
    ContainerTest::TearDown();
    if (!base.empty()) expect_nothing_left(base);
  }

  void unmount(const std::string& dir) {
    if (read_text("/proc/self/mountinfo").find(" " + dir + " ") == std::string::npos) return;
    if (run_cmd({"umount", dir}).status != 0) {
      ADD_FAILURE() << "could not unmount " << dir;
      run_cmd({"umount", "-l", dir});
    }
  }

  // Mounts `what` (a loop image or a tmpfs size) on `dir`, unmounted in TearDown.
  void mount(const std::vector<std::string>& args, const std::string& dir) {
    fs::create_directories(dir);
    std::vector<std::string> argv = {"mount"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(dir);
    auto r = run_cmd(argv);
    ASSERT_EQ(r.status, 0) << r.err;
    mounts_.push_back(dir);
  }

  void populate(const std::string& dir) {
    auto r = run_cmd({"sh", "-c", populate_script(dir)});
    ASSERT_EQ(r.status, 0) << r.err;
  }
  // The content hash `cove-image export` printed.
  std::string export_image(const std::string& name, const std::string& file) {
    auto r = cove("cove-image", name, {"export", file}, 300);
    EXPECT_EQ(r.status, 0) << r.err;
    auto at = r.out.find("sha256:");
    return at == std::string::npos ? "" : r.out.substr(at + 7, 64);
  }
  RunResult image(const std::vector<std::string>& args, const std::string& path = "") {
    std::vector<std::string> a = {"-P", path.empty() ? path_ : path};
    a.insert(a.end(), args.begin(), args.end());
    return run_tool("cove-image", a, 300);
  }
  // Imports `file` and returns the image's rootfs.
  std::string import(const std::string& file, const std::string& alias, const std::string& path = "") {
    std::vector<std::string> args = {"import", file};
    if (!alias.empty()) args.insert(args.end(), {"--alias", alias});
    auto r = image(args, path);
    EXPECT_EQ(r.status, 0) << r.err;
    return show_field(alias.empty() ? r.out.substr(r.out.find("sha256:") + 7, 64) : alias, "rootfs", path);
  }
  std::string show_field(const std::string& ref, const std::string& field, const std::string& path = "") {
    auto r = image({"show", ref}, path);
    EXPECT_EQ(r.status, 0) << r.err;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);)
      if (line.rfind(field + ": ", 0) == 0) return line.substr(field.size() + 2);
    ADD_FAILURE() << "no `" << field << "` in:\n" << r.out;
    return "";
  }
  std::vector<std::string> store_entries(const std::string& sub, const std::string& path = "") {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator((path.empty() ? path_ : path) + "/.images/" + sub, ec))
      out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  void expect_store_clean(const std::string& path = "") {
    for (const auto& n : store_entries("", path))
      EXPECT_NE(n.rfind(".tmp-", 0), 0u) << "left in the store: " << n;
  }
  // The properties that matter most, spelled out (compare_trees checks them all too).
  void expect_fixture(const std::string& root) {
    struct stat st;
    ASSERT_EQ(::stat((root + "/fx/owned").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 1234u);
    EXPECT_EQ(st.st_gid, 5678u);
    ASSERT_EQ(::stat((root + "/fx/suid").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 04755u);
    ASSERT_EQ(::stat((root + "/fx/sparse").c_str(), &st), 0);
    EXPECT_EQ(st.st_size, 100 << 20);
    EXPECT_LT(st.st_blocks * 512, 1 << 20) << "the sparse file was filled in";
    EXPECT_EQ(read_text(root + "/fx/sparse").substr(50000000, 3), "abc");
    ASSERT_EQ(::stat((root + "/fx/hl1").c_str(), &st), 0);
    EXPECT_EQ(st.st_nlink, 3u);
    ASSERT_EQ(::stat((root + "/fx/null").c_str(), &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode));
    EXPECT_EQ(st.st_rdev, makedev(1, 3));
    EXPECT_NE(run_cmd({"getcap", root + "/fx/cap"}).out.find("cap_net_raw=ep"), std::string::npos);
    auto acl = run_cmd({"getfacl", "-cn", root + "/fx/dacl"}).out;
    EXPECT_NE(acl.find("default:user:1000:rwx"), std::string::npos) << acl;
    EXPECT_NE(acl.find("user:1000:r-x"), std::string::npos) << acl;
    EXPECT_NE(run_cmd({"getfattr", "-n", "trusted.secret", root + "/fx/xattrs"}).out.find("s3cr3t"), std::string::npos);
    ASSERT_EQ(::lstat((root + "/fx/rel").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 42u);
    EXPECT_EQ(fs::read_symlink(root + "/fx/dangling").string(), "nowhere");
  }

  std::vector<std::string> mounts_;
};

TEST_F(ImageTest, RoundTripKeepsEveryFileAndAttributeOfADirContainer) {
  COVE_REQUIRE_ROOT();
  create_busybox("src", kNoLxcfs);
  std::string rootfs = path_ + "/src/rootfs";
  populate(rootfs);
  if (HasFatalFailure()) return;
  std::string hash = export_image("src", path_ + "/src.tar.zst");
  ASSERT_EQ(hash.size(), 64u);
  std::string img = import(path_ + "/src.tar.zst", "a");
  EXPECT_EQ(img, path_ + "/.images/sha256/" + hash + "/rootfs");
  EXPECT_EQ(joined(compare_trees(rootfs, img)), "");
  expect_fixture(img);
  // The source is as it was, and starts.
  EXPECT_EQ(joined(compare_trees(rootfs, img)), "");
  start("src");
}

TEST_F(ImageTest, RoundTripFromALoopContainer) {
  COVE_REQUIRE_ROOT();
  create_busybox("lp", std::string(kNoLxcfs) + "[rootfs]\nbackend = loop\nsize = 128M\n");
  std::string mnt = path_ + "/.mnt";
  mount({"-o", "loop", path_ + "/lp/rootfs.img"}, mnt);
  if (HasFatalFailure()) return;
  populate(mnt);
  if (HasFatalFailure()) return;
  unmount(mnt);
  EXPECT_EQ(export_image("lp", path_ + "/lp.tar.zst").size(), 64u);
  std::string img = import(path_ + "/lp.tar.zst", "lp");
  mount({"-o", "loop,ro", path_ + "/lp/rootfs.img"}, mnt);
  if (HasFatalFailure()) return;
  EXPECT_EQ(joined(compare_trees(mnt, img)), "");
  expect_fixture(img);
  unmount(mnt);
  start("lp");
}

TEST_F(ImageTest, RoundTripFromAShiftedRootfsGivesTheContainerIds) {
  COVE_REQUIRE_ROOT();
  create_busybox("sh", std::string(kNoLxcfs) + "[idmap]\nrootfs = shift\n");
  std::string rootfs = path_ + "/sh/rootfs";
  populate(rootfs);
  if (HasFatalFailure()) return;
  // Before the shift: container ids on disk.
  std::string before = export_image("sh", path_ + "/before.tar.zst");
  std::string ref = import(path_ + "/before.tar.zst", "before");
  start("sh");
  stop("sh");
  struct stat st;
  ASSERT_EQ(::stat((rootfs + "/fx/owned").c_str(), &st), 0);
  ASSERT_NE(st.st_uid, 1234u) << "the start did not shift the rootfs";
  std::string after = export_image("sh", path_ + "/after.tar.zst");
  std::string other = path_ + "/.other";
  std::string img = import(path_ + "/after.tar.zst", "after", other);
  EXPECT_EQ(joined(compare_trees(ref + "/fx", img + "/fx")), "");
  expect_fixture(img);
  EXPECT_EQ(before, after) << "the shifted rootfs was archived differently from the same tree before the shift";
}

TEST_F(ImageTest, RoundTripFromAnUnprivilegedOverlayClone) {
  COVE_REQUIRE_ROOT();
  create_busybox("base", kNoLxcfs);
  std::string lower = path_ + "/base/rootfs";
  populate(lower);
  if (HasFatalFailure()) return;
  names_.push_back("clone");
  auto c = cove("cove-copy", "base", {"-N", "clone", "-s"});
  ASSERT_EQ(c.status, 0) << c.err;
  start("clone");
  auto made = sh("clone", "set -e; mkdir /mine; echo hi > /mine/f; chown 7:8 /mine/f; chmod 6755 /mine/f; "
                          "ln /mine/f /mine/g; mkfifo /mine/p; chown 9:10 /mine/p; ln -s /mine/f /mine/s; "
                          "chown -h 11:12 /mine/s; mkdir /mine/d; chown 13:14 /mine/d; "
                          "chown 21:22 /fx/owned; rm /fx/fifo");
  ASSERT_EQ(made.status, 0) << made.err;
  stop("clone");
  export_image("clone", path_ + "/clone.tar.zst");
  std::string img = import(path_ + "/clone.tar.zst", "clone");
  struct stat st;
  ASSERT_EQ(::stat((img + "/mine/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 7u);
  EXPECT_EQ(st.st_gid, 8u);
  EXPECT_EQ(st.st_mode & 07777, 06755u);
  EXPECT_EQ(st.st_nlink, 2u);
  struct stat g;
  ASSERT_EQ(::stat((img + "/mine/g").c_str(), &g), 0);
  EXPECT_EQ(g.st_ino, st.st_ino);
  ASSERT_EQ(::lstat((img + "/mine/p").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_uid, 9u);
  ASSERT_EQ(::lstat((img + "/mine/s").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 11u);
  EXPECT_EQ(st.st_gid, 12u);
  ASSERT_EQ(::stat((img + "/mine/d").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 13u);
  ASSERT_EQ(::stat((img + "/fx/owned").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 21u);
  EXPECT_FALSE(fs::exists(fs::symlink_status(img + "/fx/fifo")));
  // The lower layer's files come back with the same ids and attributes (ACLs, capabilities).
  auto diffs = compare_trees(lower + "/fx", img + "/fx", {.mtimes = false});
  std::vector<std::string> unexpected;
  for (const auto& d : diffs)
    if (d.find("`owned`: uid") == std::string::npos && d.find("`owned`: gid") == std::string::npos &&
        d.find("`fifo`: missing") == std::string::npos)
      unexpected.push_back(d);
  EXPECT_EQ(joined(unexpected), "");
  EXPECT_EQ(joined(compare_trees(lower + "/fx/sub", img + "/fx/sub")), "");
}

TEST_F(ImageTest, ContainersFromOneImageShareItAndNeverChangeIt) {
  COVE_REQUIRE_ROOT();
  create_busybox("src", kNoLxcfs);
  export_image("src", path_ + "/src.tar.zst");
  std::string img = import(path_ + "/src.tar.zst", "A");
  std::string snap = path_ + "/.snapshot";
  ASSERT_EQ(run_cmd({"cp", "-a", img, snap}).status, 0);
  ASSERT_EQ(joined(compare_trees(img, snap, {.root_mtime = true})), "");
  std::string conf = path_ + "/nolxcfs.conf";
  std::ofstream(conf) << kNoLxcfs;
  for (const char* n : {"c1", "c2", "c3"}) {
    names_.push_back(n);
    auto r = cove("cove-create", n, {"-t", "image:A", "-f", conf});
    ASSERT_EQ(r.status, 0) << r.err;
    start(n);
    auto w = sh(n, std::string("set -e; echo ") + n + " > /own; touch /only-" + n +
                       "; rm /etc/os-release; chmod 600 /etc/passwd; chown 3:4 /bin/busybox; mkdir /etc/d-" + n);
    ASSERT_EQ(w.status, 0) << w.err;
  }
  for (const char* n : {"c1", "c2", "c3"}) {
    SCOPED_TRACE(n);
    auto seen = sh(n, "cat /own; ls / /etc | grep -E '^(only|d)-' | sort | tr '\\n' ' '; echo; test -e /etc/os-release || echo gone");
    EXPECT_EQ(trim_str(seen.out), std::string(n) + "\nd-" + n + " only-" + n + " \ngone");
  }
  for (const char* n : {"c1", "c2", "c3"}) stop(n);
  EXPECT_EQ(joined(compare_trees(img, snap, {.root_mtime = true})), "") << "a container changed the image";
  // The image cannot go while containers use it.
  auto busy = image({"delete", "A"});
  EXPECT_EQ(busy.status, 1);
  EXPECT_NE(busy.err.find("in use"), std::string::npos) << busy.err;
  EXPECT_TRUE(fs::exists(img));
  // Other backends get a full copy, which does not hold on to the image.
  std::ofstream(path_ + "/loop.conf") << kNoLxcfs << "[rootfs]\nbackend = loop\nsize = 128M\n";
  std::ofstream(path_ + "/dir.conf") << kNoLxcfs << "[rootfs]\nbackend = dir\n";
  for (const char* n : {"cl", "cd"}) {
    names_.push_back(n);
    std::string f = path_ + "/" + (n == std::string("cl") ? "loop" : "dir") + ".conf";
    auto r = cove("cove-create", n, {"-t", "image:A", "-f", f}, 120);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(read_text(path_ + "/" + n + "/config").find("lower"), std::string::npos);
    start(n);
    EXPECT_EQ(trim_str(sh(n, "cat /etc/os-release | grep ^ID=; echo mine > /etc/os-release").out), "ID=busybox");
    stop(n);
  }
  EXPECT_TRUE(fs::exists(path_ + "/cl/rootfs.img"));
  EXPECT_EQ(read_text(path_ + "/cd/rootfs/etc/os-release"), "mine\n");
  // Each copy is the image's tree but for its name and what the container changed.
  auto copy_diffs = [&](const std::string& root) {
    std::vector<std::string> out;
    for (const auto& d : compare_trees(img, root))
      if (d.rfind("`etc/hostname`", 0) != 0 && d.rfind("`etc/hosts`", 0) != 0 && d.rfind("`etc/os-release`", 0) != 0 &&
          d.rfind("`lost+found`", 0) != 0)
        out.push_back(d);
    return joined(out);
  };
  EXPECT_EQ(copy_diffs(path_ + "/cd/rootfs"), "") << "the dir copy differs from the image";
  std::string mnt = path_ + "/.mnt";
  mount({"-o", "loop,ro", path_ + "/cl/rootfs.img"}, mnt);
  if (HasFatalFailure()) return;
  EXPECT_EQ(copy_diffs(mnt), "") << "the loop copy differs from the image";
  unmount(mnt);
  EXPECT_EQ(joined(compare_trees(img, snap, {.root_mtime = true})), "") << "a copy changed the image";
  for (const char* n : {"c1", "c2", "c3"}) {
    auto d = cove("cove-destroy", n);
    EXPECT_EQ(d.status, 0) << d.err;
  }
  auto del = image({"delete", "A"});
  EXPECT_EQ(del.status, 0) << del.err;
  EXPECT_FALSE(fs::exists(img));
  EXPECT_EQ(store_entries("sha256").size(), 0u);
  EXPECT_EQ(store_entries("aliases").size(), 0u);
  expect_store_clean();
  // The copies still start.
  start("cl");
  start("cd");
}

TEST_F(ImageTest, DamagedArchivesAreRefusedAndLeaveNothing) {
  COVE_REQUIRE_ROOT();
  create_busybox("src", kNoLxcfs);
  ASSERT_EQ(run_cmd({"dd", "if=/dev/urandom", "of=" + path_ + "/src/rootfs/blob", "bs=1M", "count=8", "status=none"}).status, 0);
  std::string good = path_ + "/good.tar.zst";
  export_image("src", good);
  import(good, "keep");
  auto list_before = image({"list"}).out;
  auto size = fs::file_size(good);
  std::string bytes = read_text(good);
  auto write = [&](const std::string& name, const std::string& data) {
    std::ofstream(path_ + "/" + name, std::ios::binary) << data;
    return path_ + "/" + name;
  };
  std::string flipped = bytes;
  for (size_t i = size / 2; i < size / 2 + 64; ++i) flipped[i] = static_cast<char>(flipped[i] ^ 0x5a);
  std::string one_bit = bytes;
  one_bit[size / 3] = static_cast<char>(one_bit[size / 3] ^ 0x01);
  for (auto [file, what] : std::vector<std::pair<std::string, std::string>>{
           {write("truncated.tar.zst", bytes.substr(0, size / 2)), "truncated"},
           {write("cut-tail.tar.zst", bytes.substr(0, size - 20)), "cut at the end"},
           {write("flipped.tar.zst", flipped), "flipped"},
           {write("one-bit.tar.zst", one_bit), "one bit"},
           {write("garbage.tar.zst", std::string(1 << 20, 'x')), "garbage"},
           {write("empty.tar.zst", ""), "empty"},
           {write("plain.tar", run_cmd({"tar", "-cf", "-", "-C", path_, "good.tar.zst"}).out), "plain tar"}}) {
    SCOPED_TRACE(what);
    auto r = image({"import", file, "--alias", "bad"});
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_NE(r.err.find(file), std::string::npos) << "the message should name the file: " << r.err;
    EXPECT_LT(r.err.size(), 600u) << r.err;
    std::cerr << "  " << what << ": " << r.err;
    EXPECT_EQ(store_entries("sha256").size(), 1u);
    EXPECT_EQ(store_entries("aliases"), std::vector<std::string>{"keep"});
    expect_store_clean();
    EXPECT_EQ(image({"list"}).out, list_before);
  }
}

// Runs `argv` (a tool of the build tree), and kills it with SIGKILL once `ready` holds.
bool kill_when(const std::vector<std::string>& argv, const std::function<bool(pid_t)>& ready) {
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string tool = builddir() + "/" + argv[0];
    std::vector<char*> a;
    a.push_back(tool.data());
    for (size_t i = 1; i < argv.size(); ++i) a.push_back(const_cast<char*>(argv[i].c_str()));
    a.push_back(nullptr);
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::execv(tool.c_str(), a.data());
    ::_exit(127);
  }
  if (pid < 0) return false;
  bool caught = eventually([&] { return ready(pid); }, 30000, 2);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return caught && WIFSIGNALED(status);
}

// An fd of `pid` open on a file being written in `dir`, holding at least `bytes`.
bool writing_in(pid_t pid, const std::string& dir, off_t bytes) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::error_code ec2;
    auto target = fs::read_symlink(e.path(), ec2).string();
    if (ec2 || target.rfind(dir + "/", 0) != 0) continue;
    struct stat st;
    if (::stat(e.path().c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= bytes) return true;
  }
  return false;
}

TEST_F(ImageTest, KilledExportAndImportLeaveNothing) {
  COVE_REQUIRE_ROOT();
  create_busybox("big", kNoLxcfs);
  auto f = run_cmd({"dd", "if=/dev/urandom", "of=" + path_ + "/big/rootfs/blob", "bs=1M", "count=300", "status=none"}, 120);
  ASSERT_EQ(f.status, 0) << f.err;
  std::string out = path_ + "/out";
  fs::create_directories(out);
  std::string file = out + "/big.tar.zst";
  bool killed = kill_when({"cove-image", "-P", path_, "-n", "big", "export", file},
                          [&](pid_t pid) { return writing_in(pid, out, 8 << 20); });
  EXPECT_TRUE(killed) << "the export finished or never started before it could be killed";
  auto left = [&] {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(out)) names.push_back(e.path().filename().string());
    return joined(names);
  };
  EXPECT_EQ(left(), "") << "a killed export left files";
  // The container is unchanged: the next export gives the same archive content, and leaves
  // nothing but its file.
  std::string hash = export_image("big", file);
  EXPECT_EQ(left(), "big.tar.zst\n");
  std::string ref = path_ + "/ref.tar.zst";
  EXPECT_EQ(export_image("big", ref), hash);

  killed = kill_when({"cove-image", "-P", path_, "import", file, "--alias", "big"}, [&](pid_t) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(path_ + "/.images", ec)) {
      if (e.path().filename().string().rfind(".tmp-", 0) != 0) continue;
      struct stat st;
      if (::stat((e.path().string() + "/rootfs/blob").c_str(), &st) == 0 && st.st_size > (8 << 20)) return true;
    }
    return false;
  });
  EXPECT_TRUE(killed) << "the import finished or never started before it could be killed";
  auto l = image({"list", "--json"});
  ASSERT_EQ(l.status, 0) << l.err;
  EXPECT_EQ(trim_str(l.out), "[]");
  expect_store_clean();
  EXPECT_EQ(store_entries("sha256").size(), 0u);
  EXPECT_EQ(store_entries("aliases").size(), 0u);
  // Imported fine afterwards; the source starts.
  std::string img = import(file, "big");
  EXPECT_EQ(fs::file_size(img + "/blob"), 300u << 20);
  start("big");
}

TEST_F(ImageTest, ExportAndImportRefuseADiskTooSmall) {
  COVE_REQUIRE_ROOT();
  create_busybox("s", kNoLxcfs);
  auto f = run_cmd({"dd", "if=/dev/urandom", "of=" + path_ + "/s/rootfs/blob", "bs=1M", "count=80", "status=none"}, 60);
  ASSERT_EQ(f.status, 0);
  std::string small = path_ + "/.small";
  mount({"-t", "tmpfs", "-o", "size=16m", "tmpfs"}, small);
  if (HasFatalFailure()) return;
  auto r = cove("cove-image", "s", {"export", small + "/s.tar.zst"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("MB free"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_empty(small)) << "the refused export left a file";
  // Import into a cove path on a 64 MB ext4.
  std::string file = path_ + "/s.tar.zst";
  export_image("s", file);
  std::string fsimg = path_ + "/small.ext4";
  ASSERT_EQ(run_cmd({"truncate", "-s", "64M", fsimg}).status, 0);
  ASSERT_EQ(run_cmd({"mkfs.ext4", "-q", fsimg}).status, 0);
  std::string mnt = path_ + "/.ext4";
  mount({"-o", "loop", fsimg}, mnt);
  if (HasFatalFailure()) return;
  auto i = image({"import", file, "--alias", "s"}, mnt + "/p");
  EXPECT_EQ(i.status, 1);
  EXPECT_NE(i.err.find("MB free"), std::string::npos) << i.err;
  EXPECT_EQ(store_entries("sha256", mnt + "/p").size(), 0u);
  EXPECT_EQ(store_entries("aliases", mnt + "/p").size(), 0u);
  expect_store_clean(mnt + "/p");
}

TEST_F(ImageTest, AliasesMoveAndShowAndListDescribeImages) {
  COVE_REQUIRE_ROOT();
  create_busybox("one", kNoLxcfs);
  create_busybox("two", kNoLxcfs);
  std::ofstream(path_ + "/two/rootfs/marker") << "two";
  std::string h1 = export_image("one", path_ + "/one.tar.zst");
  std::string h2 = export_image("two", path_ + "/two.tar.zst");
  ASSERT_NE(h1, h2);
  import(path_ + "/one.tar.zst", "x");
  EXPECT_EQ(show_field("x", "hash"), "sha256:" + h1);
  import(path_ + "/two.tar.zst", "x");
  EXPECT_EQ(show_field("x", "hash"), "sha256:" + h2) << "the alias did not move";
  EXPECT_EQ(show_field(h1, "aliases"), "-");
  // The same rootfs again: nothing unpacked, only the alias.
  auto again = image({"import", path_ + "/one.tar.zst", "--alias", "y"});
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_NE(again.out.find("already present"), std::string::npos) << again.out;
  EXPECT_EQ(show_field(h1.substr(0, 8), "aliases"), "y");
  EXPECT_EQ(store_entries("sha256").size(), 2u);
  // show: metadata from the busybox os-release.
  auto s = image({"show", "y"});
  ASSERT_EQ(s.status, 0) << s.err;
  EXPECT_EQ(show_field("y", "distro"), "busybox");
  EXPECT_NE(show_field("y", "release"), "-");
  EXPECT_NE(show_field("y", "arch"), "-");
  EXPECT_EQ(show_field("y", "source"), "one");
  EXPECT_NE(show_field("y", "created"), "-");
  EXPECT_TRUE(fs::is_directory(show_field("y", "rootfs")));
  EXPECT_TRUE(fs::is_regular_file(show_field("y", "config")));
  auto l = image({"list", "--json"});
  ASSERT_EQ(l.status, 0) << l.err;
  auto j = nlohmann::json::parse(l.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << l.out;
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2u) << l.out;
  for (const auto& i : j) {
    EXPECT_EQ(i["distro"], "busybox");
    EXPECT_TRUE(i["hash"] == h1 || i["hash"] == h2) << i.dump();
    EXPECT_EQ(i["aliases"].size(), 1u);
    EXPECT_GT(i["size"].get<uint64_t>(), 0u);
  }
  auto text = image({"list"}).out;
  EXPECT_NE(text.find("ALIAS"), std::string::npos);
  EXPECT_NE(text.find(h1.substr(0, 12)), std::string::npos) << text;
  // Refs that name nothing, or more than one image.
  auto none = image({"show", "nosuch"});
  EXPECT_EQ(none.status, 1);
  EXPECT_NE(none.err.find("no image"), std::string::npos) << none.err;
  auto bad_alias = image({"import", path_ + "/one.tar.zst", "--alias", "../x"});
  EXPECT_EQ(bad_alias.status, 1) << bad_alias.out;
  // delete by hash removes every alias of it.
  auto d = image({"delete", h2});
  EXPECT_EQ(d.status, 0) << d.err;
  EXPECT_EQ(store_entries("aliases"), std::vector<std::string>{"y"});
}

}  // namespace
}  // namespace cove::test
