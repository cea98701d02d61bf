// The v2 device program on the real kernel (root): built from rules, loaded (the verifier
// accepts it), attached to a fresh cgroup2 cgroup, and enforced on a process inside: allowed
// nodes open, others fail with EPERM. Runs wherever a cgroup2 hierarchy is mounted (the
// hybrid host's `unified` too).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fs.hpp"
#include "cgroup/cgroup.hpp"
#include "cgroup/device_bpf.hpp"

namespace cove::cgroup {
namespace {

// In a child moved into `dir`: 0 when `path` opens, else errno.
int open_in(const std::string& dir, const char* path) {
  int p[2];
  if (::pipe(p) < 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    int err = 0;
    if (!write_existing(dir + "/cgroup.procs", std::to_string(::getpid()))) err = 1000;
    else {
      int fd = ::open(path, O_RDONLY | O_CLOEXEC);
      err = fd < 0 ? errno : 0;
    }
    (void)!::write(p[1], &err, sizeof err);
    ::_exit(0);
  }
  ::close(p[1]);
  int err = -1;
  (void)!::read(p[0], &err, sizeof err);
  ::close(p[0]);
  ::waitpid(pid, nullptr, 0);
  return err;
}

TEST(DeviceBpf, LoadAttachEnforce) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  auto layout = detect_layout();
  ASSERT_TRUE(layout.has_value()) << layout.error().message();
  const Hierarchy* v2 = layout->v2();
  if (!v2) GTEST_SKIP() << "no cgroup2 hierarchy";
  std::string dir = v2->mount_point + "/cove.payload.bpftest-" + std::to_string(::getpid());
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0) << dir;
  struct Cleanup {
    std::string d;
    ~Cleanup() { ::rmdir(d.c_str()); }
  } cleanup{dir};

  ResourceLimits limits;  // the defaults: null zero full random urandom tty console ptmx ptys
  limits.devices.push_back(DeviceRule{false, 'c', 1, 9, kAccessRead});  // not urandom for reading
  auto prog = load_device_program(build_device_program(effective_device_rules(limits)));
  ASSERT_TRUE(prog.has_value()) << prog.error().message();
  auto r = attach_device_program(dir, prog->get(), -1);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(open_in(dir, "/dev/null"), 0);
  EXPECT_EQ(open_in(dir, "/dev/zero"), 0);
  EXPECT_EQ(open_in(dir, "/dev/urandom"), EPERM);
  EXPECT_EQ(open_in(dir, "/dev/kmsg"), EPERM);
  // Replacing it: the new program alone decides.
  auto allow_all = load_device_program(build_device_program({DeviceRule{true, 'a', -1, -1, 7}}));
  ASSERT_TRUE(allow_all.has_value()) << allow_all.error().message();
  r = attach_device_program(dir, allow_all->get(), prog->get());
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(open_in(dir, "/dev/urandom"), 0);
}

// A program the verifier refuses: the error says why, in the verifier's words (the program is
// loaded a second time, with the log, only to explain a refusal) and no fd is handed out.
TEST(DeviceBpf, RefusedProgramIsExplained) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  auto insns = build_device_program({});
  ASSERT_GE(insns.size(), 2u);
  insns.pop_back();  // no exit: control falls off the end
  int before = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(before, 0);
  ::close(before);
  auto prog = load_device_program(insns);
  ASSERT_FALSE(prog.has_value());
  EXPECT_NE(prog.error().message().find("load device program (" + std::to_string(insns.size()) + " instructions)"),
            std::string::npos)
      << prog.error().message();
  EXPECT_NE(prog.error().message().find(": verifier: "), std::string::npos) << prog.error().message();
  int after = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  EXPECT_EQ(after, before) << "an fd was left open";
  ::close(after);
}

}  // namespace
}  // namespace cove::cgroup
