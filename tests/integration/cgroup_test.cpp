// Integration tests of cgroup/ on the real kernel (root): layout detection, create, attach,
// stats, delegate and destroy of a container's cgroups, and cleanup from recorded paths.
// Every test uses its own key (`test-<pid>-<n>`) and TearDown destroys what it planned and
// kills the processes it forked, so a failing test leaves nothing behind.
#include <gtest/gtest.h>
#include <signal.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/magic.h>

#include <algorithm>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/dir.hpp"
#include "base/fs.hpp"
#include "base/scope_exit.hpp"
#include "base/strings.hpp"
#include "base/proc_stat.hpp"
#include "cgroup/cgroup.hpp"
#include "process/child_process.hpp"

namespace cove::cgroup {
namespace {

#define CG_ASSERT_OK(expr)                                     \
  do {                                                         \
    auto cg_r_ = (expr);                                       \
    ASSERT_TRUE(cg_r_.has_value()) << cg_r_.error().message(); \
  } while (0)

unsigned long fs_magic(const std::string& path) {
  struct statfs sfs;
  return ::statfs(path.c_str(), &sfs) == 0 ? static_cast<unsigned long>(sfs.f_type) : 0;
}

// A child that only waits to be killed. Never returns in the child.
pid_t fork_sleeper() {
  pid_t pid = ::fork();
  if (pid == 0) {
    for (;;) ::pause();
  }
  return pid;
}

bool gone(const std::string& dir) {
  struct stat st;
  return ::stat(dir.c_str(), &st) < 0 && errno == ENOENT;
}

// The monitors' shared cgroup goes with the last monitor in it: a container running on the
// host (not ours) keeps it. Ours is gone when it was not there before the test.
bool monitors_preexisted() {
  auto l = detect_layout();
  auto plan = l ? ContainerCgroups::plan(*l, "probe", ::getpid()) : Result<ContainerCgroups>(Error(ENOENT, ""));
  if (!plan) return false;
  for (const auto& d : plan->monitor_dirs())
    if (!gone(d)) return true;
  return false;
}

class CgroupIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
    auto l = detect_layout();
    ASSERT_TRUE(l.has_value()) << l.error().message();
    layout_ = std::move(l).value();
    static int n = 0;
    key_ = "test-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
    monitors_before_ = monitors_preexisted();
  }

  // Gone after a destroy: a payload dir always; the shared monitor one unless others use it.
  bool left_nothing(const std::string& dir) {
    return gone(dir) || (monitors_before_ && basename_of(dir) == "cove.monitors");
  }

  void TearDown() override {
    for (pid_t pid : children_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (cg_) {
      auto r = cg_->destroy();
      EXPECT_TRUE(r.has_value()) << r.error().message();
      for (const auto* dirs : {&cg_->payload_dirs(), &cg_->monitor_dirs()})
        for (const auto& d : *dirs) EXPECT_TRUE(left_nothing(d)) << d << " left behind";
    }
  }

  // plan + create; the result is destroyed in TearDown.
  ContainerCgroups& make() {
    auto cg = ContainerCgroups::plan(layout_, key_, ::getpid());
    EXPECT_TRUE(cg.has_value()) << cg.error().message();
    cg_ = std::move(cg).value();
    auto r = cg_->create();
    EXPECT_TRUE(r.has_value()) << r.error().message();
    return *cg_;
  }

  pid_t track(pid_t pid) {
    if (pid > 0) children_.push_back(pid);
    return pid;
  }

  // Waits for a child destroy() killed and says whether SIGKILL ended it.
  bool reaped_by_sigkill(pid_t pid) {
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) return false;
    children_.erase(std::remove(children_.begin(), children_.end(), pid), children_.end());
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  }

  // The cgroup directory of `pid` in hierarchy `i` of the layout.
  std::string dir_of(pid_t pid, size_t i) {
    auto text = read_file("/proc/" + std::to_string(pid) + "/cgroup");
    if (!text) return "<" + text.error().message() + ">";
    auto path = cgroup_path_of(*text, layout_.hierarchies[i]);
    if (!path) return "<" + path.error().message() + ">";
    auto dir = directory_of(layout_.hierarchies[i], *path);
    return dir ? *dir : "<" + dir.error().message() + ">";
  }

  Layout layout_;
  std::string key_;
  bool monitors_before_ = false;
  std::optional<ContainerCgroups> cg_;
  std::vector<pid_t> children_;
};

TEST_F(CgroupIntegration, DetectsTheHostLayout) {
  ASSERT_FALSE(layout_.hierarchies.empty());
  unsigned long top = fs_magic("/sys/fs/cgroup");
  if (top == CGROUP2_SUPER_MAGIC) {
    EXPECT_TRUE(layout_.pure_v2());
    ASSERT_NE(layout_.v2(), nullptr);
    EXPECT_EQ(layout_.v2()->mount_point, "/sys/fs/cgroup");
    return;
  }
  // The hybrid host: a tmpfs with one v1 mount per controller and v2 at `unified`.
  ASSERT_EQ(top, static_cast<unsigned long>(TMPFS_MAGIC));
  EXPECT_FALSE(layout_.pure_v2());
  for (const char* c : {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "name=systemd"}) {
    const Hierarchy* h = layout_.find_v1(c);
    ASSERT_NE(h, nullptr) << c;
    EXPECT_EQ(fs_magic(h->mount_point), static_cast<unsigned long>(CGROUP_SUPER_MAGIC)) << h->mount_point;
  }
  EXPECT_EQ(layout_.find_v1("name=systemd")->mount_point, "/sys/fs/cgroup/systemd");
  if (fs_magic("/sys/fs/cgroup/unified") == CGROUP2_SUPER_MAGIC) {
    ASSERT_NE(layout_.v2(), nullptr);
    EXPECT_EQ(layout_.v2()->mount_point, "/sys/fs/cgroup/unified");
    auto ctrls = read_file("/sys/fs/cgroup/unified/cgroup.controllers");
    ASSERT_TRUE(ctrls.has_value());
    EXPECT_EQ(layout_.v2()->controllers, split_ws(*ctrls));
  }
}

TEST_F(CgroupIntegration, CreateAttachStatsDelegateDestroy) {
  ContainerCgroups& cg = make();
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(cg.payload_dirs().size(), layout_.hierarchies.size());
  for (size_t i = 0; i < layout_.hierarchies.size(); ++i) {
    // Children of this process's own cgroup, on a real cgroup filesystem.
    EXPECT_EQ(dirname_of(cg.payload_dirs()[i]), dir_of(::getpid(), i));
    EXPECT_EQ(fs_magic(cg.payload_dirs()[i]), fs_magic(layout_.hierarchies[i].mount_point));
    EXPECT_TRUE(is_directory(cg.monitor_dirs()[i])) << cg.monitor_dirs()[i];
  }
  if (const Hierarchy* cs = layout_.find_v1("cpuset")) {
    size_t i = static_cast<size_t>(cs - layout_.hierarchies.data());
    auto cpus = read_file(cg.payload_dirs()[i] + "/cpuset.cpus");
    ASSERT_TRUE(cpus.has_value());
    EXPECT_FALSE(trim(*cpus).empty());
  }

  pid_t child = track(fork_sleeper());
  ASSERT_GT(child, 0);
  CG_ASSERT_OK(cg.attach_payload(child));
  for (size_t i = 0; i < layout_.hierarchies.size(); ++i)
    EXPECT_EQ(dir_of(child, i), cg.payload_dirs()[i]) << layout_.hierarchies[i].mount_point;
  EXPECT_EQ(cg.payload_pids(), std::vector<pid_t>{child});

  auto s = cg.stats();
  CG_ASSERT_OK(s);
  EXPECT_TRUE(s->cpu_usage_ns.has_value());
  if (layout_.find_v1("memory")) {
    EXPECT_TRUE(s->memory_current.has_value());
    EXPECT_TRUE(s->memory_peak.has_value());
  }
  if (layout_.find_v1("pids")) {
    ASSERT_TRUE(s->pids_current.has_value());
    EXPECT_EQ(*s->pids_current, 1u);
  }

  CG_ASSERT_OK(cg.delegate(100000, 100001));
  for (const auto& d : cg.payload_dirs()) {
    for (const std::string& p : {d, d + "/cgroup.procs"}) {
      struct stat st;
      ASSERT_EQ(::stat(p.c_str(), &st), 0) << p;
      EXPECT_EQ(st.st_uid, 100000u) << p;
      EXPECT_EQ(st.st_gid, 100001u) << p;
    }
  }

  CG_ASSERT_OK(cg.destroy());
  EXPECT_TRUE(reaped_by_sigkill(child));
  for (const auto* dirs : {&cg.payload_dirs(), &cg.monitor_dirs()})
    for (const auto& d : *dirs) EXPECT_TRUE(left_nothing(d)) << d;
}

// Init joins its v1 payload cgroups by itself, first thing, writing "0" to the `tasks` files its
// parent opened (no grace period: cgroup::join_self); it is already in a user namespace of its
// own then, with no id mapped, and the kernel checks the opener's credentials. The parent reads
// where it landed and writes only the rest.
TEST_F(CgroupIntegration, AChildInANewUserNamespaceJoinsItsV1CgroupsThroughFilesItsParentOpened) {
  size_t v1 = 0;
  for (const auto& h : layout_.hierarchies) v1 += h.v2 ? 0 : 1;
  if (v1 == 0) GTEST_SKIP() << "no cgroup v1 hierarchy: nothing is joined through `tasks`";
  ContainerCgroups& cg = make();
  ASSERT_FALSE(HasFailure());
  auto joins = cg.self_join_files();
  ASSERT_EQ(joins.files.size(), v1);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = track(::fork());
  ASSERT_GE(child, 0);
  if (child == 0) {
    char ok = ::unshare(CLONE_NEWUSER) == 0 ? '1' : 'u';
    for (const auto& f : joins.files)
      if (ok == '1' && ::write(f.get(), "0", 1) != 1) ok = '0';
    (void)!::write(ready[1], &ok, 1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  joins.files.clear();
  char ok = 0;
  EXPECT_EQ(::read(ready[0], &ok, 1), 1);
  ::close(ready[0]);
  EXPECT_EQ(ok, '1') << "u: unshare failed, 0: a write failed";
  auto holding = cg.payload_dirs_holding(child);
  EXPECT_EQ(holding, joins.dirs);
  for (size_t i = 0; i < layout_.hierarchies.size(); ++i) {
    if (!layout_.hierarchies[i].v2) {
      EXPECT_EQ(dir_of(child, i), cg.payload_dirs()[i]);
    }
  }
  CG_ASSERT_OK(cg.attach_payload(child, holding));
  for (size_t i = 0; i < layout_.hierarchies.size(); ++i)
    EXPECT_EQ(dir_of(child, i), cg.payload_dirs()[i]) << layout_.hierarchies[i].mount_point;
  CG_ASSERT_OK(cg.destroy());
  EXPECT_TRUE(reaped_by_sigkill(child));
}

// `tasks` moves one thread: join_self uses it only for a process of one thread (as
// proc::thread_count says), and moves a process of two through cgroup.procs, both threads with it.
TEST_F(CgroupIntegration, JoinSelfMovesEveryThreadOfTheProcess) {
  size_t i = 0;
  while (i < layout_.hierarchies.size() && layout_.hierarchies[i].v2) ++i;
  if (i == layout_.hierarchies.size()) GTEST_SKIP() << "no cgroup v1 hierarchy";
  ContainerCgroups& cg = make();
  ASSERT_FALSE(HasFailure());
  const std::string dir = cg.payload_dirs()[i];
  for (int threads : {1, 2}) {
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    pid_t child = track(::fork());
    ASSERT_GE(child, 0);
    if (child == 0) {
      if (threads == 2) std::thread([] { for (;;) ::pause(); }).detach();
      bool one_thread = proc::thread_count(::getpid()) == 1;
      char ok = one_thread == (threads == 1) && join_self(dir, true, one_thread) ? '1' : '0';
      (void)!::write(ready[1], &ok, 1);
      for (;;) ::pause();
    }
    ::close(ready[1]);
    char ok = 0;
    EXPECT_EQ(::read(ready[0], &ok, 1), 1);
    ::close(ready[0]);
    EXPECT_EQ(ok, '1') << threads << " thread(s)";
    auto tasks = Dir::open("/proc/" + std::to_string(child) + "/task");
    ASSERT_TRUE(tasks.has_value());
    int seen = 0;
    for (const DirEntry& e : *tasks) {
      if (e.name[0] == '.') continue;
      ++seen;
      auto text = read_file("/proc/" + std::to_string(child) + "/task/" + std::string(e.name) + "/cgroup");
      ASSERT_TRUE(text.has_value());
      auto path = cgroup_path_of(*text, layout_.hierarchies[i]);
      ASSERT_TRUE(path.has_value());
      auto d = directory_of(layout_.hierarchies[i], *path);
      ASSERT_TRUE(d.has_value());
      EXPECT_EQ(*d, dir) << threads << " thread(s), thread " << e.name;
    }
    EXPECT_EQ(seen, threads);
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    children_.erase(std::remove(children_.begin(), children_.end(), child), children_.end());
  }
}

// Init and attach are cloned into the cgroup2 payload (CLONE_INTO_CGROUP) instead of joining it
// by a write. Some kernels (6.18 here, not the guest's 6.1) kill such a child when the cgroup
// was ever emptied with cgroup.kill (a rebooted container's payload): spawn then clones again
// in our cgroups and says so. Either way the child lives and born_in tells where it is.
TEST_F(CgroupIntegration, ChildIsBornInTheV2PayloadAndPlacedAfterACgroupKill) {
  ContainerCgroups& cg = make();
  ASSERT_FALSE(HasFailure());
  auto into = clone_target(cg.payload_dirs());
  const Hierarchy* v2 = layout_.v2();
  if (!v2) {
    EXPECT_FALSE(into.fd);
    GTEST_SKIP() << "no cgroup2 hierarchy on this host";
  }
  ASSERT_TRUE(into.fd);
  size_t i = static_cast<size_t>(v2 - layout_.hierarchies.data());
  ASSERT_EQ(into.dir, cg.payload_dirs()[i]);
  auto sleeper = [] {
    for (;;) ::pause();
    return 0;
  };
  for (bool killed_before : {false, true}) {
    SCOPED_TRACE(killed_before ? "after a cgroup.kill" : "a fresh cgroup");
    if (killed_before) CG_ASSERT_OK(write_existing(into.dir + "/cgroup.kill", "1"));
    bool born_in = killed_before;  // the opposite of what a fresh cgroup gives: spawn must set it
    auto child = process::spawn(sleeper, process::SpawnOptions{0, into.fd.get(), &born_in});
    ASSERT_TRUE(child.has_value()) << child.error().message();
    if (!killed_before) {
      EXPECT_TRUE(born_in);
    }
    if (born_in) {
      EXPECT_EQ(dir_of(child->pid(), i), into.dir);  // no write made it so
    } else {
      EXPECT_NE(dir_of(child->pid(), i), into.dir);
      CG_ASSERT_OK(cg.attach_payload(child->pid()));
      EXPECT_EQ(dir_of(child->pid(), i), into.dir);
    }
    auto exited = child->wait_exited(100);
    ASSERT_TRUE(exited.has_value()) << exited.error().message();
    EXPECT_FALSE(*exited) << "the child died";
  }
}

TEST_F(CgroupIntegration, MonitorAndPayloadAreSeparate) {
  ContainerCgroups& cg = make();
  ASSERT_FALSE(HasFailure());
  pid_t monitor = track(fork_sleeper());
  pid_t payload = track(fork_sleeper());
  CG_ASSERT_OK(cg.attach_monitor(monitor));
  CG_ASSERT_OK(cg.attach_payload(payload));
  for (size_t i = 0; i < layout_.hierarchies.size(); ++i) {
    EXPECT_EQ(dir_of(monitor, i), cg.monitor_dirs()[i]);
    EXPECT_EQ(dir_of(payload, i), cg.payload_dirs()[i]);
  }
  EXPECT_EQ(cg.payload_pids(), std::vector<pid_t>{payload});
  ::kill(monitor, SIGKILL);  // destroy() kills the payload only
  EXPECT_TRUE(reaped_by_sigkill(monitor));
  CG_ASSERT_OK(cg.destroy());
  EXPECT_TRUE(reaped_by_sigkill(payload));
}

TEST_F(CgroupIntegration, DestroyRemovesCgroupsTheGuestMade) {
  ContainerCgroups& cg = make();
  ASSERT_FALSE(HasFailure());
  pid_t child = track(fork_sleeper());
  CG_ASSERT_OK(cg.attach_payload(child));
  for (size_t i = 0; i < cg.payload_dirs().size(); ++i) {
    std::string inner = cg.payload_dirs()[i] + "/guest/inner";
    CG_ASSERT_OK(mkdir_p(inner));
    // Move the child down where that works without setup (a v1 cpuset child starts empty).
    if (!layout_.hierarchies[i].v2 && path_exists(inner + "/cpuset.cpus")) continue;
    CG_ASSERT_OK(write_existing(inner + "/cgroup.procs", std::to_string(child)));
    EXPECT_EQ(dir_of(child, i), inner);
  }
  EXPECT_EQ(cg.payload_pids(), std::vector<pid_t>{child});
  CG_ASSERT_OK(cg.destroy());
  EXPECT_TRUE(reaped_by_sigkill(child));
  for (const auto& d : cg.payload_dirs()) EXPECT_TRUE(gone(d)) << d;
}

TEST_F(CgroupIntegration, DestroyOutrunsAForkingPayload) {
  ContainerCgroups& cg = make();
  ASSERT_FALSE(HasFailure());
  // Become the subreaper so the grandchildren's zombies come back to this test to reap.
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  ScopeExit reap([this] {
    for (pid_t pid : children_) ::kill(pid, SIGKILL);
    if (cg_) (void)cg_->destroy();
    for (int i = 0; i < 100 && ::waitpid(-1, nullptr, WNOHANG) >= 0; ++i) ::usleep(10 * 1000);
    children_.clear();
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  });
  pid_t child = -1;
  {
    // Attach before the forks start so every descendant is born inside the payload.
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    child = ::fork();
    if (child == 0) {
      char c;
      ::close(p[1]);
      if (::read(p[0], &c, 1) != 1) ::_exit(1);
      for (int i = 0; i < 200; ++i) {
        if (::fork() == 0)
          for (;;) ::pause();
        ::usleep(1000);
      }
      for (;;) ::pause();
    }
    track(child);
    ::close(p[0]);
    auto r = cg.attach_payload(child);
    EXPECT_EQ(::write(p[1], "x", 1), 1);
    ::close(p[1]);
    CG_ASSERT_OK(r);
  }
  // Waits for the first forks (up to 5 s).
  for (int i = 0; i < 5000 && cg.payload_pids().size() <= 1u; ++i) ::usleep(1000);
  EXPECT_GT(cg.payload_pids().size(), 1u);
  // v2's `cgroup.kill` would end everything at once; the v1 dirs alone exercise the pid-by-pid
  // loop (on a pure v2 host there are none and `cgroup.kill` is what runs).
  std::vector<std::string> v1_payload;
  for (size_t i = 0; i < layout_.hierarchies.size(); ++i)
    if (!layout_.hierarchies[i].v2) v1_payload.push_back(cg.payload_dirs()[i]);
  if (!v1_payload.empty()) CG_ASSERT_OK(ContainerCgroups::from_recorded(v1_payload, {}).destroy(5000));
  CG_ASSERT_OK(cg.destroy(5000));
  EXPECT_TRUE(reaped_by_sigkill(child));
  for (const auto& d : cg.payload_dirs()) EXPECT_TRUE(gone(d)) << d;
}

TEST_F(CgroupIntegration, CleanupFromRecordedDirsAfterACrash) {
  ContainerCgroups& cg = make();
  ASSERT_FALSE(HasFailure());
  pid_t child = track(fork_sleeper());
  CG_ASSERT_OK(cg.attach_payload(child));
  // What a cove-stop finds in the runtime state once the monitor is gone.
  auto recorded = ContainerCgroups::from_recorded(cg.payload_dirs(), cg.monitor_dirs());
  CG_ASSERT_OK(recorded.destroy());
  EXPECT_TRUE(reaped_by_sigkill(child));
  for (const auto* dirs : {&cg.payload_dirs(), &cg.monitor_dirs()})
    for (const auto& d : *dirs) EXPECT_TRUE(left_nothing(d)) << d;
}

TEST_F(CgroupIntegration, CreateReusesAnEmptyLeftover) {
  ContainerCgroups& cg = make();
  ASSERT_FALSE(HasFailure());
  auto again = ContainerCgroups::plan(layout_, key_, ::getpid());
  CG_ASSERT_OK(again);
  CG_ASSERT_OK(again->create());
  pid_t child = track(fork_sleeper());
  CG_ASSERT_OK(cg.attach_payload(child));
  auto busy = again->create();
  ASSERT_FALSE(busy);
  EXPECT_NE(busy.error().message().find("still holds pid `" + std::to_string(child) + "`"), std::string::npos)
      << busy.error().message();
  // Nothing of the live run was rolled back.
  for (const auto* dirs : {&cg.payload_dirs(), &cg.monitor_dirs()})
    for (const auto& d : *dirs) EXPECT_TRUE(is_directory(d)) << d;
}

TEST_F(CgroupIntegration, DestroyMovesTheCallerOutOfItsMonitorCgroup) {
  std::vector<std::string> before;
  for (size_t i = 0; i < layout_.hierarchies.size(); ++i) before.push_back(dir_of(::getpid(), i));
  ContainerCgroups& cg = make();
  ASSERT_FALSE(HasFailure());
  CG_ASSERT_OK(cg.attach_monitor(::getpid()));
  EXPECT_EQ(dir_of(::getpid(), 0), cg.monitor_dirs()[0]);
  CG_ASSERT_OK(cg.destroy());
  for (size_t i = 0; i < layout_.hierarchies.size(); ++i) EXPECT_EQ(dir_of(::getpid(), i), before[i]);
}

// Every monitor started from one cgroup shares `cove.monitors` beside the payloads: a stop
// leaves it to the monitors still in it, and the last one's stop removes it.
TEST_F(CgroupIntegration, MonitorsShareOneCgroupThatGoesWithTheLast) {
  ContainerCgroups& first = make();
  ASSERT_FALSE(HasFailure());
  auto second = ContainerCgroups::plan(layout_, key_ + "-b", ::getpid());
  CG_ASSERT_OK(second);
  ScopeExit cleanup([&] { (void)second->destroy(); });
  CG_ASSERT_OK(second->create());
  pid_t m1 = track(fork_sleeper()), m2 = track(fork_sleeper());
  CG_ASSERT_OK(first.attach_monitor(m1));
  CG_ASSERT_OK(second->attach_monitor(m2));
  for (size_t i = 0; i < layout_.hierarchies.size(); ++i) {
    EXPECT_EQ(first.monitor_dirs()[i], second->monitor_dirs()[i]);
    EXPECT_EQ(basename_of(first.monitor_dirs()[i]), "cove.monitors");
    EXPECT_EQ(dir_of(m1, i), first.monitor_dirs()[i]);
    EXPECT_EQ(dir_of(m2, i), first.monitor_dirs()[i]);
  }
  ::kill(m1, SIGKILL);
  EXPECT_TRUE(reaped_by_sigkill(m1));
  CG_ASSERT_OK(first.destroy());
  for (size_t i = 0; i < layout_.hierarchies.size(); ++i) {
    EXPECT_TRUE(gone(first.payload_dirs()[i])) << first.payload_dirs()[i];
    EXPECT_EQ(dir_of(m2, i), first.monitor_dirs()[i]) << "the other monitor stays where it was";
  }
  ::kill(m2, SIGKILL);
  EXPECT_TRUE(reaped_by_sigkill(m2));
  CG_ASSERT_OK(second->destroy());
  for (const auto& d : second->monitor_dirs()) EXPECT_TRUE(left_nothing(d)) << d << " outlived its last monitor";
}

// cove-start's side: a child spawned into the cgroup2 target is born in `cove.monitors`.
TEST_F(CgroupIntegration, AMonitorIsBornInTheSharedCgroup2Cgroup) {
  size_t v2 = layout_.hierarchies.size();
  for (size_t i = 0; i < layout_.hierarchies.size(); ++i)
    if (layout_.hierarchies[i].v2) v2 = i;
  if (v2 == layout_.hierarchies.size()) GTEST_SKIP() << "no cgroup2 hierarchy";
  ContainerCgroups& cg = make();
  ASSERT_FALSE(HasFailure());
  auto into = monitors_clone_target();
  ASSERT_TRUE(into.fd) << "no target";
  EXPECT_EQ(into.dir, cg.monitor_dirs()[v2]);
  bool born = false;
  auto child = process::spawn([] {
    for (;;) ::pause();
    return 0;
  }, {.cgroup_fd = into.fd.get(), .born_in_cgroup = &born});
  ASSERT_TRUE(child.has_value()) << child.error().message();
  pid_t pid = child->pid();
  track(child->release().pid);
  EXPECT_TRUE(born);
  EXPECT_EQ(dir_of(pid, v2), cg.monitor_dirs()[v2]);
  // It plans its container's cgroups beside the shared one, not below it.
  auto text = read_file("/proc/" + std::to_string(pid) + "/cgroup");
  CG_ASSERT_OK(text);
  auto planned = ContainerCgroups::plan_from(layout_, key_, *text);
  CG_ASSERT_OK(planned);
  EXPECT_EQ(planned->payload_dirs()[v2], cg.payload_dirs()[v2]);
  CG_ASSERT_OK(cg.attach_monitor(pid));
  ::kill(pid, SIGKILL);
  EXPECT_TRUE(reaped_by_sigkill(pid));
}

}  // namespace
}  // namespace cove::cgroup
