// cove-oci under a real engine (issue 16): a private containerd (its own root, state and
// socket in the test's directory, a namespace of its own) runs containers through its runc v2
// shim with cove-oci as the runtime binary (`ctr run --runc-binary`), on a busybox rootfs made
// here (`--rootfs`: no image, no registry). Checks what a user of containerd sees: output and
// exit status, a detached task listed RUNNING, killed, deleted, and nothing left — no shim, no
// cove-oci state, no cgroup of the task.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

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

  // The shims of the test's namespace (their command line names it).
  std::vector<pid_t> shims() {
    std::vector<pid_t> out;
    for (const auto& e : fs::directory_iterator("/proc")) {
      std::string name = e.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::string cmd = read_text(e.path().string() + "/cmdline");
      std::replace(cmd.begin(), cmd.end(), '\0', ' ');
      if (cmd.rfind("/usr/bin/containerd-shim-runc-v2 ", 0) == 0 && cmd.find(" " + ns_ + " ") != std::string::npos)
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

  void start_containerd() {
    socket_ = base_ + "/containerd.sock";
    std::ofstream(base_ + "/config.toml") << "version = 2\nroot = \"" << base_ << "/root\"\nstate = \"" << base_
                                         << "/state\"\n[grpc]\n  address = \"" << socket_ << "\"\n"
                                         << "[plugins.\"io.containerd.grpc.v1.cri\"]\n  disable_apparmor = true\n";
    daemon_ = ::fork();
    ASSERT_GE(daemon_, 0);
    if (daemon_ == 0) {
      std::string log = base_ + "/containerd.log";
      std::FILE* f = std::freopen(log.c_str(), "w", stderr);
      (void)f;
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
  EXPECT_EQ(ex.status, 6) << ex.err;
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

}  // namespace
}  // namespace cove::test
