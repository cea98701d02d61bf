// A fixture base for tests of storage and images: start, kill and run a shell command in a
// container, and the check that no loop device or mount of the test's own path is left.
#pragma once

#include <string>

#include "support.hpp"

namespace cove::test {

class RootfsTest : public ContainerTest {
 protected:
  void start(const std::string& name) {
    auto r = cove("cove-start", name);
    ASSERT_EQ(r.status, 0) << r.err;
  }
  void stop(const std::string& name) {
    auto r = cove("cove-stop", name, {"-k"});
    ASSERT_EQ(r.status, 0) << r.err;
  }
  RunResult sh(const std::string& name, const std::string& script) {
    return cove("cove-attach", name, {"--", "/bin/sh", "-c", script});
  }
  // No loop device backs a file under `base`, and nothing is mounted under it. A loop device
  // detaches (autoclear) once the last mount namespace holding its filesystem is gone, which
  // the kernel finishes asynchronously after the container's last process.
  static void expect_nothing_left(const std::string& base) {
    RunResult l;
    eventually([&] { l = run_cmd({"losetup", "-a"}); return l.out.find(base) == std::string::npos; }, 5000, 50);
    EXPECT_EQ(l.out.find(base), std::string::npos) << "loop devices left: " << l.out;
    std::string mi = read_text("/proc/self/mountinfo");
    EXPECT_EQ(mi.find(" " + base), std::string::npos) << "mounts left under " << base;
  }
};

}  // namespace cove::test
