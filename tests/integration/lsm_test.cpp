// AppArmor and SELinux, end to end. These tests need the LSM active, so on a host without it
// they skip; tests/vm/lsm-check runs them in QEMU guests booted with each LSM (one boot per LSM).
//   AppArmor: the shipped default (`apparmor = generated optional`) loads a per-container profile,
//   init and cove-attach commands run confined by it, and a denied access returns EACCES inside.
//   SELinux (permissive): init and attached commands run in the configured context.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "support.hpp"

namespace cove::test {
namespace {

bool lsm_active(const std::string& name) {
  std::string l = "," + trim_str(read_text("/sys/kernel/security/lsm")) + ",";
  return l.find("," + name + ",") != std::string::npos;
}

class LsmTest : public ContainerTest {
 protected:
  // cove-create under TCG takes minutes (the busybox template forks per applet): one container
  // per test, with a long timeout, from COVE_TEST_TEMPLATE when set (tests/vm/lsm-check points
  // it at a copy of a busybox rootfs built on the host).
  void create_slowly(const std::string& name, const std::string& extra = "") {
    names_.push_back(name);
    const char* tmpl = std::getenv("COVE_TEST_TEMPLATE");
    std::vector<std::string> args = {"-t", tmpl && *tmpl ? tmpl : "busybox"};
    if (!extra.empty()) {
      std::string f = path_ + "/" + name + ".conf";
      std::ofstream(f) << extra;
      args.insert(args.end(), {"-f", f});
    }
    auto r = cove("cove-create", name, args, 900);
    ASSERT_EQ(r.status, 0) << r.err;
  }
  void append_config(const std::string& name, const std::string& text) {
    std::ofstream(path_ + "/" + name + "/config", std::ios::app) << "\n" << text;
  }
  void copy_probe(const std::string& name) {
    std::string probe = path_ + "/" + name + "/rootfs/cove-probe";
    std::filesystem::copy_file(builddir() + "/cove-probe", probe);
    ::chmod(probe.c_str(), 0755);
  }
  std::string attr_current(pid_t pid) {
    std::string s = read_text("/proc/" + std::to_string(pid) + "/attr/current");
    while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
    return s;
  }
};

TEST_F(LsmTest, AppArmorGeneratedProfileConfinesInitAndAttach) {
  if (!lsm_active("apparmor")) GTEST_SKIP() << "AppArmor is not active here (tests/vm/lsm-check runs this)";
  create_slowly("aa");  // common.conf: apparmor = generated optional
  copy_probe("aa");
  auto r = cove("cove-start", "aa", {}, 300);
  ASSERT_EQ(r.status, 0) << r.err;
  // The generated profile is loaded ...
  std::string profiles = read_text("/sys/kernel/security/apparmor/profiles");
  auto pos = profiles.find("cove-aa-");
  ASSERT_NE(pos, std::string::npos) << profiles;
  std::string profile = profiles.substr(pos, profiles.find(' ', pos) - pos);
  // ... init runs confined by it (checked from the host) ...
  pid_t init = init_pid("aa");
  ASSERT_GT(init, 0);
  EXPECT_EQ(attr_current(init), profile + " (enforce)");
  // ... and so does an attached command.
  EXPECT_EQ(attach_out("aa", {"cat", "/proc/self/attr/current"}), profile + " (enforce)");
  // Denied by the profile (`deny mount fstype=proc`), allowed by the kernel in a user namespace.
  EXPECT_EQ(attach_out("aa", {"/cove-probe", "mount-proc"}), "errno 13");
  EXPECT_EQ(attach_out("aa", {"/cove-probe", "fresh-proc-write"}), "errno 13 at mount");
  // Ordinary work is unaffected.
  EXPECT_EQ(attach_out("aa", {"sh", "-c", "echo hi > /tmp/x && cat /tmp/x"}), "hi");
  // A named profile that is not loaded fails the start, naming it.
  ASSERT_EQ(cove("cove-stop", "aa", {"-k"}, 120).status, 0);
  append_config("aa", "[security]\napparmor = cove-no-such-profile\n");
  r = cove("cove-start", "aa", {}, 300);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("cove-no-such-profile"), std::string::npos) << r.err;
  // Destroying the container unloads its generated profile.
  ASSERT_EQ(cove("cove-destroy", "aa", {"-f"}, 120).status, 0);
  EXPECT_EQ(read_text("/sys/kernel/security/apparmor/profiles").find(profile + " "), std::string::npos);
}

TEST_F(LsmTest, SelinuxInitRunsInTheConfiguredContext) {
  if (!lsm_active("selinux")) GTEST_SKIP() << "SELinux is not active here (tests/vm/lsm-check runs this)";
  const std::string context = "system_u:system_r:initrc_t:s0";
  const std::string mount_context = "system_u:object_r:tmpfs_t:s0";
  create_slowly("se", "[security]\nselinux = " + context + "\nselinux.mount_context = " + mount_context + "\n");
  auto r = cove("cove-start", "se", {}, 300);
  ASSERT_EQ(r.status, 0) << r.err;
  pid_t init = init_pid("se");
  ASSERT_GT(init, 0);
  EXPECT_EQ(attr_current(init), context);
  std::string attached = attach_out("se", {"cat", "/proc/self/attr/current"});
  std::erase(attached, '\0');  // SELinux terminates the context with a NUL
  EXPECT_EQ(attached, context);
  // The filesystems cove mounts for the container carry the mount context: /dev, its devpts
  // and shm, and the masks.
  std::istringstream mounts(attach_out("se", {"cat", "/proc/self/mounts"}));
  std::set<std::string> labelled;
  for (std::string line; std::getline(mounts, line);) {
    std::istringstream f(line);
    std::string src, dir, type, opts;
    f >> src >> dir >> type >> opts;
    if (opts.find("context=\"" + mount_context + "\"") != std::string::npos ||
        opts.find("context=" + mount_context) != std::string::npos)
      labelled.insert(dir);
  }
  for (const char* dir : {"/dev", "/dev/pts", "/dev/shm", "/sys/firmware"})
    EXPECT_TRUE(labelled.count(dir)) << dir << " lacks context " << mount_context;
  // A context the loaded policy does not know fails the start, naming it.
  ASSERT_EQ(cove("cove-stop", "se", {"-k"}, 120).status, 0);
  append_config("se", "[security]\nselinux = system_u:system_r:no_such_t:s0\n");
  r = cove("cove-start", "se", {}, 300);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("no_such_t"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace cove::test
