// The security part of a LaunchPlan (capabilities, seccomp program, LSM choice, masks, sysctls),
// the LSM choice on hosts with and without the LSM, the ownership-shift id arithmetic and the
// host-wide id map registry (in a temp dir).
#include <fstream>

#include "cgroup/cgroup.hpp"
#include "lifecycle/launch_plan.hpp"
#include "lifecycle/security_plan.hpp"
#include "ns/idmap_registry.hpp"
#include "rootfs/ownership_shift.hpp"
#include "security/capabilities.hpp"
#include "support.hpp"

namespace cove::lifecycle {
namespace {

using config::Namespace;

config::ContainerConfig base_config() {
  config::ContainerConfig c;
  c.name = "web";
  c.rootfs = "/var/lib/cove/web/rootfs";
  c.clone_ns = {Namespace::kMnt, Namespace::kPid, Namespace::kUts, Namespace::kIpc, Namespace::kNet, Namespace::kUser};
  c.uid_map = {{0, 1000000, 65536}};
  c.gid_map = {{0, 1000000, 65536}};
  return c;
}

std::string lsm_file(const test::TempDir& d, const std::string& content) {
  std::ofstream(d.file("lsm")) << content;
  return d.file("lsm");
}

TEST(SecurityPlan, CapsSeccompAndPathsInThePlan) {
  auto c = base_config();
  c.security.cap_drop = {16, 17, 25};
  c.security.seccomp = std::string(COVE_SRCDIR) + "/config/seccomp/default.seccomp";
  c.security.no_new_privs = true;
  c.security.masked_paths = {"proc/kcore"};
  c.security.readonly_paths = {"proc/bus"};
  c.security.sysctls = {{"net.ipv4.ip_forward", "1"}};
  c.security.rlimits = {{7, 100, 200}};
  auto p = make_launch_plan(c, {}, cgroup::Layout{}, false);
  ASSERT_OK(p);
  EXPECT_FALSE(p->exec.bounding & (1ULL << 16));
  EXPECT_FALSE(p->exec.bounding & (1ULL << 25));
  EXPECT_TRUE(p->exec.bounding & (1ULL << 21));
  EXPECT_TRUE(p->exec.bounding & (1ULL << 22));  // sys_boot
  EXPECT_TRUE(p->exec.no_new_privs);
  EXPECT_GT(p->exec.seccomp.size(), 20u);
  EXPECT_EQ(p->masked_paths, (std::vector<std::string>{"proc/kcore"}));
  EXPECT_EQ(p->sysctls.size(), 1u);
  ASSERT_EQ(p->exec.rlimits.size(), 1u);
  EXPECT_EQ(p->shift_record, "/var/lib/cove/web/.rootfs-shift");
  auto text = describe(*p);
  EXPECT_NE(text.find("mask /proc/kcore"), std::string::npos) << text;
  EXPECT_NE(text.find("no_new_privs=true"), std::string::npos) << text;
  EXPECT_EQ(text.find("sys_module"), std::string::npos) << text;
}

TEST(SecurityPlan, BadSeccompFileFailsThePlanNamingIt) {
  auto c = base_config();
  c.security.seccomp = "/nonexistent/policy";
  EXPECT_ERROR_CONTAINS(make_launch_plan(c, {}, cgroup::Layout{}, false), "seccomp policy `/nonexistent/policy`");
  test::TempDir d;
  std::ofstream(d.file("bad.seccomp")) << "2\ndenylist\nkexec_load frobnicate\n";
  c.security.seccomp = d.file("bad.seccomp");
  EXPECT_ERROR_CONTAINS(make_launch_plan(c, {}, cgroup::Layout{}, false), "bad.seccomp:3: unknown action `frobnicate`");
}

TEST(SecurityPlan, MissingLsmIsAnErrorNamingIt) {
  test::TempDir d;
  auto f = lsm_file(d, "lockdown,capability,landlock,bpf\n");
  config::SecurityConfig s;
  s.apparmor = {"generated", false};
  EXPECT_ERROR_CONTAINS(choose_lsm(s, "cove-x", f), "the host does not run the AppArmor LSM");
  s.apparmor.optional = true;
  auto none = choose_lsm(s, "cove-x", f);
  ASSERT_OK(none);
  EXPECT_EQ(none->lsm, "");
  s.apparmor = {"unconfined", false};  // unconfined is what a host without AppArmor gives anyway
  ASSERT_OK(choose_lsm(s, "cove-x", f));
  config::SecurityConfig se;
  se.selinux = {"system_u:system_r:container_t:s0", false};
  EXPECT_ERROR_CONTAINS(choose_lsm(se, "cove-x", f), "SELinux");
}

TEST(SecurityPlan, GeneratedAppArmorProfileOnAnAppArmorHost) {
  test::TempDir d;
  auto f = lsm_file(d, "lockdown,capability,landlock,yama,apparmor,bpf\n");
  config::SecurityConfig s;
  s.apparmor = {"generated", true};
  auto ch = choose_lsm(s, "cove-web-1234abcd", f);
  ASSERT_OK(ch);
  EXPECT_EQ(ch->lsm, "apparmor");
  EXPECT_TRUE(ch->generate);
  EXPECT_EQ(ch->label, "cove-web-1234abcd");
  s.apparmor = {"my-profile", false};
  ch = choose_lsm(s, "x", f);
  ASSERT_OK(ch);
  EXPECT_EQ(ch->label, "my-profile");
  EXPECT_FALSE(ch->generate);
  auto c = base_config();
  EXPECT_EQ(generated_profile_name(c).rfind("cove-web-", 0), 0u);
}

TEST(OwnershipShift, IdArithmetic) {
  std::vector<config::IdMapEntry> to = {{0, 1000000, 65536}};
  EXPECT_EQ(rootfs::shifted_id(0, nullptr, to), 1000000u);
  EXPECT_EQ(rootfs::shifted_id(1000, nullptr, to), 1001000u);
  EXPECT_EQ(rootfs::shifted_id(70000, nullptr, to), 70000u);      // unmapped: left alone
  EXPECT_EQ(rootfs::shifted_id(1001000, nullptr, to), 1001000u);  // already shifted
  std::vector<config::IdMapEntry> from = {{0, 2000000, 65536}};
  EXPECT_EQ(rootfs::shifted_id(2000005, &from, to), 1000005u);    // re-shift to a new map
}

TEST(OwnershipShift, RecordRoundTrip) {
  rootfs::ShiftRecord r{{{0, 1000000, 65536}}, {{0, 1000000, 65536}, {65536, 5000, 1}}};
  auto back = rootfs::parse_shift_record(rootfs::format_shift_record(r));
  ASSERT_OK(back);
  EXPECT_EQ(back->uid_map, r.uid_map);
  EXPECT_EQ(back->gid_map, r.gid_map);
}

TEST(IdmapRegistry, ConflictsNameTheOtherContainerAndSubid) {
  std::vector<ns::RegistryEntry> entries = {{1000000, 65536, "/var/lib/cove/a/config"}};
  auto c = ns::range_conflicts({{1010000, 100}}, "/srv/b/config", entries, {{100000, 65536}}, "/etc/subuid");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_NE(c[0].find("/var/lib/cove/a/config"), std::string::npos) << c[0];
  c = ns::range_conflicts({{100000, 10}}, "/srv/b/config", entries, {{100000, 65536}}, "/etc/subuid");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_NE(c[0].find("/etc/subuid"), std::string::npos);
  EXPECT_TRUE(ns::range_conflicts({{1000000, 65536}}, "/var/lib/cove/a/config", entries, {}, "").empty());
}

TEST(IdmapRegistry, AllocatesDistinctRangesAcrossPathsAndReleases) {
  test::TempDir d;
  std::string reg = d.file("registry");
  for (const char* dir : {"p1/a", "p2/a", "p2/b"}) std::filesystem::create_directories(d.file(dir));
  auto a = ns::registry_allocate(d.file("p1/a/config"), {}, reg);
  auto b = ns::registry_allocate(d.file("p2/a/config"), {}, reg);
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_NE(*a, *b);
  EXPECT_ERROR_CONTAINS(ns::registry_claim(d.file("p2/b/config"), {{*a + 10, 5}}, {}, reg, "/dev/null", "/dev/null"),
                        "p1/a/config");
  ASSERT_OK(ns::registry_release(d.file("p1/a/config"), reg));
  ASSERT_OK(ns::registry_claim(d.file("p2/b/config"), {{*a + 10, 5}}, {{*a + 10, 5}}, reg, "/dev/null", "/dev/null"));
  // A container whose directory is gone no longer holds its range.
  std::filesystem::remove_all(d.file("p2/a"));
  auto c = ns::registry_allocate(d.file("p1/a/config"), {}, reg);
  ASSERT_OK(c);
  EXPECT_LE(*c, *b);
  EXPECT_TRUE(*c + ns::kRangeSize <= *a + 10 || *c >= *a + 15);
}

}  // namespace
}  // namespace cove::lifecycle
