// LaunchPlan: what the child will do, computed from a config without any kernel calls.
#include <sched.h>

#include "lifecycle/launch_plan.hpp"
#include "support.hpp"

namespace cove::lifecycle {
namespace {

using config::Namespace;

config::ContainerConfig base_config() {
  config::ContainerConfig c;
  c.name = "web";
  c.rootfs = "/var/lib/cove/web/rootfs";
  c.clone_ns = {Namespace::kMnt, Namespace::kPid, Namespace::kUts, Namespace::kIpc,
                Namespace::kNet, Namespace::kUser, Namespace::kCgroup, Namespace::kTime};
  c.uid_map = {{0, 1000000, 65536}};
  c.gid_map = {{0, 1000000, 65536}};
  c.init_env = {"TERM=xterm", "FOO=bar"};
  return c;
}

cgroup::Layout hybrid() {
  cgroup::Layout l;
  cgroup::Hierarchy h;
  h.mount_point = "/sys/fs/cgroup/memory";
  h.controllers = {"memory"};
  l.hierarchies.push_back(h);
  return l;
}

TEST(LaunchPlan, UnprivilegedCloneFlags) {
  auto p = make_launch_plan(base_config(), {}, hybrid(), true);
  ASSERT_OK(p);
  EXPECT_TRUE(p->userns);
  EXPECT_EQ(p->clone_flags & (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUSER),
            static_cast<unsigned long>(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET |
                                       CLONE_NEWUSER));
  // The cgroup namespace is unshared by the child after it was placed, never at clone.
  EXPECT_EQ(p->clone_flags & CLONE_NEWCGROUP, 0u);
  EXPECT_TRUE(p->new_cgroupns);
  EXPECT_TRUE(p->new_netns);
  EXPECT_TRUE(p->set_hostname);
  EXPECT_EQ(p->hostname, "web");
  EXPECT_EQ(p->argv, (std::vector<std::string>{"/sbin/init"}));
}

// systemd's getty generator starts container-getty@N.service for each pts/N named in PID 1's
// container_ttys; /dev/ttyN is pts/N of the container's devpts (the console is pts/0).
TEST(LaunchPlan, InitLearnsTheContainersTerminals) {
  auto c = base_config();
  c.ttys = 3;
  auto p = make_launch_plan(c, {}, hybrid(), true);
  ASSERT_OK(p);
  EXPECT_EQ(std::count(p->env.begin(), p->env.end(), "container_ttys=pts/1 pts/2 pts/3"), 1);
  c.ttys = 0;
  p = make_launch_plan(c, {}, hybrid(), true);
  ASSERT_OK(p);
  EXPECT_EQ(std::count_if(p->env.begin(), p->env.end(),
                          [](const std::string& e) { return e.starts_with("container_ttys="); }),
            0);
  // The config's init.env still wins.
  c.ttys = 1;
  c.init_env = {"container_ttys=pts/1 pts/9"};
  p = make_launch_plan(c, {}, hybrid(), true);
  ASSERT_OK(p);
  EXPECT_EQ(std::count(p->env.begin(), p->env.end(), "container_ttys=pts/1 pts/9"), 1);
  EXPECT_EQ(std::count(p->env.begin(), p->env.end(), "container_ttys=pts/1"), 0);
}

TEST(LaunchPlan, TimeNamespaceOnlyWhenTheKernelHasIt) {
  auto with = make_launch_plan(base_config(), {}, hybrid(), true);
  auto without = make_launch_plan(base_config(), {}, hybrid(), false);
  ASSERT_OK(with);
  ASSERT_OK(without);
  EXPECT_NE(with->clone_flags & 0x80, 0u);
  EXPECT_EQ(without->clone_flags & 0x80, 0u);
}

TEST(LaunchPlan, PrivilegedHasNoUserNamespace) {
  auto c = base_config();
  c.privileged = true;
  std::erase(c.clone_ns, Namespace::kUser);
  c.uid_map.clear();
  c.gid_map.clear();
  auto p = make_launch_plan(c, {}, hybrid(), true);
  ASSERT_OK(p);
  EXPECT_FALSE(p->userns);
  EXPECT_EQ(p->clone_flags & CLONE_NEWUSER, 0u);
}

TEST(LaunchPlan, DisagreementBetweenPrivilegedAndUsernsIsRefused) {
  auto c = base_config();
  c.privileged = true;  // but `user` still cloned
  EXPECT_ERROR_CONTAINS(make_launch_plan(c, {}, hybrid(), true), "disagrees with `privileged`");
}

TEST(LaunchPlan, SharedNamespacesAreNotCloned) {
  auto c = base_config();
  std::erase(c.clone_ns, Namespace::kNet);
  std::erase(c.clone_ns, Namespace::kUts);
  auto p = make_launch_plan(c, {}, hybrid(), true);
  ASSERT_OK(p);
  EXPECT_EQ(p->clone_flags & (CLONE_NEWNET | CLONE_NEWUTS), 0u);
  EXPECT_FALSE(p->new_netns);
  EXPECT_FALSE(p->set_hostname);
}

TEST(LaunchPlan, InitOverrideAndEnvironment) {
  PlanOptions o;
  o.init_override = {"/bin/sh", "-c", "true"};
  o.inherit_stdio = true;
  auto p = make_launch_plan(base_config(), o, hybrid(), true);
  ASSERT_OK(p);
  EXPECT_EQ(p->argv, o.init_override);
  EXPECT_TRUE(p->inherit_stdio);
  // Configured variables override the defaults, once.
  EXPECT_EQ(std::count(p->env.begin(), p->env.end(), "TERM=xterm"), 1);
  EXPECT_EQ(std::count(p->env.begin(), p->env.end(), "TERM=linux"), 0);
  EXPECT_EQ(std::count(p->env.begin(), p->env.end(), "container=cove"), 1);
  EXPECT_EQ(std::count(p->env.begin(), p->env.end(), "FOO=bar"), 1);
  EXPECT_NE(describe(*p).find("argv=/bin/sh -c true"), std::string::npos);
}

TEST(LaunchPlan, EmptyInitIsRefused) {
  auto c = base_config();
  c.init.clear();
  EXPECT_ERROR_CONTAINS(make_launch_plan(c, {}, hybrid(), true), "no init command");
}

}  // namespace
}  // namespace cove::lifecycle
