// cove-oci under a real engine (issue 16): a private containerd (its own root, state and
// socket in the test's directory, a namespace of its own) runs containers through its runc v2
// shim with cove-oci as the runtime binary (`ctr run --runc-binary`), on a busybox rootfs made
// here (`--rootfs`: no image, no registry). Checks what a user of containerd sees: output and
// exit status, a detached task listed RUNNING, killed, deleted, and nothing left — no shim, no
// cove-oci state, no cgroup of the task. podman (PodmanTest) runs through conmon the same way.
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "base/strings.hpp"
#include "support.hpp"

namespace cove::test {
namespace {

namespace fs = std::filesystem;

class ContainerdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    COVE_REQUIRE_ROOT();
    for (const char* tool : {"containerd", "ctr", "containerd-shim-runc-v2"})
      if (run_cmd({"sh", "-c", std::string("command -v ") + tool}).status != 0)
        GTEST_SKIP() << tool << " is not installed (scripts/install-deps)";
    if (::access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "no /bin/busybox (busybox-static)";
    made_run_dir_ = !fs::exists("/run/containerd");
    char tmpl[] = "/tmp/cove-ctrd.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    ns_ = "cove-test-" + base_.substr(base_.rfind('.') + 1);
    make_rootfs();
    start_containerd();
  }

  void TearDown() override {
    if (base_.empty()) return;
    for (const auto& id : ids_) {
      ctr({"task", "kill", "-s", "SIGKILL", id});
      ctr({"task", "delete", id});
      ctr({"container", "delete", id});
    }
    if (daemon_ > 0) {
      ::kill(daemon_, SIGTERM);
      int st;
      ::waitpid(daemon_, &st, 0);
    }
    // No shim of ours outlives its tasks; cove-oci's state dir for the namespace is empty.
    EXPECT_TRUE(eventually([&] { return shims().empty(); }, 5000, 20)) << "shim left: pid " << shims().front();
    std::string runc_root = "/run/containerd/runc/" + ns_;
    if (fs::exists(runc_root)) {
      EXPECT_TRUE(fs::is_empty(runc_root)) << "cove-oci state left in " << runc_root;
      std::error_code ec;
      fs::remove_all(runc_root, ec);
    }
    for (const auto& h : fs::directory_iterator("/sys/fs/cgroup")) {
      std::string dir = h.path().string() + "/" + ns_;
      if (!fs::exists(dir)) continue;
      for (const auto& id : ids_) EXPECT_FALSE(fs::exists(dir + "/" + id)) << "cgroup left: " << dir << "/" << id;
      ::rmdir(dir.c_str());
    }
    std::error_code ec;
    // containerd 1.6 keeps its shims' sockets in /run/containerd/s whatever its config says:
    // a host that had no containerd before the test has none after it.
    if (made_run_dir_) fs::remove_all("/run/containerd", ec);
    fs::remove_all(base_, ec);
  }

  // The shims of the test's containerd (their command line names its socket).
  std::vector<pid_t> shims() {
    std::vector<pid_t> out;
    for (const auto& e : fs::directory_iterator("/proc")) {
      std::string name = e.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::string cmd = read_text(e.path().string() + "/cmdline");
      std::replace(cmd.begin(), cmd.end(), '\0', ' ');
      if (cmd.rfind("/usr/bin/containerd-shim-runc-v2 ", 0) == 0 && cmd.find(" " + socket_ + " ") != std::string::npos)
        out.push_back(std::stoi(name));
    }
    return out;
  }

  void make_rootfs() {
    rootfs_ = base_ + "/rootfs";
    for (const char* d : {"bin", "proc", "sys", "dev", "etc", "tmp"}) fs::create_directories(rootfs_ + "/" + d);
    fs::copy_file("/bin/busybox", rootfs_ + "/bin/busybox");
    for (const char* a : {"sh", "cat", "echo", "sleep", "id", "hostname"}) fs::create_symlink("busybox", rootfs_ + "/bin/" + a);
  }

  // The CRI plugin's section of containerd's config (CriTest sets it up for pods).
  virtual std::string cri_config() { return "[plugins.\"io.containerd.grpc.v1.cri\"]\n  disable_apparmor = true\n"; }
  // Whether containerd runs in a network namespace of its own (CriTest: the pods' CNI bridge
  // and veths are made there, not on the host).
  virtual bool own_netns() { return false; }

  void start_containerd() {
    socket_ = base_ + "/containerd.sock";
    std::ofstream(base_ + "/config.toml") << "version = 2\nroot = \"" << base_ << "/root\"\nstate = \"" << base_
                                         << "/state\"\n[grpc]\n  address = \"" << socket_ << "\"\n"
                                         << cri_config();
    daemon_ = ::fork();
    ASSERT_GE(daemon_, 0);
    if (daemon_ == 0) {
      std::string log = base_ + "/containerd.log";
      std::FILE* f = std::freopen(log.c_str(), "w", stderr);
      (void)f;
      // Dies with the test (a killed test must not leave a daemon); its netns, made here, goes
      // when it and its shims are gone.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (own_netns() && (::unshare(CLONE_NEWNET) < 0 || ::system("ip link set lo up") != 0)) ::_exit(126);
      ::execlp("containerd", "containerd", "--config", (base_ + "/config.toml").c_str(), nullptr);
      ::_exit(127);
    }
    ASSERT_TRUE(eventually([&] { return ctr({"version"}).status == 0; }, 20000, 50))
        << read_text(base_ + "/containerd.log");
  }

  RunResult ctr(const std::vector<std::string>& args, int timeout_s = 60) {
    std::vector<std::string> a = {"ctr", "--address", socket_, "--namespace", ns_};
    a.insert(a.end(), args.begin(), args.end());
    return run_cmd(a, timeout_s);
  }

  // `ctr run [FLAGS] --rootfs DIR ID CMD...`: --rootfs is a switch whose DIR is the first
  // positional, so every other flag goes before it. ctr's fifos stay in the test's directory.
  RunResult ctr_run(const std::vector<std::string>& flags, const std::string& id, const std::vector<std::string>& cmd) {
    ids_.push_back(id);
    std::vector<std::string> a = {"run", "--runc-binary", builddir() + "/cove-oci", "--fifo-dir", base_ + "/fifo"};
    a.insert(a.end(), flags.begin(), flags.end());
    a.push_back("--rootfs");
    a.push_back(rootfs_);
    a.push_back(id);
    a.insert(a.end(), cmd.begin(), cmd.end());
    return ctr(a);
  }

  std::string base_, ns_, rootfs_, socket_;
  pid_t daemon_ = 0;
  bool made_run_dir_ = false;
  std::vector<std::string> ids_;
};

TEST_F(ContainerdTest, RunsAContainerToItsExitStatus) {
  auto r = ctr_run({"--rm"}, "one", {"/bin/sh", "-c", "echo hello from $(hostname); id -u; exit 3"});
  EXPECT_EQ(r.status, 3) << r.err << read_text(base_ + "/containerd.log");
  EXPECT_NE(r.out.find("hello from"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n0\n"), std::string::npos) << r.out;
}

TEST_F(ContainerdTest, DetachedTaskIsListedKilledAndDeleted) {
  auto r = ctr_run({"-d"}, "two", {"/bin/sleep", "1000"});
  ASSERT_EQ(r.status, 0) << r.err << read_text(base_ + "/containerd.log");
  auto ls = ctr({"task", "ls"});
  EXPECT_NE(ls.out.find("RUNNING"), std::string::npos) << ls.out;
  // containerd's view of the process is cove-oci's.
  auto st = run_tool("cove-oci", {"--root", "/run/containerd/runc/" + ns_, "state", "two"});
  EXPECT_EQ(st.status, 0) << st.err;
  EXPECT_NE(st.out.find("\"running\""), std::string::npos) << st.out;
  // `ctr task exec`: the shim's `exec --process FILE --detach --pid-file`.
  auto ex = ctr({"task", "exec", "--exec-id", "e1", "two", "/bin/sh", "-c", "echo exec-out; exit 6"});
  EXPECT_EQ(ex.status, 6) << ex.err << run_cmd({"ps", "-eo", "pid,ppid,stat,wchan:20,args", "--forest"}).out << read_text(base_ + "/containerd.log");
  EXPECT_NE(ex.out.find("exec-out"), std::string::npos) << ex.out;
  auto pause = ctr({"task", "pause", "two"});
  EXPECT_EQ(pause.status, 0) << pause.err;
  EXPECT_NE(ctr({"task", "ls"}).out.find("PAUSED"), std::string::npos);
  EXPECT_EQ(ctr({"task", "resume", "two"}).status, 0);
  ASSERT_EQ(ctr({"task", "kill", "-s", "SIGKILL", "two"}).status, 0);
  ASSERT_TRUE(eventually([&] { return ctr({"task", "ls"}).out.find("STOPPED") != std::string::npos; }));
  auto del = ctr({"task", "delete", "two"});
  EXPECT_EQ(del.status, 0) << del.err;
  EXPECT_EQ(ctr({"container", "delete", "two"}).status, 0);
  auto gone = run_tool("cove-oci", {"--root", "/run/containerd/runc/" + ns_, "state", "two"});
  EXPECT_NE(gone.err.find("does not exist"), std::string::npos) << gone.err;
}

TEST_F(ContainerdTest, AnErrorReachesTheUserThroughTheShim) {
  // A rootfs without the program: the failure is init's, after the start gate.
  auto r = ctr_run({"--rm"}, "three", {"/no/such/program"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE((r.out + r.err).find("no/such/program"), std::string::npos) << r.out << r.err;
}

// `ctr c checkpoint --task` and `ctr c restore --live` (containerd's shim calls cove-oci's
// checkpoint and restore): an image imported from the busybox rootfs (tests/data/make-oci-image,
// no registry), a counter in the container's memory that goes on after the restore from where
// the checkpoint took it, in a container made again from the checkpoint image.
TEST_F(ContainerdTest, CheckpointAndRestoreThroughCtr) {
  COVE_REQUIRE_CRIU();
  std::string tar = base_ + "/image.tar", image = "localhost/cove-bb:latest";
  auto mk = run_cmd({srcdir() + "/tests/data/make-oci-image", rootfs_, tar, image});
  ASSERT_EQ(mk.status, 0) << mk.err;
  auto imp = ctr({"images", "import", tar});
  ASSERT_EQ(imp.status, 0) << imp.err;
  ids_.push_back("ck");
  auto r = ctr({"run", "-d", "--runc-binary", builddir() + "/cove-oci", "--fifo-dir", base_ + "/fifo", image, "ck",
                "/bin/sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done"});
  ASSERT_EQ(r.status, 0) << r.err << read_text(base_ + "/containerd.log");
  int execs = 0;
  std::string said;
  auto count = [&]() -> long {
    auto c = ctr({"task", "exec", "--exec-id", "c" + std::to_string(++execs), "ck", "/bin/cat", "/tmp/count"}, 10);
    said = c.err;
    return c.status == 0 && !trim_str(c.out).empty() ? std::stol(trim_str(c.out)) : -1;
  };
  ASSERT_TRUE(eventually([&] { return count() >= 10; })) << "the counter does not run: " << said;
  long before = count();
  // --rw: the rootfs's changes travel too (the counter's file may be open at the dump).
  auto ck = ctr({"containers", "checkpoint", "--rw", "--task", "ck", "localhost/ck-checkpoint:1"});
  ASSERT_EQ(ck.status, 0) << ck.err << read_text(base_ + "/containerd.log");
  // containerd pauses the task for the checkpoint and resumes it: it runs on.
  EXPECT_TRUE(eventually([&] { return count() > before; })) << "not running after the checkpoint: " << said;
  ASSERT_EQ(ctr({"task", "kill", "-s", "SIGKILL", "ck"}).status, 0);
  ASSERT_TRUE(eventually([&] { return ctr({"task", "ls"}).out.find("STOPPED") != std::string::npos; }));
  ASSERT_EQ(ctr({"task", "delete", "ck"}).status, 0);
  ASSERT_EQ(ctr({"containers", "delete", "ck"}).status, 0);
  // A new container from the checkpoint image (its spec, the image's snapshot with the saved
  // changes), its task
  // restored: running (not paused, though it was dumped paused), the count from the checkpoint on
  // (a program started afresh would count from 1).
  auto rs = ctr({"containers", "restore", "--rw", "--live", "ck", "localhost/ck-checkpoint:1"});
  ASSERT_EQ(rs.status, 0) << rs.err << read_text(base_ + "/containerd.log");
  long after = -1;
  ASSERT_TRUE(eventually([&] { return (after = count()) > 0; })) << "the restored counter does not run: " << said;
  EXPECT_GE(after, before);
  EXPECT_NE(ctr({"task", "ls"}).out.find("RUNNING"), std::string::npos);
  auto st = run_tool("cove-oci", {"--root", "/run/containerd/runc/" + ns_, "state", "ck"});
  EXPECT_NE(st.out.find("\"running\""), std::string::npos) << st.out;
}

// Kubernetes' view (issue 16): the CRI calls a kubelet makes (RunPodSandbox, CreateContainer,
// StartContainer, ExecSync, ContainerStats, UpdateContainerResources, StopContainer,
// RemoveContainer, StopPodSandbox, RemovePodSandbox), made by tests/data/cri-client to a private
// containerd's CRI plugin, whose only runtime is cove-oci (runtime type io.containerd.runc.v2,
// BinaryName). The pod's network is a CNI bridge with host-local addresses, made inside the
// network namespace containerd runs in (none on the host); its netns is handed to cove-oci by
// path, and the app container joins the sandbox's namespaces by path, as kubelet pods do.
class CriTest : public ContainerdTest {
 protected:
  void SetUp() override {
    COVE_REQUIRE_ROOT();
    if (run_cmd({"/usr/bin/python3", "-c", "import grpc, google.protobuf"}).status != 0)
      GTEST_SKIP() << "python3-grpcio or python3-protobuf is missing (scripts/install-deps)";
    if (run_cmd({"sh", "-c", "command -v protoc"}).status != 0) GTEST_SKIP() << "protoc is missing (scripts/install-deps)";
    for (const char* plugin : {"bridge", "host-local", "loopback"})
      if (::access((std::string(kCniDir) + "/" + plugin).c_str(), X_OK) != 0)
        GTEST_SKIP() << "CNI plugin " << plugin << " is missing (containernetworking-plugins)";
    ContainerdTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ns_ = "k8s.io";  // the CRI plugin's namespace
    cgroup_parent_ = "/cove-cri-" + base_.substr(base_.rfind('.') + 1);
    for (auto [name, cmd] : {std::pair<std::string, std::string>{"localhost/cove-pause:1", R"(["/bin/sleep","2147483647"])"},
                             {"localhost/cove-bb:1", R"(["/bin/sh"])"}}) {
      std::string tar = base_ + "/" + name.substr(name.find('/') + 1, name.find(':') - name.find('/') - 1) + ".tar";
      auto mk = run_cmd({srcdir() + "/tests/data/make-oci-image", rootfs_, tar, name, cmd});
      ASSERT_EQ(mk.status, 0) << mk.err;
      auto imp = ctr({"images", "import", tar});
      ASSERT_EQ(imp.status, 0) << imp.err;
    }
  }

  void TearDown() override {
    for (const auto& id : pods_) {
      cri({"stopp", id});
      cri({"rmp", id});
    }
    // A pod's netns pinned in the test's directory (containerd's state), when its removal
    // failed: unmounted, so that the directory can go.
    if (!base_.empty())
      for (const auto& line : split(read_text("/proc/self/mountinfo"), '\n')) {
        auto f = split_ws(line);
        if (f.size() > 4 && f[4].rfind(base_ + "/", 0) == 0) ::umount2(f[4].c_str(), MNT_DETACH);
      }
    ContainerdTest::TearDown();
    // The pod's cgroup parent (its children went with the pod).
    if (!cgroup_parent_.empty())
      for (const auto& root : cgroup_roots()) {
        std::string dir = root + cgroup_parent_;
        if (fs::exists(dir)) {
          EXPECT_EQ(::rmdir(dir.c_str()), 0) << dir << ": " << std::strerror(errno);
        }
      }
  }

  // Where a cgroupfs path starts: each v1 hierarchy, or the cgroup2 root on a pure v2 host.
  static std::vector<std::string> cgroup_roots() {
    if (fs::exists("/sys/fs/cgroup/cgroup.controllers")) return {"/sys/fs/cgroup"};
    std::vector<std::string> out;
    for (const auto& h : fs::directory_iterator("/sys/fs/cgroup")) out.push_back(h.path().string());
    return out;
  }

  static constexpr const char* kCniDir = "/usr/lib/cni";

  bool own_netns() override { return true; }
  std::string cri_config() override {
    std::filesystem::create_directories(base_ + "/cni");
    std::ofstream(base_ + "/cni/10-cove.conflist")
        << R"({"cniVersion":"0.4.0","name":"cove-cri","plugins":[{"type":"bridge","bridge":"cove-cri0","isGateway":true,)"
        << R"("ipMasq":false,"ipam":{"type":"host-local","ranges":[[{"subnet":"10.88.77.0/24"}]],"dataDir":")" << base_
        << R"(/ipam"}}]})";
    std::string t = "[plugins.\"io.containerd.grpc.v1.cri\"]\n";
    // Pods' netns pinned in containerd's state dir (in the test's directory), not /run/netns.
    // restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE, so the sandbox's -998 cannot be
    // set by any runtime (runc neither); containerd then asks for no less than its own.
    return t + "  disable_apparmor = true\n  enable_selinux = false\n  sandbox_image = \"localhost/cove-pause:1\"\n" +
           "  netns_mounts_under_state_dir = true\n  restrict_oom_score_adj = true\n" +
           "  stream_server_address = \"127.0.0.1\"\n  stream_server_port = \"0\"\n" + t.substr(0, t.size() - 2) +
           ".cni]\n    bin_dir = \"" + kCniDir + "\"\n    conf_dir = \"" + base_ + "/cni\"\n" + t.substr(0, t.size() - 2) +
           ".containerd]\n    default_runtime_name = \"cove\"\n    snapshotter = \"overlayfs\"\n" +
           t.substr(0, t.size() - 2) + ".containerd.runtimes.cove]\n      runtime_type = \"io.containerd.runc.v2\"\n" +
           t.substr(0, t.size() - 2) + ".containerd.runtimes.cove.options]\n        BinaryName = \"" + builddir() +
           "/cove-oci\"\n        Root = \"" + base_ + "/runc\"\n";
  }

  RunResult cri(const std::vector<std::string>& args, int timeout_s = 120) {
    std::vector<std::string> a = {srcdir() + "/tests/data/cri-client", socket_, base_ + "/cri-gen"};
    a.insert(a.end(), args.begin(), args.end());
    return run_cmd(a, timeout_s);
  }

  std::string write_json(const std::string& name, const std::string& text) {
    std::string path = base_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  std::vector<std::string> pods_;
  std::string cgroup_parent_;
};

TEST_F(CriTest, APodRunsThroughTheCriAsKubeletAsksIt) {
  auto v = cri({"version"});
  ASSERT_EQ(v.status, 0) << v.err << read_text(base_ + "/containerd.log");
  const std::string& cgroup_parent = cgroup_parent_;
  std::string pod = write_json("pod.json", R"({"metadata":{"name":"web","uid":"u-1","namespace":"default","attempt":0},)"
                                           R"("hostname":"web-pod","logDirectory":")" + base_ + R"(/logs",)"
                                           R"("linux":{"cgroupParent":")" + cgroup_parent + R"("}})");
  auto runp = cri({"runp", pod});
  ASSERT_EQ(runp.status, 0) << runp.err << read_text(base_ + "/containerd.log");
  std::string pod_id = trim_str(runp.out);
  pods_.push_back(pod_id);
  auto ps = cri({"podstatus", pod_id});
  EXPECT_NE(ps.out.find("\"SANDBOX_READY\""), std::string::npos) << ps.out << ps.err;
  EXPECT_NE(ps.out.find("\"10.88.77."), std::string::npos) << ps.out;  // CNI's address

  std::string ctr_cfg = write_json("ctr.json", R"({"metadata":{"name":"app","attempt":0},"image":{"image":"localhost/cove-bb:1"},)"
                                               R"("command":["/bin/sh","-c","echo started > /tmp/log; exec sleep 1000"],)"
                                               R"("logPath":"app.log","linux":{"resources":{"memoryLimitInBytes":"67108864"}}})");
  auto create = cri({"create", pod_id, ctr_cfg, pod});
  ASSERT_EQ(create.status, 0) << create.err << read_text(base_ + "/containerd.log");
  std::string id = trim_str(create.out);
  auto start = cri({"start", id});
  ASSERT_EQ(start.status, 0) << start.err << read_text(base_ + "/containerd.log");
  EXPECT_NE(cri({"status", id}).out.find("\"CONTAINER_RUNNING\""), std::string::npos);

  // cove-oci runs it: its state, under the Root the runtime options name.
  auto st = run_tool("cove-oci", {"--root", base_ + "/runc/k8s.io", "state", id});
  EXPECT_NE(st.out.find("\"running\""), std::string::npos) << st.out << st.err;
  // ExecSync: the pod's hostname (the sandbox's uts namespace, joined by path), its network
  // (the CNI veth in the sandbox's netns), and the command's own output and status.
  EXPECT_TRUE(eventually([&] { return cri({"exec", id, "/bin/cat", "/tmp/log"}).out == "started\n"; }));
  auto ex = cri({"exec", id, "/bin/sh", "-c", "hostname; cat /tmp/log; ip -4 addr show eth0; exit 3"});
  EXPECT_EQ(ex.status, 3) << ex.err;
  EXPECT_NE(ex.out.find("web-pod"), std::string::npos) << ex.out;
  EXPECT_NE(ex.out.find("started"), std::string::npos) << ex.out;
  EXPECT_NE(ex.out.find("inet 10.88.77."), std::string::npos) << ex.out;
  auto stats = cri({"stats", id});
  EXPECT_EQ(stats.status, 0) << stats.err;
  EXPECT_NE(stats.out.find("\"memory\""), std::string::npos) << stats.out;
  // The memory limit from the container's config, then one from UpdateContainerResources.
  std::string payload;
  for (const auto& root : cgroup_roots())
    for (const char* file : {"/memory.limit_in_bytes", "/memory.max"})
      if (fs::exists(root + cgroup_parent + "/" + id + file)) payload = root + cgroup_parent + "/" + id + file;
  ASSERT_FALSE(payload.empty()) << "no memory cgroup of the container under " << cgroup_parent;
  EXPECT_EQ(trim_str(read_text(payload)), "67108864");
  std::string res = write_json("res.json", R"({"memoryLimitInBytes":"134217728"})");
  auto up = cri({"update", id, res});
  EXPECT_EQ(up.status, 0) << up.err << read_text(base_ + "/containerd.log");
  EXPECT_EQ(trim_str(read_text(payload)), "134217728");

  auto stop = cri({"stop", id, "2"});
  ASSERT_EQ(stop.status, 0) << stop.err;
  EXPECT_NE(cri({"status", id}).out.find("\"CONTAINER_EXITED\""), std::string::npos);
  ASSERT_EQ(cri({"rm", id}).status, 0);
  auto stopp = cri({"stopp", pod_id});
  ASSERT_EQ(stopp.status, 0) << stopp.err << read_text(base_ + "/containerd.log");
  auto rmp = cri({"rmp", pod_id});
  ASSERT_EQ(rmp.status, 0) << rmp.err;
  pods_.clear();
  // Nothing of the pod is left: no cove-oci state, no cgroup below the parent, no pinned netns.
  EXPECT_TRUE(fs::is_empty(base_ + "/runc/k8s.io")) << "cove-oci state left";
  for (const auto& root : cgroup_roots()) {
    std::string dir = root + cgroup_parent;
    if (fs::exists(dir)) {
      EXPECT_EQ(run_cmd({"find", dir, "-mindepth", "1", "-type", "d"}).out, "") << dir;
    }
  }
  EXPECT_EQ(run_cmd({"sh", "-c", "grep -c ' " + base_ + "' /proc/self/mountinfo"}).out, "0\n");
}

// podman with cove-oci as --runtime: its own storage and run root in the test's directory,
// cgroupfs paths, an image imported from the busybox rootfs (no registry). conmon drives
// cove-oci: run to an exit status, a detached container exec'd into, stopped and removed.
class PodmanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    COVE_REQUIRE_ROOT();
    if (run_cmd({"sh", "-c", "command -v podman"}).status != 0) GTEST_SKIP() << "podman is not installed";
    if (::access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "no /bin/busybox (busybox-static)";
    made_libpod_parent_ = !fs::exists("/sys/fs/cgroup/memory/libpod_parent");
    made_state_root_ = !fs::exists("/run/cove-oci");  // podman calls cove-oci without --root
    char tmpl[] = "/tmp/cove-podman.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    std::string r = base_ + "/rootfs";
    for (const char* d : {"bin", "proc", "sys", "dev", "etc", "tmp"}) fs::create_directories(r + "/" + d);
    fs::copy_file("/bin/busybox", r + "/bin/busybox");
    for (const char* a : {"sh", "echo", "sleep", "id", "cat"}) fs::create_symlink("busybox", r + "/bin/" + a);
    ASSERT_EQ(run_cmd({"tar", "-C", r, "-cf", base_ + "/rootfs.tar", "."}).status, 0);
    auto imp = podman({"import", base_ + "/rootfs.tar", "localhost/cove-bb"});
    ASSERT_EQ(imp.status, 0) << imp.err;
  }

  void TearDown() override {
    if (base_.empty()) return;
    podman({"rm", "--all", "--force"});
    podman({"rmi", "--all", "--force"});
    // Storage mounts podman may still hold under the test's directory.
    for (int i = 0; i < 3; ++i) run_cmd({"sh", "-c", "grep -o ' " + base_ + "[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l"});
    EXPECT_EQ(read_text("/proc/self/mountinfo").find(" " + base_), std::string::npos) << "mounts left";
    // cove-oci removes each container's cgroup (libpod_parent/libpod-ID); podman keeps conmon's
    // (libpod_parent/conmon), which goes too when the test's podman made it.
    for (const auto& h : fs::directory_iterator("/sys/fs/cgroup")) {
      std::string dir = h.path().string() + "/libpod_parent";
      if (!fs::exists(dir)) continue;
      for (const auto& e : fs::directory_iterator(dir)) {
        if (e.is_directory()) {
          EXPECT_EQ(e.path().filename().string().rfind("libpod-", 0), std::string::npos) << e.path();
        }
      }
      if (made_libpod_parent_) {
        ::rmdir((dir + "/conmon").c_str());
        ::rmdir(dir.c_str());
      }
    }
    std::error_code ec;
    if (made_state_root_ && fs::exists("/run/cove-oci")) {
      EXPECT_TRUE(fs::is_empty("/run/cove-oci")) << "cove-oci state left";
      fs::remove_all("/run/cove-oci", ec);
    }
    fs::remove_all(base_, ec);
  }


  RunResult podman(const std::vector<std::string>& args, int timeout_s = 120) {
    std::vector<std::string> a = {"podman", "--root", base_ + "/storage", "--runroot", base_ + "/run",
                                  "--cgroup-manager", "cgroupfs", "--events-backend", "file",
                                  "--runtime", builddir() + "/cove-oci"};
    a.insert(a.end(), args.begin(), args.end());
    return run_cmd(a, timeout_s);
  }

  // This host's root lacks CAP_SYS_RESOURCE: podman's default rlimits cannot be set here.
  std::vector<std::string> run_flags() {
    return {"--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"};
  }

  std::string base_;
  bool made_libpod_parent_ = false;
  bool made_state_root_ = false;
};

TEST_F(PodmanTest, RunsExecsStopsAndRemoves) {
  std::vector<std::string> a = {"run", "--rm"};
  for (const auto& f : run_flags()) a.push_back(f);
  for (std::string s : {"localhost/cove-bb", "/bin/sh", "-c", "echo hello from podman; exit 4"}) a.push_back(s);
  auto r = podman(a);
  EXPECT_EQ(r.status, 4) << r.err;
  EXPECT_NE(r.out.find("hello from podman"), std::string::npos) << r.out;
  a = {"run", "-d", "--name", "pm1"};
  for (const auto& f : run_flags()) a.push_back(f);
  for (std::string s : {"localhost/cove-bb", "/bin/sleep", "1000"}) a.push_back(s);
  auto d = podman(a);
  ASSERT_EQ(d.status, 0) << d.err;
  auto ex = podman({"exec", "pm1", "/bin/sh", "-c", "echo exec-ok; exit 3"});
  EXPECT_EQ(ex.status, 3) << ex.err;
  EXPECT_NE(ex.out.find("exec-ok"), std::string::npos) << ex.out;
  EXPECT_EQ(podman({"stop", "-t", "1", "pm1"}).status, 0);
  EXPECT_EQ(podman({"rm", "pm1"}).status, 0);
  EXPECT_EQ(trim_str(podman({"ps", "-aq"}).out), "");
}

// A rootful podman container in a user namespace of its own (--userns=auto: podman picks a
// range of the `containers` entry of /etc/subuid and /etc/subgid, which the test adds for its
// run and puts back as it was): root inside, a mapped uid outside, its cgroup mount working (a
// user namespace cannot mount cgroupfs in the host's cgroup namespace: cove-oci gives it one).
TEST_F(PodmanTest, UserNamespaceAuto) {
  struct SubIdsFor {
    std::vector<std::pair<std::string, std::string>> saved;
    SubIdsFor() {
      for (const char* f : {"/etc/subuid", "/etc/subgid"}) {
        saved.emplace_back(f, read_text(f));
        std::ofstream(f, std::ios::app) << "containers:2147483647:2147483648\n";
      }
    }
    ~SubIdsFor() {
      for (const auto& [f, text] : saved) std::ofstream(f, std::ios::trunc) << text;
    }
  } subids;
  std::vector<std::string> a = {"run", "--rm", "--userns=auto"};
  for (const auto& f : run_flags()) a.push_back(f);
  for (std::string s : {"localhost/cove-bb", "/bin/sh", "-c", "id -u; cat /proc/self/uid_map; ls /sys/fs/cgroup"})
    a.push_back(s);
  auto r = podman(a);
  ASSERT_EQ(r.status, 0) << r.err;
  auto lines = split(r.out, '\n');
  ASSERT_GE(lines.size(), 2u) << r.out;
  EXPECT_EQ(lines[0], "0");
  auto map = split_ws(lines[1]);
  ASSERT_EQ(map.size(), 3u) << lines[1];
  EXPECT_EQ(map[0], "0");
  EXPECT_GE(std::stoull(map[1]), 2147483647ull) << "root inside is not a mapped uid outside: " << lines[1];
  EXPECT_NE(r.out.find("memory"), std::string::npos) << r.out;
}

// `podman container checkpoint` and `restore`: podman asks `cove-oci checkpoint --help`
// whether it can, checkpoints (the container exits), and conmon restores it with cove-oci's
// `restore --detach`; the counter in its memory goes on from where it was.
TEST_F(PodmanTest, CheckpointAndRestore) {
  COVE_REQUIRE_CRIU();
  std::vector<std::string> a = {"run", "-d", "--name", "pck"};
  for (const auto& f : run_flags()) a.push_back(f);
  for (std::string s : {"localhost/cove-bb", "/bin/sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done"})
    a.push_back(s);
  auto d = podman(a);
  ASSERT_EQ(d.status, 0) << d.err;
  std::string said;
  auto count = [&]() -> long {
    auto c = podman({"exec", "pck", "/bin/cat", "/tmp/count"}, 20);
    said = c.err;
    return c.status == 0 && !trim_str(c.out).empty() ? std::stol(trim_str(c.out)) : -1;
  };
  ASSERT_TRUE(eventually([&] { return count() >= 10; })) << "the counter does not run: " << said;
  long before = count();
  auto ck = podman({"container", "checkpoint", "pck"});
  ASSERT_EQ(ck.status, 0) << ck.err;
  EXPECT_NE(podman({"ps", "-a", "--format", "{{.Status}}"}).out.find("Exited"), std::string::npos);
  auto rs = podman({"container", "restore", "pck"});
  ASSERT_EQ(rs.status, 0) << rs.err;
  EXPECT_NE(podman({"ps", "--format", "{{.Status}}"}).out.find("Up"), std::string::npos);
  long after = -1;
  ASSERT_TRUE(eventually([&] { return (after = count()) > 0; })) << "the restored counter does not run: " << said;
  EXPECT_GE(after, before);
  EXPECT_EQ(podman({"rm", "-f", "-t", "0", "pck"}).status, 0);
}

}  // namespace
}  // namespace cove::test
