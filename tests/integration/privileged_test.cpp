// Attacks from a privileged container (no user namespace: its root is host root) that cove
// closes anyway (issue 10):
// - CVE-2019-5736: a process inside keeps an O_PATH fd to /proc/PID/exe of the process
//   cove-attach puts into the container and reopens it for writing once the attach is over;
//   cove-attach runs from a read-only overlayfs view of its file (or a sealed memfd copy where
//   the kernel cannot make one), so the fd names the view and reopening it for writing fails,
//   also through a clone of its mount made writable.
// - binfmt_misc: without a user namespace the container's binfmt_misc is the host's instance. No
//   mechanism cove controls can deny the mount on a host without an LSM (see
//   doc/design/security.md); the test documents that hole here and expects the denial where
//   the generated AppArmor profile applies. Whatever it registers is removed in all cases.
// - shocker: with Docker's default profile (which allows open_by_handle_at to holders of
//   dac_read_search) open_by_handle_at must still be denied.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "base/scope_exit.hpp"
#include "security/lsm/lsm.hpp"
#include "support.hpp"

namespace cove::test {
namespace {

void copy_exec(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
  ::chmod(to.c_str(), 0755);
}

class PrivilegedTest : public ContainerTest {
 protected:
  void start_privileged(const std::string& name, const std::string& extra = "") {
    create_busybox(name, "[container]\nprivileged = true\n" + extra);
    rootfs_ = path_ + "/" + name + "/rootfs";
    copy_exec(builddir() + "/cove-probe", rootfs_ + "/cove-probe");
    copy_exec(builddir() + "/cove-exe-grab", rootfs_ + "/cove-exe-grab");
    auto r = cove("cove-start", name);
    ASSERT_EQ(r.status, 0) << r.err;
  }
  std::string rootfs_;
};

// The real attack, against a copy of this build's cove-attach in a temp dir (the build tree's
// binary is never opened for writing): an in-container helper races for /proc/PID/exe while
// cove-attach runs `sleep 0.5`, then reopens what it got for writing once the attach is over.
TEST_F(PrivilegedTest, AttachBinaryCannotBeReopenedForWritingFromInside) {
  start_privileged("pv");
  std::string tools = path_ + "/tools";
  std::filesystem::create_directories(tools);
  std::string attach = tools + "/cove-attach";
  copy_exec(builddir() + "/cove-attach", attach);
  std::string before = read_text(attach);
  ASSERT_FALSE(before.empty());
  std::filesystem::create_directories(rootfs_ + "/tmp/grab");
  auto r = cove("cove-attach", "pv",
                {"--", "sh", "-c", "/cove-exe-grab cove-attach 60 /tmp/grab </dev/null >/dev/null 2>&1 &"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::string caught = rootfs_ + "/tmp/grab/caught", result = rootfs_ + "/tmp/grab/result";
  int attaches = 0;
  for (; attaches < 40 && !std::filesystem::exists(caught); ++attaches) {
    auto a = run_cmd({attach, "-P", path_, "-n", "pv", "--", "sleep", "0.5"});
    ASSERT_EQ(a.status, 0) << a.err;
  }
  for (int i = 0; i < 200 && !std::filesystem::exists(result); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::string got = trim_str(read_text(result));
  ASSERT_FALSE(got.empty()) << "the helper reported nothing";
  ASSERT_NE(got, "none") << "no attach was caught in " << attaches << " tries";
  std::fprintf(stderr, "helper after %d attach(es): %s\n", attaches, got.c_str());
  // The fd names the view (this kernel makes overlays with layers by fd), not the host's path,
  // and no write reaches anything.
  EXPECT_EQ(got.find("exe=" + attach), std::string::npos) << got;
  EXPECT_NE(got.find("reopen=errno 30 "), std::string::npos) << got;  // EROFS
  EXPECT_EQ(got.find("write=ok"), std::string::npos) << got;
  EXPECT_EQ(got.find("unwrap=ok"), std::string::npos) << got;
  EXPECT_EQ(read_text(attach), before) << "the host's cove-attach changed";
}

// The sealed view still finds what lives next to the original and reports its status.
TEST_F(PrivilegedTest, SealedAttachStillWorks) {
  start_privileged("pw");
  EXPECT_EQ(attach_out("pw", {"cat", "/proc/1/comm"}), "init");
  auto r = cove("cove-attach", "pw", {"--", "sh", "-c", "exit 7"});
  EXPECT_EQ(r.status, 7);
}

TEST_F(PrivilegedTest, ShockerDeniedUnderDockerProfile) {
  start_privileged("sh", "[security]\nseccomp = " + srcdir() + "/tests/data/docker-default-seccomp.json\n");
  // The bounding set keeps dac_read_search (Docker's profile allows open_by_handle_at then).
  auto bnd = attach_out("sh", {"sh", "-c", "grep CapBnd /proc/self/status | cut -f2"});
  EXPECT_TRUE(std::stoull(bnd, nullptr, 16) & (1ULL << 2)) << bnd;
  EXPECT_EQ(attach_out("sh", {"/cove-probe", "open-by-handle"}), "errno 1");
}

TEST_F(PrivilegedTest, ShockerDeniedWithoutAnyProfile) {
  start_privileged("sn", "[security]\nseccomp =\n");
  EXPECT_EQ(attach_out("sn", {"/cove-probe", "open-by-handle"}), "errno 1");
  EXPECT_EQ(attach_out("sn", {"/cove-probe", "status", "Seccomp:\t"}), "2");
}

// Runs `script` on the host with the host's binfmt_misc mounted at $B (in a private mount
// namespace of a shell, so nothing stays mounted).
RunResult host_binfmt(const std::string& script) {
  return run_cmd({"unshare", "-m", "sh", "-c",
                  "B=$(mktemp -d) && mount -t binfmt_misc binfmt_misc \"$B\" && { " + script +
                      "; }; rc=$?; umount \"$B\"; rmdir \"$B\"; exit $rc"});
}

TEST_F(PrivilegedTest, BinfmtMiscRegistrationFromInside) {
  std::string entry = "cove-test-" + std::to_string(::getpid());
  ScopeExit cleanup([&] { host_binfmt("[ ! -e \"$B/" + entry + "\" ] || echo -1 > \"$B/" + entry + "\""); });
  ASSERT_EQ(host_binfmt("true").status, 0) << "the host cannot mount binfmt_misc";
  bool apparmor = security::lsm::is_active("apparmor");
  start_privileged("bf", apparmor ? "[security]\napparmor = generated\n" : "");
  // A harmless handler: files named *.covetestzz, run with /bin/false.
  auto r = cove("cove-attach", "bf",
                {"--", "sh", "-c",
                 "mkdir -p /tmp/bfm && mount -t binfmt_misc binfmt_misc /tmp/bfm && echo ':" + entry +
                     ":E::covetestzz::/bin/false:' > /tmp/bfm/register"});
  bool on_host = host_binfmt("test -e \"$B/" + entry + "\"").status == 0;
  if (apparmor) {
    EXPECT_NE(r.status, 0) << "binfmt_misc mounted inside: " << r.out << r.err;
    EXPECT_FALSE(on_host) << "a handler registered in a privileged container reached the host";
  } else if (on_host) {
    // Not defended on a host without an LSM (doc/design/security.md, "binfmt_misc"): reported
    // as a skip, not a pass. The attack ran and the handler is removed (cleanup above).
    GTEST_SKIP() << "known hole without an LSM: a privileged container registered binfmt_misc handler `" << entry
                 << "` in the host's instance (doc/design/security.md)";
  }
}

}  // namespace
}  // namespace cove::test
