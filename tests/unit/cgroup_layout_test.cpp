// Unit tests of cgroup/: mountinfo and /proc/PID/cgroup parsing, path planning, and the
// create/attach/delegate/stats/destroy logic against a fake cgroupfs in a temp dir (no root).
//
// Safety: `destroy` SIGKILLs the pids listed in payload `cgroup.procs` files. The fake trees
// below only ever list this test's own pid (which `destroy` skips) before a `destroy`; tests that
// list made-up pids never call it.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "base/proc_stat.hpp"
#include "cgroup/cgroup.hpp"

namespace cove::cgroup {
namespace {

#define CG_ASSERT_OK(expr)                                     \
  do {                                                         \
    auto cg_r_ = (expr);                                       \
    ASSERT_TRUE(cg_r_.has_value()) << cg_r_.error().message(); \
  } while (0)

template <typename T>
std::string error_of(const Result<T>& r) {
  return r.has_value() ? std::string("<no error>") : r.error().message();
}

// ---- parse_layout ------------------------------------------------------------------------

// This host (Debian 12 on a v1/v2 hybrid), verbatim from /proc/self/mountinfo.
const char* kHybridMountinfo =
    "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
    "23 27 0:22 / /sys rw,relatime - sysfs sysfs rw\n"
    "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
    "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

const char* kHybridProcCgroup =
    "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n"
    "4:memory:/process_api/d409c70eb860d3bac2a1f1e13bc4b559\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n";

// A systemd host booted with cgroup v2 only (Debian 12, Fedora, Ubuntu 22.04+).
const char* kPureV2Mountinfo =
    "22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "26 22 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n"
    "28 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n";

// A v1-only systemd host (CentOS 7 style): co-mounted controllers and the named systemd tree.
const char* kV1OnlyMountinfo =
    "25 18 0:21 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755\n"
    "26 25 0:22 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup "
    "rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd\n"
    "29 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup "
    "rw,cpuacct,cpu\n"
    "30 25 0:26 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,memory\n"
    "31 25 0:27 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup "
    "rw,net_prio,net_cls\n";

// Inside an LXC container: each hierarchy is mounted from the container's own cgroup.
const char* kSubRootMountinfo =
    "120 119 0:32 /lxc.payload.c1 /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime - cgroup cgroup "
    "rw,memory\n"
    "121 119 0:38 /lxc.payload.c1 /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw\n";

TEST(CgroupParseLayout, HybridHost) {
  auto l = parse_layout(kHybridMountinfo);
  CG_ASSERT_OK(l);
  ASSERT_EQ(l->hierarchies.size(), 10u);  // the tmpfs at /sys/fs/cgroup is not a hierarchy
  EXPECT_FALSE(l->pure_v2());

  const Hierarchy* mem = l->find_v1("memory");
  ASSERT_NE(mem, nullptr);
  EXPECT_EQ(mem->mount_point, "/sys/fs/cgroup/memory");
  EXPECT_EQ(mem->mount_root, "/");
  EXPECT_EQ(mem->controllers, std::vector<std::string>{"memory"});
  EXPECT_EQ(mem->mount_options, "memory");

  const Hierarchy* sd = l->find_v1("name=systemd");
  ASSERT_NE(sd, nullptr);
  EXPECT_EQ(sd->mount_point, "/sys/fs/cgroup/systemd");

  const Hierarchy* v2 = l->v2();
  ASSERT_NE(v2, nullptr);
  EXPECT_EQ(v2->mount_point, "/sys/fs/cgroup/unified");
  EXPECT_TRUE(v2->controllers.empty());  // parse_layout reads no files
  EXPECT_EQ(v2->mount_options, "");
  EXPECT_EQ(l->find_v1("hugetlb"), nullptr);
}

TEST(CgroupParseLayout, PureV2Host) {
  auto l = parse_layout(kPureV2Mountinfo);
  CG_ASSERT_OK(l);
  ASSERT_EQ(l->hierarchies.size(), 1u);
  EXPECT_TRUE(l->pure_v2());
  ASSERT_NE(l->v2(), nullptr);
  EXPECT_EQ(l->v2()->mount_point, "/sys/fs/cgroup");
  EXPECT_EQ(l->v2()->mount_options, "nsdelegate,memory_recursiveprot");
  EXPECT_EQ(l->find_v1("memory"), nullptr);
}

TEST(CgroupParseLayout, V1OnlyHost) {
  auto l = parse_layout(kV1OnlyMountinfo);
  CG_ASSERT_OK(l);
  ASSERT_EQ(l->hierarchies.size(), 4u);
  EXPECT_EQ(l->v2(), nullptr);
  EXPECT_FALSE(l->pure_v2());
  const Hierarchy* cpu = l->find_v1("cpu");
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu, l->find_v1("cpuacct"));
  EXPECT_EQ(cpu->mount_point, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(cpu->controllers, (std::vector<std::string>{"cpuacct", "cpu"}));
  const Hierarchy* sd = l->find_v1("name=systemd");
  ASSERT_NE(sd, nullptr);
  // Mount flags are not controllers, but stay in the options for a remount.
  EXPECT_EQ(sd->controllers, std::vector<std::string>{"name=systemd"});
  EXPECT_EQ(sd->mount_options, "xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd");
  EXPECT_NE(l->find_v1("net_cls"), nullptr);
}

TEST(CgroupParseLayout, HierarchyMountedAtSubRoot) {
  auto l = parse_layout(kSubRootMountinfo);
  CG_ASSERT_OK(l);
  ASSERT_EQ(l->hierarchies.size(), 2u);
  EXPECT_EQ(l->find_v1("memory")->mount_root, "/lxc.payload.c1");
  EXPECT_EQ(l->v2()->mount_root, "/lxc.payload.c1");
}

TEST(CgroupParseLayout, SameHierarchyMountedTwiceIsListedOnce) {
  std::string text =
      std::string(kHybridMountinfo) + "90 27 0:32 /process_api /mnt/memory rw,relatime - cgroup cgroup rw,memory\n";
  auto l = parse_layout(text);
  CG_ASSERT_OK(l);
  EXPECT_EQ(l->hierarchies.size(), 10u);
  EXPECT_EQ(l->find_v1("memory")->mount_point, "/sys/fs/cgroup/memory");
}

TEST(CgroupCriuYard, NamesEachHierarchyAsCriuDoes) {
  auto l = parse_layout(kHybridMountinfo);
  CG_ASSERT_OK(l);
  auto entries = criu_yard_entries(*l);
  ASSERT_EQ(entries.size(), 10u);
  EXPECT_EQ(entries[0], (std::pair<std::string, std::string>{"cpu", "/sys/fs/cgroup/cpu"}));
  EXPECT_EQ(entries[8], (std::pair<std::string, std::string>{"systemd", "/sys/fs/cgroup/systemd"}));
  EXPECT_EQ(entries[9], (std::pair<std::string, std::string>{"unified", "/sys/fs/cgroup/unified"}));
  // Every hierarchy a process of this host is in has its entry.
  auto names = criu_yard_names(kHybridProcCgroup);
  ASSERT_EQ(names.size(), 10u);
  for (const auto& n : names)
    EXPECT_TRUE(std::any_of(entries.begin(), entries.end(), [&](const auto& e) { return e.first == n; })) << n;
  EXPECT_EQ(criu_yard_names("4:cpuacct,cpu:/a\n1:name=systemd:/\n0::/x\n"),
            (std::vector<std::string>{"cpuacct,cpu", "systemd", "unified"}));
  auto v1 = parse_layout(kV1OnlyMountinfo);
  CG_ASSERT_OK(v1);
  auto v1_entries = criu_yard_entries(*v1);
  ASSERT_FALSE(v1_entries.empty());
  EXPECT_EQ(v1_entries[1].first, "cpuacct,cpu");  // as the kernel lists them, in both files
}

TEST(CgroupCriuYard, NoneWhenAHierarchyIsMountedFromBelowItsRoot) {
  auto l = parse_layout(kSubRootMountinfo);
  CG_ASSERT_OK(l);
  EXPECT_TRUE(criu_yard_entries(*l).empty());
}

TEST(CgroupParseLayout, UnescapesPaths) {
  auto l = parse_layout("50 1 0:40 /a\\040b /mnt/my\\040cg rw - cgroup2 none rw\n");
  CG_ASSERT_OK(l);
  ASSERT_EQ(l->hierarchies.size(), 1u);
  EXPECT_EQ(l->hierarchies[0].mount_point, "/mnt/my cg");
  EXPECT_EQ(l->hierarchies[0].mount_root, "/a b");
}

TEST(CgroupParseLayout, MalformedLineIsAnError) {
  auto l = parse_layout("22 27 0:21 / /proc rw,relatime - proc proc rw\n23 27 0:22 / /sys rw sysfs sysfs rw\n");
  ASSERT_FALSE(l);
  EXPECT_NE(error_of(l).find("line 2"), std::string::npos) << error_of(l);
}

TEST(CgroupParseLayout, EmptyTextGivesEmptyLayout) {
  auto l = parse_layout("");
  CG_ASSERT_OK(l);
  EXPECT_TRUE(l->hierarchies.empty());
  EXPECT_FALSE(l->pure_v2());
  EXPECT_EQ(l->v2(), nullptr);
}

// ---- cgroup_path_of / directory_of --------------------------------------------------------

Hierarchy v1_hierarchy(std::string mount_point, std::vector<std::string> controllers, std::string root = "/") {
  Hierarchy h;
  h.mount_point = std::move(mount_point);
  h.mount_root = std::move(root);
  h.controllers = std::move(controllers);
  return h;
}

Hierarchy v2_hierarchy(std::string mount_point, std::string root = "/") {
  Hierarchy h;
  h.v2 = true;
  h.mount_point = std::move(mount_point);
  h.mount_root = std::move(root);
  return h;
}

TEST(CgroupPathOf, V1ByControllerSet) {
  auto p = cgroup_path_of(kHybridProcCgroup, v1_hierarchy("/sys/fs/cgroup/memory", {"memory"}));
  CG_ASSERT_OK(p);
  EXPECT_EQ(*p, "/process_api/d409c70eb860d3bac2a1f1e13bc4b559");
  p = cgroup_path_of(kHybridProcCgroup, v1_hierarchy("/sys/fs/cgroup/cpu", {"cpu"}));
  CG_ASSERT_OK(p);
  EXPECT_EQ(*p, "/");
}

TEST(CgroupPathOf, CoMountedControllersInAnyOrder) {
  const char* text = "4:cpu,cpuacct:/system.slice/a.service\n3:cpuset:/\n";
  auto p = cgroup_path_of(text, v1_hierarchy("/sys/fs/cgroup/cpu,cpuacct", {"cpuacct", "cpu"}));
  CG_ASSERT_OK(p);
  EXPECT_EQ(*p, "/system.slice/a.service");
  // A controller list that is not exactly the hierarchy's still matches through an overlap.
  p = cgroup_path_of(text, v1_hierarchy("/x", {"cpu"}));
  CG_ASSERT_OK(p);
  EXPECT_EQ(*p, "/system.slice/a.service");
}

TEST(CgroupPathOf, NamedHierarchy) {
  auto p = cgroup_path_of("1:name=systemd:/user.slice/session-2.scope\n0::/x\n",
                          v1_hierarchy("/sys/fs/cgroup/systemd", {"name=systemd"}));
  CG_ASSERT_OK(p);
  EXPECT_EQ(*p, "/user.slice/session-2.scope");
}

TEST(CgroupPathOf, V2AndColonsInPath) {
  auto p = cgroup_path_of("1:name=systemd:/a\n0::/user.slice/odd:name\n", v2_hierarchy("/sys/fs/cgroup"));
  CG_ASSERT_OK(p);
  EXPECT_EQ(*p, "/user.slice/odd:name");
}

TEST(CgroupPathOf, MissingEntryIsAnError) {
  auto p = cgroup_path_of("0::/\n", v1_hierarchy("/sys/fs/cgroup/memory", {"memory"}));
  ASSERT_FALSE(p);
  EXPECT_NE(error_of(p).find("`memory`"), std::string::npos) << error_of(p);
  auto q = cgroup_path_of("4:memory:/\n", v2_hierarchy("/sys/fs/cgroup"));
  ASSERT_FALSE(q);
  auto bad = cgroup_path_of("garbage\n", v2_hierarchy("/sys/fs/cgroup"));
  ASSERT_FALSE(bad);
}

TEST(CgroupDirectoryOf, AccountsForMountRoot) {
  auto d = directory_of(v1_hierarchy("/sys/fs/cgroup/memory", {"memory"}), "/process_api/x");
  CG_ASSERT_OK(d);
  EXPECT_EQ(*d, "/sys/fs/cgroup/memory/process_api/x");
  d = directory_of(v2_hierarchy("/sys/fs/cgroup"), "/");
  CG_ASSERT_OK(d);
  EXPECT_EQ(*d, "/sys/fs/cgroup");
  d = directory_of(v2_hierarchy("/sys/fs/cgroup", "/lxc.payload.c1"), "/lxc.payload.c1/init.scope");
  CG_ASSERT_OK(d);
  EXPECT_EQ(*d, "/sys/fs/cgroup/init.scope");
  d = directory_of(v2_hierarchy("/sys/fs/cgroup", "/lxc.payload.c1"), "/lxc.payload.c1");
  CG_ASSERT_OK(d);
  EXPECT_EQ(*d, "/sys/fs/cgroup");
}

TEST(CgroupDirectoryOf, OutsideTheMountIsAnError) {
  auto d = directory_of(v2_hierarchy("/sys/fs/cgroup", "/lxc.payload.c1"), "/lxc.payload.c10");
  ASSERT_FALSE(d);
  EXPECT_NE(error_of(d).find("outside"), std::string::npos) << error_of(d);
  d = directory_of(v2_hierarchy("/sys/fs/cgroup"), "/../..");
  ASSERT_FALSE(d);
}

// ---- plan_from ---------------------------------------------------------------------------

TEST(CgroupPlan, HybridHost) {
  auto l = parse_layout(kHybridMountinfo);
  CG_ASSERT_OK(l);
  auto cg = ContainerCgroups::plan_from(*l, "web", kHybridProcCgroup);
  CG_ASSERT_OK(cg);
  ASSERT_EQ(cg->payload_dirs().size(), 10u);
  ASSERT_EQ(cg->monitor_dirs().size(), 10u);
  EXPECT_EQ(cg->payload_dirs()[0], "/sys/fs/cgroup/cpu/cove.payload.web");
  EXPECT_EQ(cg->monitor_dirs()[0], "/sys/fs/cgroup/cpu/cove.monitors");
  EXPECT_EQ(cg->payload_dirs()[3],
            "/sys/fs/cgroup/memory/process_api/d409c70eb860d3bac2a1f1e13bc4b559/cove.payload.web");
  EXPECT_EQ(cg->monitor_dirs()[3],
            "/sys/fs/cgroup/memory/process_api/d409c70eb860d3bac2a1f1e13bc4b559/cove.monitors");
  EXPECT_EQ(cg->payload_dirs()[8], "/sys/fs/cgroup/systemd/cove.payload.web");
  EXPECT_EQ(cg->payload_dirs()[9], "/sys/fs/cgroup/unified/cove.payload.web");
}

TEST(CgroupPlan, PureV2Host) {
  auto l = parse_layout(kPureV2Mountinfo);
  CG_ASSERT_OK(l);
  auto cg = ContainerCgroups::plan_from(*l, "db", "0::/user.slice/user-0.slice/session-3.scope\n");
  CG_ASSERT_OK(cg);
  ASSERT_EQ(cg->payload_dirs().size(), 1u);
  EXPECT_EQ(cg->payload_dirs()[0], "/sys/fs/cgroup/user.slice/user-0.slice/session-3.scope/cove.payload.db");
  EXPECT_EQ(cg->monitor_dirs()[0], "/sys/fs/cgroup/user.slice/user-0.slice/session-3.scope/cove.monitors");
}

// A monitor cove-start cloned into the shared cgroup (cgroup2) plans beside it, not below it.
TEST(CgroupPlan, AMonitorBornInTheSharedCgroupPlansBesideIt) {
  auto l = parse_layout(kPureV2Mountinfo);
  CG_ASSERT_OK(l);
  auto cg = ContainerCgroups::plan_from(*l, "db", "0::/system.slice/cove.monitors\n");
  CG_ASSERT_OK(cg);
  EXPECT_EQ(cg->payload_dirs()[0], "/sys/fs/cgroup/system.slice/cove.payload.db");
  EXPECT_EQ(cg->monitor_dirs()[0], "/sys/fs/cgroup/system.slice/cove.monitors");
}

TEST(CgroupPlan, SubRootMount) {
  auto l = parse_layout(kSubRootMountinfo);
  CG_ASSERT_OK(l);
  auto cg = ContainerCgroups::plan_from(*l, "n", "4:memory:/lxc.payload.c1/init\n0::/lxc.payload.c1\n");
  CG_ASSERT_OK(cg);
  ASSERT_EQ(cg->payload_dirs().size(), 2u);
  EXPECT_EQ(cg->payload_dirs()[0], "/sys/fs/cgroup/memory/init/cove.payload.n");
  EXPECT_EQ(cg->payload_dirs()[1], "/sys/fs/cgroup/unified/cove.payload.n");
}

TEST(CgroupPlan, RejectsBadKeys) {
  auto l = parse_layout(kPureV2Mountinfo);
  CG_ASSERT_OK(l);
  for (const char* key : {"", ".", "..", "a/b", "a b", "tab\there", "nl\n"}) {
    auto cg = ContainerCgroups::plan_from(*l, key, "0::/\n");
    EXPECT_FALSE(cg) << "key `" << key << "`";
  }
}

TEST(CgroupPlan, MissingHierarchyEntryIsAnError) {
  auto l = parse_layout(kHybridMountinfo);
  CG_ASSERT_OK(l);
  auto cg = ContainerCgroups::plan_from(*l, "web", "0::/\n");
  ASSERT_FALSE(cg);
  EXPECT_NE(error_of(cg).find("plan cgroups of `web`"), std::string::npos) << error_of(cg);
}

TEST(CgroupPlan, EmptyLayoutIsAnError) { EXPECT_FALSE(ContainerCgroups::plan_from(Layout{}, "web", "0::/\n")); }

// ---- fake cgroupfs -----------------------------------------------------------------------

void touch(const std::string& path, const std::string& content = "") {
  ASSERT_TRUE(write_file(path, content).has_value()) << path;
}

std::string slurp(const std::string& path) {
  auto r = read_file(path);
  return r ? *r : "<missing " + path + ">";
}

// What the kernel does on mkdir in a cgroupfs, roughly: control files appear, those of a v1
// cpuset empty (cgroup.clone_children is 0), and rmdir takes them along but refuses while
// child cgroups exist.
int fake_mkdir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) < 0) return -1;
  std::string parent = dirname_of(path);
  std::vector<std::string> files = {"cgroup.procs"};
  if (path_exists(parent + "/cgroup.controllers")) {
    for (const char* f : {"cgroup.controllers", "cgroup.subtree_control", "cgroup.threads", "cgroup.kill", "cpu.stat"})
      files.push_back(f);
  } else {
    files.push_back("tasks");
  }
  for (const char* f : {"cpuset.cpus", "cpuset.mems", "memory.usage_in_bytes", "memory.max_usage_in_bytes"})
    if (path_exists(parent + "/" + f)) files.push_back(f);
  for (const auto& f : files)
    if (!write_file(path + "/" + f, starts_with(f, "memory.") ? "0\n" : "")) return -1;
  return 0;
}

int fake_rmdir(const std::string& path) {
  if (!is_directory(path)) {
    errno = path_exists(path) ? ENOTDIR : ENOENT;
    return -1;
  }
  std::vector<std::string> files;
  DIR* d = ::opendir(path.c_str());
  if (!d) return -1;
  bool has_child = false;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    if (is_directory(path + "/" + n))
      has_child = true;
    else
      files.push_back(path + "/" + n);
  }
  ::closedir(d);
  if (has_child) {
    errno = EBUSY;
    return -1;
  }
  for (const auto& f : files) ::unlink(f.c_str());
  return ::rmdir(path.c_str());
}

// The pid the fake tree's tests join: above PID_MAX_LIMIT (4194304), so no process on the host
// has it; with a real one's, the code reads that process's /proc/PID/cgroup instead of the fake
// cgroup.procs files (4242 did, on a host with a few thousand processes).
class FakeCgroupFs : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cove-cgtest.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    // v1 cpuset at the root, v1 memory with the starter in /job, v2 at the root.
    for (const char* d : {"cpuset", "memory", "memory/job", "unified"})
      ASSERT_EQ(::mkdir((root_ + "/" + d).c_str(), 0755), 0);
    touch(root_ + "/cpuset/cgroup.procs");
    touch(root_ + "/cpuset/tasks");
    touch(root_ + "/cpuset/cpuset.cpus", "0-3\n");
    touch(root_ + "/cpuset/cpuset.mems", "0\n");
    for (const char* d : {"memory", "memory/job"}) {
      touch(root_ + "/" + d + "/cgroup.procs");
      touch(root_ + "/" + d + "/memory.usage_in_bytes", "0\n");
      touch(root_ + "/" + d + "/memory.max_usage_in_bytes", "0\n");
    }
    touch(root_ + "/unified/cgroup.procs");
    touch(root_ + "/unified/cgroup.controllers", "cpuset memory pids\n");
    touch(root_ + "/unified/cgroup.subtree_control");
    touch(root_ + "/unified/cpuset.cpus", "");  // v2: empty means inherit; must stay empty

    layout_.hierarchies = {v1_hierarchy(root_ + "/cpuset", {"cpuset"}), v1_hierarchy(root_ + "/memory", {"memory"}),
                           v2_hierarchy(root_ + "/unified")};
  }
  void TearDown() override {
    if (!root_.empty()) {
      auto r = remove_tree(root_);
      EXPECT_TRUE(r.has_value()) << r.error().message();
    }
  }

  ContainerCgroups planned(const std::string& key = "k") {
    auto cg = ContainerCgroups::plan_from(layout_, key, "3:cpuset:/\n4:memory:/job\n0::/\n");
    EXPECT_TRUE(cg.has_value()) << error_of(cg);
    ContainerCgroups out = std::move(cg).value();
    out.set_dir_ops({fake_mkdir, fake_rmdir, {}});
    return out;
  }

  std::string root_;
  Layout layout_;
};

TEST_F(FakeCgroupFs, PlanUsesTheStartersCgroup) {
  auto cg = planned();
  EXPECT_EQ(cg.payload_dirs(),
            (std::vector<std::string>{root_ + "/cpuset/cove.payload.k", root_ + "/memory/job/cove.payload.k",
                                      root_ + "/unified/cove.payload.k"}));
  EXPECT_EQ(cg.monitor_dirs()[1], root_ + "/memory/job/cove.monitors");
}

TEST_F(FakeCgroupFs, CreateMakesDirsAndCopiesV1Cpuset) {
  auto cg = planned();
  CG_ASSERT_OK(cg.create());
  for (const auto* dirs : {&cg.payload_dirs(), &cg.monitor_dirs()})
    for (const auto& d : *dirs) EXPECT_TRUE(is_directory(d)) << d;
  EXPECT_EQ(slurp(root_ + "/cpuset/cove.payload.k/cpuset.cpus"), "0-3");
  EXPECT_EQ(slurp(root_ + "/cpuset/cove.payload.k/cpuset.mems"), "0");
  EXPECT_EQ(slurp(root_ + "/cpuset/cove.monitors/cpuset.cpus"), "0-3");
  EXPECT_EQ(slurp(root_ + "/unified/cove.payload.k/cpuset.cpus"), "");
}

TEST_F(FakeCgroupFs, CreateKeepsAnInheritedCpuset) {
  auto cg = planned();
  ASSERT_EQ(fake_mkdir(root_ + "/cpuset/cove.payload.k"), 0);  // leftover, as with clone_children=1
  touch(root_ + "/cpuset/cove.payload.k/cpuset.cpus", "1\n");
  touch(root_ + "/cpuset/cove.payload.k/cpuset.mems", "0\n");
  CG_ASSERT_OK(cg.create());
  EXPECT_EQ(slurp(root_ + "/cpuset/cove.payload.k/cpuset.cpus"), "1\n");
}

TEST_F(FakeCgroupFs, CreateCopiesCpusetFromTheNearestAncestorWithOne) {
  // The starter's cpuset is itself a child with empty values (e.g. made without
  // clone_children); the root's values are the effective ones.
  ASSERT_EQ(fake_mkdir(root_ + "/cpuset/mid"), 0);
  auto cg = ContainerCgroups::plan_from(layout_, "k", "3:cpuset:/mid\n4:memory:/job\n0::/\n");
  CG_ASSERT_OK(cg);
  cg->set_dir_ops({fake_mkdir, fake_rmdir, {}});
  CG_ASSERT_OK(cg->create());
  EXPECT_EQ(slurp(root_ + "/cpuset/mid/cove.payload.k/cpuset.cpus"), "0-3");
  CG_ASSERT_OK(cg->destroy(100));
}

// cove-start's undo when the monitor it made them for failed (monitor/launch.cpp): what this
// create made goes, what it adopted or others share stays, and a cgroup in use is left.
TEST_F(FakeCgroupFs, RemoveCreatedUndoesOnlyWhatCreateMade) {
  auto busy_rmdir = [](const std::string& path) {
    if (path_exists(path + "/busy")) {
      errno = EBUSY;
      return -1;
    }
    return fake_rmdir(path);
  };
  auto cg = planned();
  cg.set_dir_ops({fake_mkdir, busy_rmdir, {}});
  ASSERT_EQ(fake_mkdir(root_ + "/memory/job/cove.monitors"), 0);    // another container's monitors
  ASSERT_EQ(fake_mkdir(root_ + "/memory/job/cove.payload.k"), 0);   // an empty leftover, adopted
  CG_ASSERT_OK(cg.create());
  touch(root_ + "/unified/cove.payload.k/busy");  // a task got in meanwhile
  cg.remove_created();
  EXPECT_FALSE(path_exists(root_ + "/cpuset/cove.payload.k"));
  EXPECT_FALSE(path_exists(root_ + "/cpuset/cove.monitors"));
  EXPECT_FALSE(path_exists(root_ + "/unified/cove.monitors"));
  EXPECT_TRUE(is_directory(root_ + "/memory/job/cove.monitors"));
  EXPECT_TRUE(is_directory(root_ + "/memory/job/cove.payload.k"));
  EXPECT_TRUE(is_directory(root_ + "/unified/cove.payload.k"));
  cg.remove_created();  // once only: nothing is left to it
  EXPECT_TRUE(is_directory(root_ + "/unified/cove.payload.k"));
}

TEST_F(FakeCgroupFs, CreateAdoptsAnEmptyLeftover) {
  auto cg = planned();
  ASSERT_EQ(fake_mkdir(root_ + "/memory/job/cove.payload.k"), 0);
  CG_ASSERT_OK(cg.create());
  EXPECT_TRUE(is_directory(root_ + "/memory/job/cove.payload.k"));
}

TEST_F(FakeCgroupFs, CreateRefusesALeftoverWithProcessesAndRollsBack) {
  auto cg = planned();
  ASSERT_EQ(fake_mkdir(root_ + "/memory/job/cove.monitors"), 0);  // another container's monitors
  ASSERT_EQ(fake_mkdir(root_ + "/unified/cove.payload.k"), 0);
  touch(root_ + "/unified/cove.payload.k/cgroup.procs", "4194305\n");  // never destroyed: see top
  auto r = cg.create();
  ASSERT_FALSE(r);
  EXPECT_NE(error_of(r).find("still holds pid `4194305`"), std::string::npos) << error_of(r);
  EXPECT_NE(error_of(r).find("create cgroup `" + root_ + "/unified/cove.payload.k`"), std::string::npos);
  // What this run made is gone; what it found is untouched (it may be a live run's).
  EXPECT_TRUE(is_directory(root_ + "/memory/job/cove.monitors"));
  EXPECT_FALSE(path_exists(root_ + "/cpuset/cove.payload.k"));
  EXPECT_FALSE(path_exists(root_ + "/cpuset/cove.monitors"));
  EXPECT_FALSE(path_exists(root_ + "/memory/job/cove.payload.k"));
  EXPECT_FALSE(path_exists(root_ + "/unified/cove.monitors"));
  EXPECT_EQ(slurp(root_ + "/unified/cove.payload.k/cgroup.procs"), "4194305\n");
}

// The monitors' cgroup is shared: other monitors in it are no leftover, and it stays while they are.
TEST_F(FakeCgroupFs, TheSharedMonitorCgroupIsUsedAndKeptWhileOthersAreInIt) {
  auto busy_rmdir = [](const std::string& path) {
    auto procs = read_file(path + "/cgroup.procs");
    if (procs && !procs->empty()) {
      errno = EBUSY;
      return -1;
    }
    return fake_rmdir(path);
  };
  ASSERT_EQ(fake_mkdir(root_ + "/memory/job/cove.monitors"), 0);
  touch(root_ + "/memory/job/cove.monitors/cgroup.procs", "4194305\n");
  auto cg = planned();
  cg.set_dir_ops({fake_mkdir, busy_rmdir, {}});
  CG_ASSERT_OK(cg.create());
  CG_ASSERT_OK(cg.destroy(100));
  EXPECT_EQ(slurp(root_ + "/memory/job/cove.monitors/cgroup.procs"), "4194305\n");
  EXPECT_FALSE(path_exists(root_ + "/cpuset/cove.monitors"));  // its last monitor was this one
  EXPECT_FALSE(path_exists(root_ + "/memory/job/cove.payload.k"));
}

// Another container's stop removed the shared cgroup between this one's create and its join.
TEST_F(FakeCgroupFs, JoiningMakesTheSharedMonitorCgroupAgainWhenAStopRemovedIt) {
  auto cg = planned();
  CG_ASSERT_OK(cg.create());
  ASSERT_EQ(fake_rmdir(root_ + "/cpuset/cove.monitors"), 0);
  CG_ASSERT_OK(cg.attach_monitor(4194305));
  EXPECT_EQ(slurp(root_ + "/cpuset/cove.monitors/cgroup.procs"), "4194305");
  EXPECT_EQ(slurp(root_ + "/cpuset/cove.monitors/cpuset.cpus"), "0-3");  // before the pid: v1 needs it
}

// A destroy from another process (a cove-stop cleaning up after a dead monitor) never moves
// that process: it is not in the monitor cgroup.
TEST_F(FakeCgroupFs, DestroyLeavesACallerOutsideTheMonitorCgroupWhereItIs) {
  auto cg = planned();
  cg.set_dir_ops({fake_mkdir, fake_rmdir, [](pid_t) -> std::optional<std::string> {
                    return "3:cpuset:/\n4:memory:/job\n0::/\n";
                  }});
  CG_ASSERT_OK(cg.create());
  CG_ASSERT_OK(cg.destroy(100));
  for (const char* parent : {"/cpuset", "/memory/job", "/unified"})
    EXPECT_EQ(slurp(root_ + parent + "/cgroup.procs"), "") << parent;
}

// A container started by a version with a monitor cgroup per container is cleaned up after.
TEST_F(FakeCgroupFs, DestroyRemovesAnOlderPerContainerMonitorCgroup) {
  auto cg = planned();
  ASSERT_EQ(fake_mkdir(root_ + "/memory/job/cove.monitor.k"), 0);
  auto rec = ContainerCgroups::from_recorded(cg.payload_dirs(), {root_ + "/memory/job/cove.monitor.k"});
  rec.set_dir_ops({fake_mkdir, fake_rmdir, {}});
  CG_ASSERT_OK(rec.destroy(100));
  EXPECT_FALSE(path_exists(root_ + "/memory/job/cove.monitor.k"));
  EXPECT_TRUE(is_directory(root_ + "/memory/job"));
}

TEST_F(FakeCgroupFs, CreateFailsWhenTheBaseIsMissing) {
  auto cg = ContainerCgroups::plan_from(layout_, "k", "3:cpuset:/\n4:memory:/gone\n0::/\n");
  CG_ASSERT_OK(cg);
  cg->set_dir_ops({fake_mkdir, fake_rmdir, {}});
  auto r = cg->create();
  ASSERT_FALSE(r);
  EXPECT_EQ(error_of(r), "create cgroup `" + root_ + "/memory/gone/cove.monitors`: No such file or directory");
  EXPECT_FALSE(path_exists(root_ + "/cpuset/cove.payload.k"));
}

TEST_F(FakeCgroupFs, AttachWritesThePid) {
  auto cg = planned();
  CG_ASSERT_OK(cg.create());
  std::string self = std::to_string(::getpid());
  CG_ASSERT_OK(cg.attach_payload(::getpid()));
  for (const auto& d : cg.payload_dirs()) EXPECT_EQ(slurp(d + "/cgroup.procs"), self) << d;
  for (const auto& d : cg.monitor_dirs()) EXPECT_EQ(slurp(d + "/cgroup.procs"), "") << d;
  EXPECT_EQ(cg.payload_pids(), std::vector<pid_t>{::getpid()});
  // The caller itself, of one thread: "0" to each v1 `tasks` (no grace period), its pid to v2's
  // cgroup.procs.
  ASSERT_EQ(proc::thread_count(::getpid()), 1u) << "this test needs a test process of one thread";
  CG_ASSERT_OK(cg.attach_monitor(::getpid()));
  for (size_t i : {0, 1}) {
    EXPECT_EQ(slurp(cg.monitor_dirs()[i] + "/tasks"), "0") << cg.monitor_dirs()[i];
    EXPECT_EQ(slurp(cg.monitor_dirs()[i] + "/cgroup.procs"), "") << cg.monitor_dirs()[i];
  }
  EXPECT_EQ(slurp(cg.monitor_dirs()[2] + "/cgroup.procs"), self);
}

TEST_F(FakeCgroupFs, AnotherProcessJoinsThroughItsPidAndAChildsSelfJoinCoversTheV1Dirs) {
  auto cg = planned();
  CG_ASSERT_OK(cg.create());
  CG_ASSERT_OK(cg.attach_monitor(4194305));
  for (const auto& d : cg.monitor_dirs()) EXPECT_EQ(slurp(d + "/cgroup.procs"), "4194305") << d;
  auto joins = cg.self_join_files();
  ASSERT_EQ(joins.dirs, (std::vector<std::string>{cg.payload_dirs()[0], cg.payload_dirs()[1]}));
  EXPECT_EQ(joins.files.size(), 2u);
  // What the child joined by itself is not written again.
  CG_ASSERT_OK(cg.attach_payload(4194305, joins.dirs));
  EXPECT_EQ(slurp(cg.payload_dirs()[0] + "/cgroup.procs"), "");
  EXPECT_EQ(slurp(cg.payload_dirs()[1] + "/cgroup.procs"), "");
  EXPECT_EQ(slurp(cg.payload_dirs()[2] + "/cgroup.procs"), "4194305");
}

TEST_F(FakeCgroupFs, AttachToAMissingCgroupNamesTheFile) {
  auto cg = planned();
  auto r = cg.attach_payload(::getpid());
  ASSERT_FALSE(r);
  EXPECT_EQ(error_of(r), "attach pid `" + std::to_string(::getpid()) + "`: open `" + root_ +
                             "/cpuset/cove.payload.k/cgroup.procs`: No such file or directory");
}

TEST_F(FakeCgroupFs, PayloadPidsIncludeNestedCgroupsSortedAndUnique) {
  auto cg = planned();  // made-up pids: this test must not call destroy()
  CG_ASSERT_OK(cg.create());
  ASSERT_EQ(fake_mkdir(cg.payload_dirs()[2] + "/inner"), 0);
  touch(cg.payload_dirs()[0] + "/cgroup.procs", "202\n101\n");
  touch(cg.payload_dirs()[1] + "/cgroup.procs", "101\n");
  touch(cg.payload_dirs()[2] + "/inner/cgroup.procs", "303\n");
  EXPECT_EQ(cg.payload_pids(), (std::vector<pid_t>{101, 202, 303}));
}

TEST_F(FakeCgroupFs, StatsV1AndV2Files) {
  auto cg = planned();
  CG_ASSERT_OK(cg.create());
  touch(cg.payload_dirs()[1] + "/memory.usage_in_bytes", "4096\n");
  touch(cg.payload_dirs()[1] + "/memory.max_usage_in_bytes", "8192\n");
  touch(cg.payload_dirs()[2] + "/cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
  auto s = cg.stats();
  CG_ASSERT_OK(s);
  EXPECT_EQ(s->cpu_usage_ns, std::optional<uint64_t>(1500000));
  EXPECT_EQ(s->memory_current, std::optional<uint64_t>(4096));
  EXPECT_EQ(s->memory_peak, std::optional<uint64_t>(8192));
  EXPECT_EQ(s->pids_current, std::nullopt);

  touch(cg.payload_dirs()[2] + "/pids.current", "7\n");
  touch(cg.payload_dirs()[2] + "/memory.current", "1\n");  // v1 memory comes first in the layout
  s = cg.stats();
  CG_ASSERT_OK(s);
  EXPECT_EQ(s->pids_current, std::optional<uint64_t>(7));
  EXPECT_EQ(s->memory_current, std::optional<uint64_t>(4096));

  touch(cg.payload_dirs()[2] + "/pids.current", "lots\n");
  s = cg.stats();
  ASSERT_FALSE(s);
  EXPECT_NE(error_of(s).find("pids.current`: expected a number, got `lots`"), std::string::npos) << error_of(s);
}

TEST_F(FakeCgroupFs, StatsOfMissingCgroupsAreEmpty) {
  auto cg = planned();
  auto s = cg.stats();
  CG_ASSERT_OK(s);
  EXPECT_FALSE(s->cpu_usage_ns || s->memory_current || s->memory_peak || s->pids_current);
}

TEST_F(FakeCgroupFs, DelegateChownsTheDelegatedFiles) {
  auto cg = planned();
  CG_ASSERT_OK(cg.create());
  // Without root only a chown to oneself is allowed; it still runs every path.
  uid_t uid = ::getuid() == 0 ? 54321 : ::getuid();
  gid_t gid = ::getuid() == 0 ? 54322 : ::getgid();
  CG_ASSERT_OK(cg.delegate(uid, gid));
  std::vector<std::string> owned;
  for (const auto& d : cg.payload_dirs()) {
    owned.push_back(d);
    owned.push_back(d + "/cgroup.procs");
  }
  owned.push_back(cg.payload_dirs()[0] + "/tasks");
  owned.push_back(cg.payload_dirs()[2] + "/cgroup.subtree_control");
  owned.push_back(cg.payload_dirs()[2] + "/cgroup.threads");
  for (const auto& p : owned) {
    struct stat st;
    ASSERT_EQ(::stat(p.c_str(), &st), 0) << p;
    EXPECT_EQ(st.st_uid, uid) << p;
    EXPECT_EQ(st.st_gid, gid) << p;
  }
  if (::getuid() == 0) {  // limits stay root's
    struct stat st;
    ASSERT_EQ(::stat((cg.payload_dirs()[0] + "/cpuset.cpus").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u);
    ASSERT_EQ(::stat(cg.monitor_dirs()[0].c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u);
  }
}

TEST_F(FakeCgroupFs, DestroyRemovesNestedCgroupsBottomUp) {
  auto cg = planned();
  CG_ASSERT_OK(cg.create());
  ASSERT_EQ(fake_mkdir(cg.payload_dirs()[2] + "/a"), 0);
  ASSERT_EQ(fake_mkdir(cg.payload_dirs()[2] + "/a/b"), 0);
  ASSERT_EQ(fake_mkdir(cg.payload_dirs()[1] + "/c"), 0);
  CG_ASSERT_OK(cg.destroy(200));
  for (const auto* dirs : {&cg.payload_dirs(), &cg.monitor_dirs()})
    for (const auto& d : *dirs) EXPECT_FALSE(path_exists(d)) << d;
  EXPECT_TRUE(is_directory(root_ + "/memory/job"));
  EXPECT_TRUE(path_exists(root_ + "/memory/job/cgroup.procs"));
}

TEST_F(FakeCgroupFs, DestroyOfMissingDirsSucceeds) {
  auto cg = planned();
  CG_ASSERT_OK(cg.destroy(50));
  CG_ASSERT_OK(cg.create());
  CG_ASSERT_OK(cg.destroy(50));
  CG_ASSERT_OK(cg.destroy(50));
}

TEST_F(FakeCgroupFs, DestroyMovesTheCallerOutOfItsMonitorCgroup) {
  auto cg = planned();
  // Which cgroups the caller is in comes from /proc/PID/cgroup: here, the monitors' cgroup.
  cg.set_dir_ops({fake_mkdir, fake_rmdir, [](pid_t pid) -> std::optional<std::string> {
                    if (pid != ::getpid()) return std::nullopt;
                    return "3:cpuset:/cove.monitors\n4:memory:/job/cove.monitors\n0::/cove.monitors\n";
                  }});
  CG_ASSERT_OK(cg.create());
  CG_ASSERT_OK(cg.attach_monitor(::getpid()));
  CG_ASSERT_OK(cg.attach_payload(::getpid()));  // the caller itself is never killed
  CG_ASSERT_OK(cg.destroy(200));
  std::string self = std::to_string(::getpid());
  EXPECT_EQ(slurp(root_ + "/cpuset/cgroup.procs"), self);
  EXPECT_EQ(slurp(root_ + "/memory/job/cgroup.procs"), self);
  EXPECT_EQ(slurp(root_ + "/unified/cgroup.procs"), self);
  EXPECT_FALSE(path_exists(cg.monitor_dirs()[1]));
}

TEST_F(FakeCgroupFs, DestroyFromRecordedDirs) {
  auto cg = planned();
  CG_ASSERT_OK(cg.create());
  auto again = ContainerCgroups::from_recorded(cg.payload_dirs(), cg.monitor_dirs());
  again.set_dir_ops({fake_mkdir, fake_rmdir, {}});
  CG_ASSERT_OK(again.destroy(200));
  for (const auto& d : cg.payload_dirs()) EXPECT_FALSE(path_exists(d)) << d;
  for (const auto& d : cg.monitor_dirs()) EXPECT_FALSE(path_exists(d)) << d;
}

TEST_F(FakeCgroupFs, RecordedCreateStillInitialisesV1Cpuset) {
  auto cg = planned();
  auto rec = ContainerCgroups::from_recorded(cg.payload_dirs(), cg.monitor_dirs());
  rec.set_dir_ops({fake_mkdir, fake_rmdir, {}});
  CG_ASSERT_OK(rec.create());
  EXPECT_EQ(slurp(root_ + "/cpuset/cove.payload.k/cpuset.cpus"), "0-3");
  EXPECT_EQ(slurp(root_ + "/unified/cove.payload.k/cpuset.cpus"), "");
  CG_ASSERT_OK(rec.destroy(100));
}

TEST_F(FakeCgroupFs, DestroyNeverTouchesForeignDirs) {
  auto cg = ContainerCgroups::from_recorded({root_ + "/memory/job", "relative/cove.payload.x"}, {root_ + "/cpuset"});
  cg.set_dir_ops({fake_mkdir, fake_rmdir, {}});
  auto r = cg.destroy(50);
  ASSERT_FALSE(r);
  EXPECT_EQ(error_of(r), "destroy cgroups: refuse to remove `" + root_ + "/memory/job`: not a cove cgroup");
  EXPECT_TRUE(is_directory(root_ + "/memory/job"));
  EXPECT_TRUE(is_directory(root_ + "/cpuset"));
}

// A reboot: the cgroups the old boot's init made below the payload go, the payload stays, and
// the controllers it enabled there are disabled ("-memory", then "-pids").
TEST_F(FakeCgroupFs, ResetPayloadRemovesWhatTheGuestMadeAndKeepsThePayload) {
  auto cg = planned();
  CG_ASSERT_OK(cg.create());
  std::string v2 = root_ + "/unified/cove.payload.k";
  ASSERT_EQ(fake_mkdir(v2 + "/init.scope"), 0);
  ASSERT_EQ(fake_mkdir(v2 + "/system.slice"), 0);
  ASSERT_EQ(fake_mkdir(v2 + "/system.slice/cron.service"), 0);
  touch(v2 + "/cgroup.subtree_control", "memory pids\n");
  CG_ASSERT_OK(cg.reset_payload());
  EXPECT_TRUE(is_directory(v2));
  EXPECT_FALSE(path_exists(v2 + "/init.scope"));
  EXPECT_FALSE(path_exists(v2 + "/system.slice"));
  // write_existing does not truncate (cgroupfs needs none): the last write is at the start.
  EXPECT_EQ(slurp(v2 + "/cgroup.subtree_control").rfind("-pids", 0), 0u);
  for (const auto& d : cg.payload_dirs()) EXPECT_TRUE(is_directory(d)) << d;
}

}  // namespace
}  // namespace cove::cgroup
