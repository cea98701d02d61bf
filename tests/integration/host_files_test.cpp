// Host files and a container's tree (issue 10): no host user reaches a rootfs (a set-user-ID
// binary that the container's root planted would run as host root); the container directory is
// made 0700 again at start; the console log and the monitor's log inside the rootfs cannot be
// redirected to host files; cove-ls survives a broken config; cove-destroy -f of a container
// that is still starting; /dev and /sys swapped for symlinks to host directories.
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "paths.hpp"
#include "support.hpp"

namespace cove::test {
namespace {

class HostFilesTest : public ContainerTest {
 protected:
  std::string rootfs(const std::string& name) const { return path_ + "/" + name + "/rootfs"; }
  static bool wait_for(const std::function<bool()>& cond, int timeout_ms) {
    int64_t end = now_ms() + timeout_ms;
    while (now_ms() < end) {
      if (cond()) return true;
      ::usleep(20000);
    }
    return cond();
  }
};

mode_t mode_of(const std::string& path) {
  struct stat st = {};
  ::lstat(path.c_str(), &st);
  return st.st_mode & 07777;
}

// Execs `path` as uid/gid 65534 (nobody) in a child; returns its stdout, or "exec: <error>".
std::string exec_as_nobody(const std::string& path) {
  int p[2];
  if (::pipe(p) < 0) return "pipe failed";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(p[1], 1);
    if (::setgroups(0, nullptr) < 0 || ::setresgid(65534, 65534, 65534) < 0 || ::setresuid(65534, 65534, 65534) < 0)
      ::_exit(90);
    char* argv[] = {const_cast<char*>(path.c_str()), nullptr};
    ::execv(path.c_str(), argv);
    std::printf("exec: %s\n", std::strerror(errno));
    std::fflush(stdout);
    ::_exit(91);
  }
  ::close(p[1]);
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(p[0]);
  ::waitpid(pid, nullptr, 0);
  return trim_str(out);
}

}  // namespace

// Observed before the fix: `ruid=65534 euid=0`.
TEST_F(HostFilesTest, SetuidBinaryPlantedInRootfsIsUnreachableFromTheHost) {
  create_busybox("su");
  std::filesystem::copy_file(builddir() + "/cove-whoami", rootfs("su") + "/cove-whoami");
  ::chmod((rootfs("su") + "/cove-whoami").c_str(), 0755);
  auto r = cove("cove-start", "su");
  ASSERT_EQ(r.status, 0) << r.err;
  attach_out("su", {"sh", "-c", "cp /cove-whoami /tmp/x && chmod 4755 /tmp/x"});
  std::string planted = rootfs("su") + "/tmp/x";
  struct stat st = {};
  ASSERT_EQ(::lstat(planted.c_str(), &st), 0) << std::strerror(errno);
  ASSERT_EQ(st.st_uid, 0u);  // idmapped rootfs: the container's root is uid 0 on disk
  ASSERT_EQ(st.st_mode & 07777, 04755u);
  EXPECT_EQ(mode_of(path_ + "/su"), 0700u);
  EXPECT_EQ(exec_as_nobody(planted), "exec: " + std::string(std::strerror(EACCES)));
}

TEST_F(HostFilesTest, StartMakesAnOpenContainerDirectoryPrivateAgain) {
  create_busybox("op");
  EXPECT_EQ(mode_of(path_ + "/op"), 0700u);  // as cove-create makes it
  // As a copy, a restore from a backup or a migration might bring it back.
  ASSERT_EQ(::chmod((path_ + "/op").c_str(), 0755), 0);
  auto r = cove("cove-start", "op");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(mode_of(path_ + "/op"), 0700u);
  EXPECT_NE(r.err.find("was mode 0755; made it 0700"), std::string::npos) << r.err;
}

// A restore passes the same check (Container::start): images restored into a container
// directory that came back 0755 (a copy, a migration) still leave no way in.
TEST_F(HostFilesTest, RestoreMakesAnOpenContainerDirectoryPrivateAgain) {
  COVE_REQUIRE_CRIU();
  create_busybox("rs");
  ASSERT_EQ(cove("cove-start", "rs").status, 0);
  // Past init's boot before the dump, as the checkpoint tests are (a dump of a container still
  // running rcS on a loaded host failed once: CRIU found a task in D state it could not seize).
  ASSERT_EQ(attach_out("rs", {"true"}), "");
  std::string images = path_ + "/images-rs";
  auto cp = cove("cove-checkpoint", "rs", {"-D", images, "--stop"}, 120);
  ASSERT_EQ(cp.status, 0) << cp.err;
  ASSERT_EQ(::chmod((path_ + "/rs").c_str(), 0755), 0);
  auto r = cove("cove-restore", "rs", {"-D", images}, 120);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(mode_of(path_ + "/rs"), 0700u);
  EXPECT_NE(r.err.find("was mode 0755; made it 0700"), std::string::npos) << r.err;
}

TEST_F(HostFilesTest, RootfsReachableByHostUsersIsRefused) {
  std::string open_dir = path_ + "/open";
  ASSERT_EQ(::mkdir(open_dir.c_str(), 0755), 0);
  create_busybox("rr", "[container]\nrootfs = " + open_dir + "/rootfs\n");
  auto r = cove("cove-start", "rr");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("can be reached by host users"), std::string::npos) << r.err;
  ASSERT_EQ(::chmod(open_dir.c_str(), 0700), 0);
  r = cove("cove-start", "rr");
  EXPECT_EQ(r.status, 0) << r.err;
}

// The console log and the monitor's log live in the rootfs; the container's root swaps them for
// symlinks to host files. After a restart the monitor (host root) must write neither host file.
TEST_F(HostFilesTest, LogsInsideTheRootfsCannotBeRedirectedToHostFiles) {
  std::string rfs = rootfs("cl");
  create_busybox("cl", "[container]\nconsole.log = " + rfs + "/tmp/console.log\nlog.file = " + rfs +
                           "/tmp/monitor.log\nlog.level = debug\n");
  std::string host_console = path_ + "/host-console", host_log = path_ + "/host-log";
  for (const auto& f : {host_console, host_log}) {
    FILE* fp = std::fopen(f.c_str(), "w");
    ASSERT_NE(fp, nullptr);
    std::fputs("host file\n", fp);
    std::fclose(fp);
  }
  auto r = cove("cove-start", "cl");
  ASSERT_EQ(r.status, 0) << r.err;
  // Inside: replace both with symlinks to the host files' paths (which also exist, empty,
  // inside the container, so that the right outcome is a write there).
  attach_out("cl", {"sh", "-c",
                    "rm -f /tmp/console.log /tmp/monitor.log && ln -s " + host_console + " /tmp/console.log && ln -s " +
                        host_log + " /tmp/monitor.log && mkdir -p " + path_ + " && : > " + host_console + " && : > " +
                        host_log});
  ASSERT_EQ(cove("cove-stop", "cl", {"-k"}).status, 0);
  r = cove("cove-start", "cl");
  ASSERT_EQ(r.status, 0) << r.err;
  attach_out("cl", {"sh", "-c", "echo cove-console-marker > /dev/console"});
  // The marker reaches the console log the container sees (its own file).
  EXPECT_TRUE(wait_for([&] { return read_text(rfs + host_console).find("cove-console-marker") != std::string::npos; },
                       5000))
      << read_text(rfs + host_console);
  EXPECT_NE(read_text(rfs + host_log).find("cove-monitor"), std::string::npos);
  ASSERT_EQ(cove("cove-stop", "cl", {"-k"}).status, 0);
  EXPECT_EQ(read_text(host_console), "host file\n");
  EXPECT_EQ(read_text(host_log), "host file\n");
}

// The trees the child builds in fresh tmpfs mounts (/dev, the cgroup hierarchies under
// /sys/fs/cgroup) are made by name below the tmpfs's root (rootfs::FreshDir). A container whose
// rootfs has /dev and /sys swapped for symlinks to host directories (what its root could leave
// behind; the same paths exist inside) still starts, with a working /dev and its cgroups, and
// nothing is made or mounted in the host directories.
TEST_F(HostFilesTest, DevAndSysSymlinkedToHostDirsBuildOnlyInsideTheContainer) {
  create_busybox("fd");
  std::string rfs = rootfs("fd");
  std::string host_dev = path_ + "/host-dev", host_sys = path_ + "/host-sys";
  for (const auto& d : {host_dev, host_sys}) {
    ASSERT_EQ(::mkdir(d.c_str(), 0755), 0);
    std::ofstream(d + "/marker") << "host\n";
  }
  std::filesystem::remove_all(rfs + "/dev");
  std::filesystem::remove_all(rfs + "/sys");
  // The same paths exist inside, so that the right outcome is a start that builds there.
  std::filesystem::create_directories(rfs + host_dev);
  std::filesystem::create_directories(rfs + host_sys);
  ASSERT_EQ(::symlink(host_dev.c_str(), (rfs + "/dev").c_str()), 0);
  ASSERT_EQ(::symlink(host_sys.c_str(), (rfs + "/sys").c_str()), 0);
  auto r = cove("cove-start", "fd");
  EXPECT_EQ(r.status, 0) << r.err;
  if (r.status == 0) {
    EXPECT_EQ(attach_out("fd", {"sh", "-c", "echo x > /dev/null && test -c /dev/pts/ptmx && echo ok"}), "ok");
    EXPECT_NE(attach_out("fd", {"ls", "/sys/fs/cgroup"}), "");
    EXPECT_EQ(cove("cove-stop", "fd", {"-k"}).status, 0);
  }
  for (const auto& d : {host_dev, host_sys}) {
    std::vector<std::string> entries;
    for (const auto& e : std::filesystem::directory_iterator(d)) entries.push_back(e.path().filename());
    EXPECT_EQ(entries, std::vector<std::string>{"marker"}) << d << " (start: " << r.status << " " << r.err << ")";
    EXPECT_EQ(read_text("/proc/self/mountinfo").find(" " + d), std::string::npos) << d;
  }
}

// One broken config (an include of /dev/zero, of a FIFO) among good ones: cove-ls lists them
// all, names the broken ones with their errors, and does not hang.
TEST_F(HostFilesTest, LsListsTheOthersAndNamesTheBrokenConfig) {
  create_busybox("a");
  create_busybox("b");
  create_busybox("c");
  {
    std::ofstream(path_ + "/b/config", std::ios::app) << "include = /dev/zero\n";
    std::string fifo = path_ + "/c/extra.conf";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    std::ofstream(path_ + "/c/config", std::ios::app) << "include = " << fifo << "\n";
  }
  auto r = run_tool("cove-ls", {"-P", path_}, 20);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("a "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("b "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("c "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(bad config)"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("`b`: config: " + path_ + "/b/config:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("`/dev/zero` is a character device"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("is a FIFO"), std::string::npos) << r.err;
  auto s = cove("cove-start", "c", {}, 20);
  EXPECT_NE(s.status, 0);
  EXPECT_NE(s.err.find("is a FIFO"), std::string::npos) << s.err;
}

// Observed before the fix: "connect to monitor ...: No such file or directory", and the
// container left running.
TEST_F(HostFilesTest, DestroyRightAfterStartStopsAndRemovesEverything) {
  create_busybox("ds");
  std::string state = runtime_dir("ds") + "/state";
  RunResult start;
  std::thread starter([&] { start = cove("cove-start", "ds"); });
  // As soon as the monitor has recorded STARTING (before its command socket exists).
  wait_for([&] { return std::filesystem::exists(state); }, 10000);
  auto d = cove("cove-destroy", "ds", {"-f"});
  starter.join();
  EXPECT_EQ(d.status, 0) << d.err;
  EXPECT_FALSE(std::filesystem::exists(path_ + "/ds"));
  EXPECT_FALSE(std::filesystem::exists(runtime_dir("ds")));
  EXPECT_TRUE(leftover_cgroups("ds").empty());
  auto ls = run_tool("cove-ls", {"-P", path_});
  EXPECT_EQ(ls.out.find("ds"), std::string::npos) << ls.out;
}

}  // namespace cove::test
