// Lifecycle of real containers on the real kernel, driven through the cove-* tools:
// create -> start -> attach -> stop -> destroy, for the default (user-namespaced) container and
// for a privileged one, plus the error paths (concurrent starts, bad configs, dead monitors,
// wrong states) and the promise that a failed start leaves nothing behind.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "cgroup/cgroup.hpp"
#include "config/edit.hpp"
#include "monitor/protocol.hpp"
#include "paths.hpp"
#include "support.hpp"

namespace cove::test {
namespace {

// "Uid:\t1000000\t1000000\t1000000\t1000000" -> first field.
long status_id(pid_t pid, const char* key) {
  std::istringstream in(read_text("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::strlen(key)));
  return -1;
}

class LifecycleTest : public ContainerTest {
 protected:
  // The whole scenario, checked from outside and inside.
  void full_lifecycle(const std::string& name, bool privileged) {
    create_busybox(name, privileged ? "[container]\nprivileged = true\n" : "");
    auto r = cove("cove-start", name);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(trim_str(cove("cove-info", name, {"-s"}).out), "RUNNING");
    auto ls = cove("cove-ls", "", {"--running", "-1"});
    EXPECT_NE(ls.out.find(name), std::string::npos) << ls.out;

    // PID 1 is init.
    EXPECT_EQ(attach_out(name, {"cat", "/proc/1/comm"}), "init");
    // Host processes are invisible: only the container's few processes are listed.
    auto pids = attach_out(name, {"sh", "-c", "ls /proc | grep -c '^[0-9]'"});
    EXPECT_LT(std::stoi(pids), 10) << "pids visible inside: " << pids;
    auto self_visible = attach_out(name, {"sh", "-c", "test -e /proc/" + std::to_string(::getpid()) + "/ns && echo yes || echo no"});
    // Our pid could collide with a container pid only if the container had that many processes.
    EXPECT_EQ(self_visible, "no");
    // Hostname.
    EXPECT_EQ(attach_out(name, {"hostname"}), name);
    // The mount table is the container's own: no host paths, root is the rootfs.
    auto mounts = attach_out(name, {"cat", "/proc/self/mounts"});
    // (This host's own paths: the cove path, the build and the source tree.)
    for (const auto& host_path : {path_, builddir(), srcdir()})
      EXPECT_EQ(mounts.find(" " + host_path), std::string::npos) << host_path << " in:\n" << mounts;
    EXPECT_NE(mounts.find("devpts /dev/pts"), std::string::npos) << mounts;
    EXPECT_NE(mounts.find("sysfs /sys sysfs ro"), std::string::npos) << mounts;
    // /dev holds only the allowed nodes.
    auto dev = attach_out(name, {"ls", "-1", "/dev"});
    std::set<std::string> got, want = {"console", "fd", "full", "mqueue", "null", "ptmx", "pts", "random",
                                       "shm", "stderr", "stdin", "stdout", "tty", "tty1", "urandom", "zero"};
    std::istringstream in(dev);
    for (std::string l; std::getline(in, l);) got.insert(trim_str(l));
    EXPECT_EQ(got, want) << dev;
    // Device nodes work (bind-mounted from the host).
    EXPECT_EQ(attach_out(name, {"sh", "-c", "head -c 4 /dev/zero | wc -c; echo x > /dev/null && echo ok"}), "4\nok");
    // Host files are unreachable.
    std::string marker = path_ + "/host-marker";
    std::ofstream(marker) << "secret";
    EXPECT_EQ(attach_out(name, {"sh", "-c", "cat " + marker + " 2>/dev/null || echo unreachable"}), "unreachable");
    // A file created inside lands in the rootfs.
    attach_out(name, {"sh", "-c", "echo hi > /root/made-inside"});
    EXPECT_EQ(read_text(path_ + "/" + name + "/rootfs/root/made-inside"), "hi\n");
    // Loopback is up in the container's own network namespace.
    auto links = attach_out(name, {"cat", "/proc/net/dev"});
    EXPECT_NE(links.find("lo:"), std::string::npos);
    EXPECT_EQ(links.find("eth0"), std::string::npos) << links;
    // Exit status of the attached command comes back.
    EXPECT_EQ(cove("cove-attach", name, {"--", "sh", "-c", "exit 42"}).status, 42);

    // From the host: init's uids.
    pid_t init = init_pid(name);
    ASSERT_GT(init, 0);
    long uid = status_id(init, "Uid:");
    long gid = status_id(init, "Gid:");
    if (privileged) {
      EXPECT_EQ(uid, 0);
    } else {
      EXPECT_GE(uid, 1000000) << "container root must be an unprivileged host uid";
      EXPECT_EQ(uid, gid);
      auto map = read_text("/proc/" + std::to_string(init) + "/uid_map");
      EXPECT_NE(map.find(std::to_string(uid)), std::string::npos) << map;
      // Files written by container root are stored as ordinary root-owned files (idmapped mount).
      struct stat st;
      ASSERT_EQ(::stat((path_ + "/" + name + "/rootfs/root/made-inside").c_str(), &st), 0);
      EXPECT_EQ(st.st_uid, 0u);
      // The idmapped mount is visible in init's mountinfo.
      EXPECT_NE(read_text("/proc/" + std::to_string(init) + "/mountinfo").find("idmapped"), std::string::npos);
    }
    EXPECT_TRUE(leftover_cgroups(name).size() > 0) << "a running container has cgroups";

    // Clean stop.
    auto t0 = now_ms();
    r = cove("cove-stop", name);
    auto stop_ms = now_ms() - t0;
    ASSERT_EQ(r.status, 0) << r.err;
    RecordProperty("clean_stop_ms", std::to_string(stop_ms));
    EXPECT_EQ(trim_str(cove("cove-info", name, {"-s"}).out), "STOPPED");
    EXPECT_EQ(::kill(init, 0), -1) << "init survived the stop";
    EXPECT_TRUE(leftover_cgroups(name).empty());
    EXPECT_FALSE(std::filesystem::exists(runtime_dir(name)));

    r = cove("cove-destroy", name);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_FALSE(std::filesystem::exists(path_ + "/" + name));
  }
};

TEST_F(LifecycleTest, UnprivilegedContainer) { full_lifecycle("ct-userns", false); }

TEST_F(LifecycleTest, PrivilegedContainer) { full_lifecycle("ct-priv", true); }

// The busybox template's boot script mounts only what the runtime left out (/run here): it
// finds cove's mounts in the table it read once and mounts each missing one once (checked once
// rcS has ended). Privileged, where a second mount would succeed: a check that
// never matches mounts /proc, /sys, /dev/pts and /dev/shm again; one that always matches leaves
// /run out. (In a user namespace, mounting over cove's locked mounts fails anyway.)
TEST_F(LifecycleTest, TheBusyboxBootMountsOnlyWhatIsMissing) {
  const std::string name = "ct-boot";
  create_busybox(name, "[container]\nprivileged = true\n");
  ASSERT_EQ(cove("cove-start", name).status, 0);
  std::string table;
  ASSERT_TRUE(eventually([&] {
    table = attach_out(name, {"sh", "-c", "pidof rcS >/dev/null || cat /proc/self/mounts"});
    return table.find(" /run ") != std::string::npos;
  })) << table;
  auto mounts_at = [&](const std::string& dir) {
    size_t n = 0;
    for (size_t at = table.find(" " + dir + " "); at != std::string::npos; at = table.find(" " + dir + " ", at + 1)) ++n;
    return n;
  };
  for (const char* dir : {"/proc", "/sys", "/dev", "/dev/pts", "/dev/shm", "/run"})
    EXPECT_EQ(mounts_at(dir), 1u) << dir << " in:\n" << table;
  EXPECT_NE(table.find("tmpfs /run tmpfs rw,nosuid,nodev"), std::string::npos) << table;
  EXPECT_EQ(cove("cove-stop", name).status, 0);
}

TEST_F(LifecycleTest, TwoConcurrentStartsExactlyOneWins) {
  create_busybox("race");
  RunResult a, b;
  std::thread ta([&] { a = cove("cove-start", "race"); });
  std::thread tb([&] { b = cove("cove-start", "race"); });
  ta.join();
  tb.join();
  EXPECT_EQ((a.status == 0) + (b.status == 0), 1) << "a: " << a.err << "\nb: " << b.err;
  const auto& loser = a.status == 0 ? b : a;
  EXPECT_NE(loser.err.find("already running"), std::string::npos) << loser.err;
  EXPECT_EQ(trim_str(cove("cove-info", "race", {"-s"}).out), "RUNNING");
}

TEST_F(LifecycleTest, StartingARunningContainerFails) {
  create_busybox("twice");
  ASSERT_EQ(cove("cove-start", "twice").status, 0);
  pid_t init = init_pid("twice");
  auto r = cove("cove-start", "twice");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("`twice` is already running"), std::string::npos) << r.err;
  EXPECT_EQ(init_pid("twice"), init) << "the running container must be untouched";
}

// The monitors' shared cgroup is the host's, never the container's: its root (host ids
// 1000000+) owns only its payload cgroup, and inside it sees its own cgroup as the root of
// every hierarchy, with no name for the monitors' one.
TEST_F(LifecycleTest, AContainersRootCannotReachTheMonitorsCgroup) {
  create_busybox("mon-cg");
  ASSERT_EQ(cove("cove-start", "mon-cg").status, 0);
  auto own = read_text("/proc/" + std::to_string(monitor_pid("mon-cg")) + "/cgroup");
  auto layout = cgroup::detect_layout();
  ASSERT_TRUE(layout.has_value());
  for (const auto& h : layout->hierarchies) {
    auto rel = cgroup::cgroup_path_of(own, h);
    ASSERT_TRUE(rel.has_value()) << own;
    auto dir = cgroup::directory_of(h, *rel);
    ASSERT_TRUE(dir.has_value());
    EXPECT_TRUE(dir->ends_with("/cove.monitors")) << *dir;
    for (const std::string& f : {*dir, *dir + "/cgroup.procs"}) {
      struct stat st;
      ASSERT_EQ(::stat(f.c_str(), &st), 0) << f;
      EXPECT_EQ(st.st_uid, 0u) << f << " must stay host root's";
    }
  }
  auto inside = attach_out("mon-cg", {"cat", "/proc/self/cgroup"});
  ASSERT_NE(inside.find("0::/"), std::string::npos) << inside;
  EXPECT_EQ(inside.find("monitors"), std::string::npos) << inside;
  for (const auto& line : split(inside, '\n')) {
    if (line.empty()) continue;
    EXPECT_TRUE(line.ends_with(":/")) << line;
  }
}

// The payload cgroup is the container root's to manage (a systemd guest builds its tree there):
// the directory and the files a delegatee writes (v1 cgroup.procs and tasks; v2 cgroup.procs,
// cgroup.subtree_control and cgroup.threads) belong to its host uid when init runs (its first
// command, a shell builtin, tests the owner; a chown made only after init's exec would still
// often win that race, so the setup protocol's order is what guarantees it), every other file
// (a limit the config set, the kernel's knobs) stays host root's, and from inside its root
// makes a sub-cgroup and moves into it.
TEST_F(LifecycleTest, ThePayloadCgroupIsDelegatedToTheContainersRoot) {
  auto layout = cgroup::detect_layout();
  ASSERT_TRUE(layout.has_value());
  create_busybox("deleg", "[cgroup]\npids.max = 100\n");
  const std::string inside_v2 = layout->pure_v2() ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";
  ASSERT_EQ(cove("cove-start", "deleg", {"--", "/bin/sh", "-c", "if [ -O " + inside_v2 + " ]; then echo 0; else echo other; fi > /owner-at-boot; exec /sbin/init"}).status, 0);
  pid_t init = init_pid("deleg");
  ASSERT_GT(init, 0);
  long uid = status_id(init, "Uid:");
  ASSERT_GE(uid, 1000000);
  EXPECT_EQ(read_text(path_ + "/deleg/rootfs/owner-at-boot"), "0\n") << "init saw its cgroup unowned";
  auto own = read_text("/proc/" + std::to_string(init) + "/cgroup");
  for (const auto& h : layout->hierarchies) {
    auto rel = cgroup::cgroup_path_of(own, h);
    ASSERT_TRUE(rel.has_value()) << own;
    auto dir = cgroup::directory_of(h, *rel);
    ASSERT_TRUE(dir.has_value());
    std::vector<std::string> delegated = {"", "/cgroup.procs"};
    std::vector<std::string> kept = h.v2 ? std::vector<std::string>{"/cgroup.max.depth", "/cgroup.type"}
                                         : std::vector<std::string>{"/notify_on_release", "/cgroup.clone_children"};
    if (h.v2) delegated.insert(delegated.end(), {"/cgroup.subtree_control", "/cgroup.threads"});
    else delegated.push_back("/tasks");
    if (h.v2 ? layout->pure_v2() : std::find(h.controllers.begin(), h.controllers.end(), "pids") != h.controllers.end())
      kept.push_back("/pids.max");
    for (const auto& f : delegated) {
      struct stat st;
      ASSERT_EQ(::stat((*dir + f).c_str(), &st), 0) << *dir + f;
      EXPECT_EQ(st.st_uid, static_cast<uid_t>(uid)) << *dir + f;
    }
    for (const auto& f : kept) {
      struct stat st;
      ASSERT_EQ(::stat((*dir + f).c_str(), &st), 0) << *dir + f;
      EXPECT_EQ(st.st_uid, 0u) << *dir + f << " must stay host root's";
    }
  }
  auto moved = attach_out("deleg", {"sh", "-c", "mkdir " + inside_v2 + "/sub && echo $$ > " + inside_v2 +
                                                    "/sub/cgroup.procs && grep '^0::' /proc/self/cgroup"});
  EXPECT_EQ(moved, "0::/sub");
  EXPECT_EQ(cove("cove-stop", "deleg", {"-k"}).status, 0);
}

// The start's helpers (the mount-locking helper, forked ahead and entering the container's
// namespaces) are gone, reaped, once the start returns: the monitor's one child is init.
TEST_F(LifecycleTest, AfterAStartTheMonitorsOnlyChildIsInit) {
  create_busybox("one-child");
  ASSERT_EQ(cove("cove-start", "one-child").status, 0);
  pid_t monitor = monitor_pid("one-child");
  ASSERT_GT(monitor, 0);
  std::string children;
  for (const auto& t : std::filesystem::directory_iterator("/proc/" + std::to_string(monitor) + "/task"))
    children += read_text(t.path().string() + "/children");
  EXPECT_EQ(children, std::to_string(init_pid("one-child")) + " ");
  EXPECT_EQ(cove("cove-stop", "one-child", {"-k"}).status, 0);
}

// /sys/fs/cgroup inside: one mount per host hierarchy, each the container's own cgroup (the
// inode of its payload directory on the host) shown as `/`, with nosuid, nodev and noexec (and
// ro with `cgroup:ro`), and none a peer or slave of a host mount. Its root sees no other cgroup
// of cove's (the monitors', another container's) and, user-namespaced, cannot unmount one to
// look underneath. A (privileged) container without a cgroup namespace sees each hierarchy
// from the top, as a cgroup mount would show it.
TEST_F(LifecycleTest, EachCgroupMountIsTheContainersOwnCgroup) {
  auto layout = cgroup::detect_layout();
  ASSERT_TRUE(layout.has_value());
  struct Variant {
    std::string name, config;
    bool ro, own, userns;
  };
  const Variant variants[] = {
      {"cg-rw", "", false, true, true},
      {"cg-ro", "[mount]\nauto = proc:mixed sys:ro cgroup:ro\n", true, true, true},
      {"cg-host", "[container]\nprivileged = true\n[namespaces]\nclone = mnt pid uts ipc net\n", false, false, false},
  };
  for (const auto& v : variants) {
    SCOPED_TRACE(v.name);
    create_busybox(v.name, v.config);
    ASSERT_EQ(cove("cove-start", v.name).status, 0);
    auto own = read_text("/proc/" + std::to_string(init_pid(v.name)) + "/cgroup");
    auto mountinfo = attach_out(v.name, {"cat", "/proc/self/mountinfo"});
    for (const auto& h : layout->hierarchies) {
      auto rel = cgroup::cgroup_path_of(own, h);
      ASSERT_TRUE(rel.has_value()) << own;
      auto dir = v.own ? cgroup::directory_of(h, *rel) : Result<std::string>(h.mount_point);
      ASSERT_TRUE(dir.has_value());
      struct stat st;
      ASSERT_EQ(::stat(dir->c_str(), &st), 0) << *dir;
      std::string inside = layout->pure_v2() ? "/sys/fs/cgroup"
                                             : "/sys/fs/cgroup/" + (h.v2 ? std::string("unified") : basename_of(h.mount_point));
      EXPECT_EQ(attach_out(v.name, {"stat", "-c", "%i", inside}), std::to_string(st.st_ino)) << inside << " vs " << *dir;
      std::string line;
      for (const auto& l : split(mountinfo, '\n'))
        if (l.find(" " + inside + " ") != std::string::npos && l.find(h.v2 ? " - cgroup2 " : " - cgroup ") != std::string::npos)
          line = l;
      ASSERT_FALSE(line.empty()) << inside << " in:\n" << mountinfo;
      auto f = split(line, ' ');
      ASSERT_GT(f.size(), 6u) << line;
      EXPECT_EQ(f[3], "/") << line;
      EXPECT_EQ(f[5].rfind(v.ro ? "ro," : "rw,", 0), 0u) << line;
      for (const char* opt : {"nosuid", "nodev", "noexec"}) EXPECT_NE(f[5].find(opt), std::string::npos) << line;
      EXPECT_EQ(f[6], "-") << "propagation with a host mount: " << line;
      if (!v.own) continue;
      auto listing = attach_out(v.name, {"ls", "-a", inside});
      EXPECT_EQ(listing.find("cove."), std::string::npos) << inside << ":\n" << listing;
      if (v.userns) {
        auto umount = attach_out(v.name, {"sh", "-c", "umount " + inside + " 2>/dev/null && echo unmounted || echo refused"});
        EXPECT_EQ(umount, "refused") << inside;
      }
    }
    EXPECT_EQ(cove("cove-stop", v.name, {"-k"}).status, 0);
  }
}

// What the start hands across the boundary besides init's stdio: the v1 payload cgroups'
// `tasks` files the monitor opens for init's own join (host root's open files: with one, the
// container's root could move any process it sees) are closed before anything of the
// container's runs; the exec record that attach reads (init's restrictions) is host root's
// alone, in a directory the container cannot name.
TEST_F(LifecycleTest, InitHoldsNoCgroupFileAndTheExecRecordIsHostRootsAlone) {
  create_busybox("handoff");
  ASSERT_EQ(cove("cove-start", "handoff").status, 0);
  const std::string fds = "/proc/" + std::to_string(init_pid("handoff")) + "/fd";
  int seen = 0;
  for (const auto& e : std::filesystem::directory_iterator(fds)) {
    ++seen;
    auto target = std::filesystem::read_symlink(e.path()).string();
    EXPECT_EQ(target.find("/sys/fs/cgroup"), std::string::npos) << e.path() << " -> " << target;
    EXPECT_EQ(target.find("tasks"), std::string::npos) << e.path() << " -> " << target;
  }
  EXPECT_GT(seen, 0);
  const std::string dir = runtime_dir("handoff");
  struct stat st;
  ASSERT_EQ(::stat(dir.c_str(), &st), 0) << dir;
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_mode & 07777, 0700u) << dir;
  ASSERT_EQ(::stat((dir + "/exec").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // Inside, the path names nothing (its /run is the container's own).
  EXPECT_EQ(attach_out("handoff", {"sh", "-c", "test -e " + dir + "/exec && echo seen || echo absent"}), "absent");
}

TEST_F(LifecycleTest, StoppingAStoppedContainerFails) {
  create_busybox("idle");
  auto r = cove("cove-stop", "idle");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("`idle` is not running"), std::string::npos) << r.err;
}

TEST_F(LifecycleTest, DestroyRunningNeedsForce) {
  create_busybox("busy");
  ASSERT_EQ(cove("cove-start", "busy").status, 0);
  auto r = cove("cove-destroy", "busy");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("stop it first or use -f"), std::string::npos) << r.err;
  EXPECT_EQ(trim_str(cove("cove-info", "busy", {"-s"}).out), "RUNNING");
  r = cove("cove-destroy", "busy", {"-f"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(path_ + "/busy"));
  EXPECT_TRUE(leftover_cgroups("busy").empty());
}

TEST_F(LifecycleTest, BadConfigIsRejectedWithLineNumbersAndCreatesNothing) {
  std::string f = path_ + "/bad.conf";
  std::ofstream(f) << "[container]\nttys = many\nbogus = 1\n[nosuchsection]\nx = y\n";
  names_.push_back("bad");
  auto r = cove("cove-create", "bad", {"-t", "busybox", "-f", f});
  EXPECT_EQ(r.status, 1);
  // Every error is reported, each at its own line of the user's file.
  EXPECT_NE(r.err.find("bad.conf:2:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ttys"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bad.conf:3:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bogus"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bad.conf:4:"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(path_ + "/bad")) << "a failed create must leave nothing";
}

// Monitors of `name` in `path` still running: cove-monitor processes with its --path and --name.
std::vector<pid_t> monitors_of(const std::string& path, const std::string& name) {
  std::vector<pid_t> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    auto pid = parse_int(e.path().filename().string());
    if (!pid) continue;
    auto cmd = read_file(e.path().string() + "/cmdline");
    if (!cmd) continue;
    auto args = split(*cmd, '\0');
    if (args.empty() || basename_of(args[0]) != "cove-monitor") continue;
    bool p = false, n = false;
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      p = p || (args[i] == "--path" && args[i + 1] == path);
      n = n || (args[i] == "--name" && args[i + 1] == name);
    }
    if (p && n) out.push_back(static_cast<pid_t>(*pid));
  }
  return out;
}

// The monitor a detached start spawned before cove-start's checks (monitor/launch.hpp) ends
// when they fail, soon and without a trace.
void expect_no_monitor_left(const std::string& path, const std::string& name) {
  for (int i = 0; i < 200 && !monitors_of(path, name).empty(); ++i) ::usleep(10000);
  EXPECT_TRUE(monitors_of(path, name).empty()) << "a monitor of `" << name << "` still runs";
}

TEST_F(LifecycleTest, BadConfigOfExistingContainerStartsNothing) {
  create_busybox("edited");
  std::ofstream(path_ + "/edited/config", std::ios::app) << "\n[container]\nhalt_signal = SIGNOPE\n";
  auto r = cove("cove-start", "edited");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("halt_signal"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("config:"), std::string::npos) << r.err;
  EXPECT_EQ(trim_str(cove("cove-info", "edited", {"-s"}).out), "STOPPED");
  EXPECT_FALSE(std::filesystem::exists(runtime_dir("edited")));
  EXPECT_TRUE(leftover_cgroups("edited").empty());
  expect_no_monitor_left(path_, "edited");
  EXPECT_FALSE(std::filesystem::exists(path_ + "/edited/edited.log")) << "the monitor wrote a log";
}

// A check that fails after the monitor was spawned (an LXCFS path that is none): the monitor
// ends before it reads the config, so an ephemeral container is not destroyed with it.
TEST_F(LifecycleTest, AStartFailingItsChecksLeavesAnEphemeralContainer) {
  create_busybox("brief");
  std::ofstream(path_ + "/brief/config", std::ios::app)
      << "\n[container]\nephemeral = true\n[mount]\nlxcfs = " << path_ << "\n";
  auto r = cove("cove-start", "brief");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("is not a working LXCFS"), std::string::npos) << r.err;
  expect_no_monitor_left(path_, "brief");
  EXPECT_TRUE(std::filesystem::exists(path_ + "/brief/config"));
  EXPECT_FALSE(std::filesystem::exists(runtime_dir("brief")));
  EXPECT_TRUE(leftover_cgroups("brief").empty());
}

// A monitor spawned by hand as cove-start spawns it (fds 3 and 4), told `words` on its starter
// socket, which then closes: what it reports on its status pipe (empty: nothing), and its exit.
// With `reap` false the monitor is left running once it reported (a start that worked): its
// pid is in `pid`, for the caller to reap after stopping the container.
struct MonitorRun {
  std::string status;
  int exit_code = -1;
  pid_t pid = -1;
};
MonitorRun run_monitor_told(const std::string& path, const std::string& name, const std::vector<std::string>& words,
                            bool reap = true, const std::function<void(pid_t)>& before_words = {}) {
  int st[2], sv[2];
  if (::pipe2(st, O_CLOEXEC) < 0 || ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return {};
  std::string tool = builddir() + "/cove-monitor";
  pid_t pid = ::fork();
  if (pid == 0) {
    // Copies out of the way, closed at the exec (a monitor left running must not keep the
    // status pipe open twice: its reader would wait for ever).
    int status = ::fcntl(st[1], F_DUPFD_CLOEXEC, 10), starter = ::fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(status, 3);
    ::dup2(starter, 4);
    for (int i = 0; i < 3; ++i) ::dup2(null, i);
    ::execl(tool.c_str(), tool.c_str(), "--path", path.c_str(), "--name", name.c_str(), "--status-fd", "3",
            "--starter-fd", "4", nullptr);
    ::_exit(127);
  }
  ::close(st[1]);
  ::close(sv[1]);
  if (before_words) before_words(pid);
  for (const auto& w : words) (void)::send(sv[0], w.data(), w.size(), MSG_NOSIGNAL);
  ::close(sv[0]);
  MonitorRun r;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(st[0], buf, sizeof buf)) > 0) r.status.append(buf, static_cast<size_t>(n));
  ::close(st[0]);
  r.pid = pid;
  if (!reap) return r;
  int ws = 0;
  ::waitpid(pid, &ws, 0);
  r.exit_code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
  return r;
}

std::string proc_status(pid_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/status");
  return text ? *text : std::string();
}

// The cgroups of `name` made as cove-start makes them for the monitor it spawns (the plan from
// this process's cgroup, which a monitor spawned by hand plans from too).
monitor::CgroupsMade make_cgroups_as_cove_start(const std::string& path, const std::string& name) {
  auto view = cgroup::starter_view();
  if (!view.layout) return {};
  auto cgs = cgroup::ContainerCgroups::plan_from(*view.layout, ContainerPaths(path, name).key(), view.proc_cgroup);
  if (!cgs || !cgs->create()) return {};
  return {cgs->payload_dirs(), cgs->monitor_dirs()};
}

// The starter socket is parsed by the monitor: what is not a `go` (not JSON, too large, another
// version, a field it does not know) is refused on the status pipe cove-start reads, before the
// monitor reads or touches anything of the container.
TEST_F(LifecycleTest, AMonitorRefusesABadGoAndTouchesNothing) {
  create_busybox("nogo");
  const std::pair<std::string, std::string> bad[] = {
      {"not json", "not JSON"},
      {std::string(70 * 1024, ' '), "larger than the limit"},
      {R"({"version": 2, "go": true})", "protocol version 2"},
      {R"({"version": 1, "go": true, "cgroups": "/"})", "no field `cgroups`"}};
  for (const auto& [word, why] : bad) {
    auto r = run_monitor_told(path_, "nogo", {word});
    EXPECT_EQ(r.exit_code, 1) << why;
    EXPECT_NE(r.status.find("cove-start's go"), std::string::npos) << r.status;
    EXPECT_NE(r.status.find(why), std::string::npos) << r.status;
  }
  EXPECT_FALSE(std::filesystem::exists(runtime_dir("nogo")));
  EXPECT_FALSE(std::filesystem::exists(path_ + "/nogo/nogo.log")) << "the monitor wrote a log";
  EXPECT_TRUE(leftover_cgroups("nogo").empty());
  EXPECT_EQ(trim_str(cove("cove-info", "nogo", {"-s"}).out), "STOPPED");
}

// Cgroups cove-start says it made but the monitor did not plan are never taken: the start fails
// and leaves no runtime dir and no cgroup of the container (nor the ones named).
TEST_F(LifecycleTest, AMonitorRefusesCgroupsItDidNotPlan) {
  create_busybox("other");
  std::string evil = path_ + "/not-a-cgroup";
  ASSERT_EQ(::mkdir(evil.c_str(), 0755), 0);
  auto r = run_monitor_told(path_, "other",
                            {R"({"version": 1, "go": true})",
                             R"({"version": 1, "payload_dirs": [")" + evil + R"("], "monitor_dirs": []})"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.status.find("cove-start made the cgroups " + evil), std::string::npos) << r.status;
  EXPECT_TRUE(std::filesystem::is_directory(evil));
  EXPECT_FALSE(std::filesystem::exists(runtime_dir("other")));
  EXPECT_TRUE(leftover_cgroups("other").empty());
  EXPECT_EQ(trim_str(cove("cove-info", "other", {"-s"}).out), "STOPPED");
  // And a start as cove-start makes it works after.
  EXPECT_EQ(cove("cove-start", "other").status, 0);
}

// cove-start computes init's restrictions while its monitor starts up and hands them over
// (ExecMade): the monitor launches init with those, not with its own reading of the config.
// Here they differ from the config's (no_new_privs, which the busybox config leaves off).
TEST_F(LifecycleTest, AMonitorLaunchesInitWithTheRestrictionsCoveStartComputed) {
  create_busybox("told");
  auto planned = make_cgroups_as_cove_start(path_, "told");
  ASSERT_FALSE(planned.payload_dirs.empty());
  monitor::ExecMade made;
  made.restrictions.emplace();
  made.restrictions->no_new_privs = true;
  auto r = run_monitor_told(path_, "told",
                            {R"({"version": 1, "go": true})", monitor::encode_cgroups_made(planned),
                             monitor::encode_exec_made(made)},
                            false);
  EXPECT_NE(r.status.find(R"("ok":true)"), std::string::npos) << r.status;
  pid_t init = init_pid("told");
  ASSERT_GT(init, 0) << r.status;
  EXPECT_NE(proc_status(init).find("NoNewPrivs:\t1"), std::string::npos) << proc_status(init);
  // An attach gets what init got (the monitor's exec record).
  auto a = cove("cove-attach", "told", {"--", "grep", "NoNewPrivs", "/proc/self/status"});
  EXPECT_NE(a.out.find("NoNewPrivs:\t1"), std::string::npos) << a.out << a.err;
  EXPECT_EQ(cove("cove-stop", "told", {"-k"}).status, 0);
  int ws = 0;
  EXPECT_EQ(::waitpid(r.pid, &ws, 0), r.pid);
  EXPECT_TRUE(leftover_cgroups("told").empty());
  // A start as cove-start makes it follows the config again.
  ASSERT_EQ(cove("cove-start", "told").status, 0);
  EXPECT_NE(proc_status(init_pid("told")).find("NoNewPrivs:\t0"), std::string::npos);
}

// The number of the system call `pid` is blocked in (/proc/PID/syscall), -1 when running or gone.
long blocked_in(pid_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/syscall");
  if (!text || text->empty() || !std::isdigit(static_cast<unsigned char>((*text)[0]))) return -1;
  return std::strtol(text->c_str(), nullptr, 10);
}

// A detached monitor reads the config while cove-start runs its last checks, which may rewrite
// it (a generated hwaddr, by rename): the container gets the config as it is at the `go`.
TEST_F(LifecycleTest, AMonitorReadsTheConfigAgainWhenItChangedBeforeTheGo) {
  create_busybox("reread");
  auto planned = make_cgroups_as_cove_start(path_, "reread");
  ASSERT_FALSE(planned.payload_dirs.empty());
  std::string config = path_ + "/reread/config";
  auto rewrite = [&](pid_t monitor) {
    // Once the monitor waits for its go, it has read the config.
    ASSERT_TRUE(eventually([&] { return blocked_in(monitor) == SYS_recvfrom; }, 5000, 10));
    auto text = read_file(config);
    ASSERT_TRUE(text.has_value());
    ASSERT_TRUE(write_file_atomic(config, config::set_key_in_text(*text, "container", "ttys", "2", false), 0644));
  };
  auto r = run_monitor_told(path_, "reread",
                            {R"({"version": 1, "go": true})", monitor::encode_cgroups_made(planned), R"({"version": 1})"},
                            false, rewrite);
  EXPECT_NE(r.status.find(R"("ok":true)"), std::string::npos) << r.status;
  ASSERT_GT(init_pid("reread"), 0) << r.status;
  // The busybox config says `ttys = 1`; the rewritten one 2.
  EXPECT_EQ(cove("cove-attach", "reread", {"--", "test", "-c", "/dev/tty2"}).status, 0) << *read_file(config);
  EXPECT_EQ(cove("cove-stop", "reread", {"-k"}).status, 0);
  int ws = 0;
  EXPECT_EQ(::waitpid(r.pid, &ws, 0), r.pid);
  EXPECT_TRUE(leftover_cgroups("reread").empty());
}

// What the monitor takes as init's restrictions is parsed as strictly as the rest of the starter
// socket: anything else fails the start, which leaves no runtime dir and no cgroup behind.
TEST_F(LifecycleTest, AMonitorRefusesRestrictionsItCannotRead) {
  create_busybox("badexec");
  const std::pair<std::string, std::string> bad[] = {
      {"not json", "not JSON"},
      {R"({"version": 2})", "protocol version 2"},
      {R"({"version": 1, "exec_record": "{}", "seccomp": "off"})", "no field `seccomp`"},
      {R"({"version": 1, "exec_record": 7})", "exec_record"},
      {R"({"version": 1, "exec_record": "{\"bounding\": \"all\"}"})", "restrictions message"}};
  for (const auto& [word, why] : bad) {
    auto planned = make_cgroups_as_cove_start(path_, "badexec");
    ASSERT_FALSE(planned.payload_dirs.empty());
    auto r = run_monitor_told(path_, "badexec",
                              {R"({"version": 1, "go": true})", monitor::encode_cgroups_made(planned), word}, false);
    // A monitor that took the message and started the container is stopped, and fails the test.
    if (r.status.find(R"("ok":true)") != std::string::npos) cove("cove-stop", "badexec", {"-k"});
    int ws = 0;
    ASSERT_EQ(::waitpid(r.pid, &ws, 0), r.pid);
    EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 1) << why << ": " << r.status;
    EXPECT_NE(r.status.find("cove-start's restrictions"), std::string::npos) << r.status;
    EXPECT_NE(r.status.find(why), std::string::npos) << r.status;
    EXPECT_FALSE(std::filesystem::exists(runtime_dir("badexec"))) << why;
    EXPECT_TRUE(leftover_cgroups("badexec").empty()) << why;
  }
  EXPECT_EQ(trim_str(cove("cove-info", "badexec", {"-s"}).out), "STOPPED");
  EXPECT_EQ(cove("cove-start", "badexec").status, 0);
}

TEST_F(LifecycleTest, FailedStartLeavesNothingBehind) {
  create_busybox("broken");
  auto r = cove("cove-start", "broken", {"--", "/no/such/init"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("exec `/no/such/init`: No such file or directory"), std::string::npos) << r.err;
  EXPECT_EQ(trim_str(cove("cove-info", "broken", {"-s"}).out), "STOPPED");
  EXPECT_FALSE(std::filesystem::exists(runtime_dir("broken")));
  EXPECT_TRUE(leftover_cgroups("broken").empty());
  // And the container still starts normally afterwards.
  r = cove("cove-start", "broken");
  EXPECT_EQ(r.status, 0) << r.err;
}

// cove-start makes the cgroups while its monitor execs (monitor/launch.cpp); a monitor that
// fails before it takes them over (here at its console log, before its cgroups) leaves them to
// cove-start, which removes them.
TEST_F(LifecycleTest, AMonitorFailingBeforeItTakesTheCgroupsLeavesNone) {
  create_busybox("nolog");
  std::ofstream(path_ + "/nolog/config", std::ios::app) << "\n[container]\nconsole.log = /no/such/dir/console\n";
  auto r = cove("cove-start", "nolog");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("console log"), std::string::npos) << r.err;
  EXPECT_EQ(trim_str(cove("cove-info", "nolog", {"-s"}).out), "STOPPED");
  EXPECT_FALSE(std::filesystem::exists(runtime_dir("nolog")));
  EXPECT_TRUE(leftover_cgroups("nolog").empty());
}

TEST_F(LifecycleTest, KilledMonitorIsReportedAndCleanedUp) {
  create_busybox("orphan");
  ASSERT_EQ(cove("cove-start", "orphan").status, 0);
  pid_t mon = monitor_pid("orphan");
  pid_t init = init_pid("orphan");
  ASSERT_GT(mon, 0);
  ASSERT_EQ(::kill(mon, SIGKILL), 0);
  // init dies with its monitor (parent-death signal).
  for (int i = 0; i < 200 && ::kill(init, 0) == 0; ++i) ::usleep(10000);
  EXPECT_NE(::kill(init, 0), 0);
  EXPECT_EQ(info_json_field("orphan", "monitor_died"), "true");
  auto ls = cove("cove-ls", "");
  EXPECT_NE(ls.out.find("monitor died"), std::string::npos) << ls.out;
  EXPECT_EQ(cove("cove-stop", "orphan").status, 0);
  EXPECT_EQ(info_json_field("orphan", "monitor_died"), "false");
  EXPECT_TRUE(leftover_cgroups("orphan").empty());
  EXPECT_FALSE(std::filesystem::exists(runtime_dir("orphan")));
  EXPECT_EQ(cove("cove-start", "orphan").status, 0);
}

TEST_F(LifecycleTest, ExecuteRunsOneCommandAsInitAndReturnsItsStatus) {
  create_busybox("app");
  auto r = cove("cove-execute", "app", {"--", "/bin/sh", "-c", "echo pid=$$; exit 7"});
  EXPECT_EQ(r.status, 7) << r.err;
  EXPECT_EQ(trim_str(r.out), "pid=1");
  EXPECT_TRUE(leftover_cgroups("app").empty());
  EXPECT_FALSE(std::filesystem::exists(runtime_dir("app")));
}

TEST_F(LifecycleTest, RebootStartsANewInit) {
  create_busybox("reboot");
  ASSERT_EQ(cove("cove-start", "reboot").status, 0);
  attach_out("reboot", {"sh", "-c", "echo before > /tmp/marker"});
  pid_t before = init_pid("reboot");
  auto r = cove("cove-stop", "reboot", {"-r"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(trim_str(cove("cove-info", "reboot", {"-s"}).out), "RUNNING");
  EXPECT_NE(init_pid("reboot"), before);
  // /tmp is part of the rootfs here, but processes are new: init is PID 1 again.
  EXPECT_EQ(attach_out("reboot", {"cat", "/proc/1/comm"}), "init");
}

TEST_F(LifecycleTest, WaitSeesStateChanges) {
  create_busybox("waiter");
  EXPECT_EQ(cove("cove-wait", "waiter", {"-s", "STOPPED", "-t", "1"}).status, 0);
  auto r = cove("cove-wait", "waiter", {"-s", "RUNNING", "-t", "0.3"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("timed out"), std::string::npos);
  ASSERT_EQ(cove("cove-start", "waiter").status, 0);
  EXPECT_EQ(cove("cove-wait", "waiter", {"-s", "RUNNING|FROZEN", "-t", "5"}).status, 0);
}

TEST_F(LifecycleTest, KillStopsAtOnce) {
  create_busybox("killme");
  ASSERT_EQ(cove("cove-start", "killme").status, 0);
  EXPECT_EQ(cove("cove-stop", "killme", {"-k"}).status, 0);
  EXPECT_EQ(trim_str(cove("cove-info", "killme", {"-s"}).out), "STOPPED");
  EXPECT_TRUE(leftover_cgroups("killme").empty());
}

}  // namespace
}  // namespace cove::test

namespace cove::test {
namespace {

class ToolEdgeTest : public ContainerTest {};

TEST_F(ToolEdgeTest, NamesThatEscapeThePathAreRefused) {
  std::filesystem::create_directory(path_ + "/../cove-victim-probe");
  for (const char* tool : {"cove-destroy", "cove-stop", "cove-start", "cove-info", "cove-attach"}) {
    auto r = cove(tool, "../cove-victim-probe", {});
    EXPECT_NE(r.status, 0) << tool;
    EXPECT_NE(r.err.find("must not start with '.'"), std::string::npos) << tool << ": " << r.err;
  }
  EXPECT_TRUE(std::filesystem::exists(path_ + "/../cove-victim-probe"));
  std::filesystem::remove(path_ + "/../cove-victim-probe");
}

TEST_F(ToolEdgeTest, ManyTtys) {
  create_busybox("ttys", "[container]\nttys = 20\n");
  // The template sets ttys = 1 after the -f file; raise it again at the end.
  std::ofstream(path_ + "/ttys/config", std::ios::app) << "\n[container]\nttys = 20\n";
  auto r = cove("cove-start", "ttys");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(attach_out("ttys", {"sh", "-c", "ls /dev | grep -c '^tty[0-9]'"}), "20");
}

TEST_F(ToolEdgeTest, ForegroundStartErrorsArePrinted) {
  create_busybox("fg");
  auto r = cove("cove-execute", "fg", {"--", "/no/such/cmd"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("exec `/no/such/cmd`: No such file or directory"), std::string::npos) << r.err;
}

TEST_F(ToolEdgeTest, HelpAndUsageErrors) {
  EXPECT_EQ(run_tool("cove-wait", {"--help"}).status, 0);
  EXPECT_EQ(run_tool("cove-start", {"--version"}).status, 0);
  EXPECT_EQ(run_tool("cove-start", {}).status, 2);
  EXPECT_EQ(run_tool("cove-start", {"-n", "x", "--bogus"}).status, 2);
  EXPECT_EQ(run_tool("cove-stop", {"-n", "x", "-k", "-r"}).status, 2);
  EXPECT_EQ(run_tool("cove", {"nosuchverb"}).status, 2);
  EXPECT_EQ(run_tool("cove", {"ls", "-P", "/nonexistent-cove-path"}).status, 0);
}

TEST_F(ToolEdgeTest, ConsoleConnectsAndDetaches) {
  create_busybox("con");
  ASSERT_EQ(cove("cove-start", "con").status, 0);
  // A real terminal for cove-console (script(1)), typed into slowly, then Ctrl+a q.
  std::string cmd = builddir() + "/cove-console -P " + path_ + " -n con";
  auto r = run_cmd({"sh", "-c",
                    "(sleep 1; printf 'echo con$((6*7))sole\\r'; sleep 1; printf '\\001q') | "
                    "script -qfec '" + cmd + "' /dev/null"},
                   30);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("con42sole"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Detached"), std::string::npos) << r.out;
  // Detaching leaves the container running and the console free for the next client.
  EXPECT_EQ(trim_str(cove("cove-info", "con", {"-s"}).out), "RUNNING");
}

// The monitor runs without glibc's malloc cache (monitor/launch.hpp, monitor_environment): set
// for its exec only; init gets the environment cove gives it, without it.
TEST_F(LifecycleTest, OnlyTheMonitorRunsWithoutTheMallocCache) {
  create_busybox("ct-tc");
  ASSERT_EQ(cove("cove-start", "ct-tc").status, 0);
  auto environ_of = [](pid_t pid) {
    std::string env = read_text("/proc/" + std::to_string(pid) + "/environ");
    std::replace(env.begin(), env.end(), '\0', '\n');
    return "\n" + env;
  };
  EXPECT_NE(environ_of(monitor_pid("ct-tc")).find("\nGLIBC_TUNABLES=glibc.malloc.tcache_count=0"), std::string::npos);
  EXPECT_EQ(environ_of(init_pid("ct-tc")).find("GLIBC_TUNABLES"), std::string::npos);
}

}  // namespace
}  // namespace cove::test
