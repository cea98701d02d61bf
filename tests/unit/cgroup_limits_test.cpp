// Resource limits: [cgroup] key parsing (with FILE:LINE errors), the v1<->v2 conversions, the
// v1 and v2 writers and ContainerCgroups::apply against a fake cgroupfs in a temp dir, and the
// shape of the v2 device BPF program (building only; loading needs root, see integration).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "cgroup/cgroup.hpp"
#include "cgroup/device_bpf.hpp"
#include "cgroup/resources.hpp"
#include "cgroup/writers.hpp"
#include "config/edit.hpp"
#include "config/load.hpp"
#include "support.hpp"

namespace cove::cgroup {
namespace {

using test::TempDir;

const config::LoadOptions kOpts{"web", "/var/lib/cove/web/rootfs", false};

Result<ResourceLimits> limits_of(const std::string& cgroup_section) {
  auto c = config::load_config_string("[cgroup]\n" + cgroup_section, "t.conf", kOpts);
  if (!c) return std::move(c).error();
  return c->cgroup.limits;
}

std::string slurp(const std::string& path) {
  auto t = read_file(path);
  return t ? std::string(trim(*t)) : "<missing>";
}

void touch(const std::string& path, const std::string& text = "") { ASSERT_TRUE(write_file(path, text).has_value()) << path; }

// --- parsing ------------------------------------------------------------------------------------

TEST(CgroupKeys, ParseEveryKey) {
  auto l = limits_of(
      "memory.max = 256M\nmemory.high = 200M\nmemory.swap.max = max\ncpu.max = 20000 100000\n"
      "cpu.weight = 50\ncpuset.cpus = 0-1, 3\ncpuset.mems = 0\npids.max = 64\n"
      "io.max = 7:0 rbps=1M wiops=100\nio.max = 8:16 wbps=max\nio.max = 7:0 rbps=2M\nio.weight = 200\n"
      "hugetlb.2MB.max = 4M\ndevices.allow = c 10:200 rwm\ndevices.deny = c 1:9 w\ndevices.allow = b *:* m\n"
      "raw.v1 = memory.swappiness 10\nraw.v2 = memory.oom.group 1\n");
  ASSERT_OK(l);
  EXPECT_EQ(l->memory_max, Limit(256u << 20));
  EXPECT_EQ(l->memory_high, Limit(200u << 20));
  ASSERT_TRUE(l->memory_swap_max.has_value());
  EXPECT_FALSE(l->memory_swap_max->has_value());  // max
  EXPECT_EQ(l->cpu_max, (CpuMax{20000, 100000}));
  EXPECT_EQ(l->cpu_weight, 50u);
  EXPECT_EQ(l->cpuset_cpus, "0-1,3");
  EXPECT_EQ(l->pids_max, Limit(64));
  ASSERT_EQ(l->io_max.size(), 2u);  // the third line replaced the first
  EXPECT_EQ(format_io_max(l->io_max[0]), "7:0 rbps=2097152 wbps=max riops=max wiops=max");
  EXPECT_EQ(format_io_max(l->io_max[1]), "8:16 rbps=max wbps=max riops=max wiops=max");
  EXPECT_EQ(l->io_weight, 200u);
  ASSERT_EQ(l->hugetlb_max.size(), 1u);
  EXPECT_EQ(l->hugetlb_max[0].page_size, "2MB");
  ASSERT_EQ(l->devices.size(), 3u);
  EXPECT_EQ(format_device_rule(l->devices[0]), "c 10:200 rwm");
  EXPECT_FALSE(l->devices[1].allow);
  EXPECT_EQ(format_device_rule(l->devices[1]), "c 1:9 w");
  EXPECT_EQ(format_device_rule(l->devices[2]), "b *:* m");
  EXPECT_EQ(l->raw_v1, (std::vector<RawWrite>{{"memory.swappiness", "10"}}));
  EXPECT_EQ(l->raw_v2, (std::vector<RawWrite>{{"memory.oom.group", "1"}}));
}

TEST(CgroupKeys, Aliases) {
  auto l = limits_of("cpus = 1.5\ncpu.shares = 512\n");
  ASSERT_OK(l);
  EXPECT_EQ(l->cpu_max, (CpuMax{150000, 100000}));
  EXPECT_EQ(l->cpu_weight, shares_to_weight(512));
  auto c = config::load_config_string("[cgroup]\ncpus = 0.2\n", "t.conf", kOpts);
  ASSERT_OK(c);
  auto cpus = config::get_key(*c, "cgroup", "cpus");
  auto cpu_max = config::get_key(*c, "cgroup", "cpu.max");
  ASSERT_OK(cpus);
  ASSERT_OK(cpu_max);
  EXPECT_EQ(*cpus, std::vector<std::string>{"0.2"});
  EXPECT_EQ(*cpu_max, std::vector<std::string>{"20000 100000"});
}

TEST(CgroupKeys, IoMaxAcceptsADevicePath) {
  struct stat st;
  if (::stat("/dev/loop0", &st) < 0 || !S_ISBLK(st.st_mode)) GTEST_SKIP() << "no /dev/loop0";
  auto l = limits_of("io.max = /dev/loop0 rbps=1M\n");
  ASSERT_OK(l);
  ASSERT_EQ(l->io_max.size(), 1u);
  EXPECT_EQ(l->io_max[0].major, 7u);
  EXPECT_EQ(l->io_max[0].rbps, Limit(1u << 20));
  EXPECT_ERROR_CONTAINS(limits_of("io.max = /dev/null rbps=1\n"), "`/dev/null` is not a block device");
}

TEST(CgroupKeys, ErrorsNameFileLineKeyAndWhatIsAllowed) {
  auto l = limits_of("memory.max = lots\ncpu.max = 10 100000\ncpu.weight = 0\npids.max = -5\n"
                     "io.max = 8:0 speed=1\ndevices.allow = x 1:3\ndevices.deny = c 1:3 rx\ncpus = 0\n"
                     "raw.v1 = memory.swappiness\ncpuset.cpus = 3-1\n");
  ASSERT_FALSE(l.has_value());
  const std::string& m = l.error().message();
  for (const char* want :
       {"t.conf:2: [cgroup] memory.max: `lots` is not `max` or a size (allowed: SIZE", "t.conf:3: [cgroup] cpu.max: quota `10`",
        "t.conf:4: [cgroup] cpu.weight: `0` is not a number in 1..10000", "t.conf:5: [cgroup] pids.max",
        "t.conf:6: [cgroup] io.max: `speed=1` is not rbps=", "t.conf:7: [cgroup] devices.allow: `x 1:3`: the type",
        "t.conf:8: [cgroup] devices.deny: access `rx`", "t.conf:9: [cgroup] cpus: `0` is not a CPU count",
        "t.conf:10: [cgroup] raw.v1: `memory.swappiness` has no VALUE", "t.conf:11: [cgroup] cpuset.cpus: `3-1`"})
    EXPECT_NE(m.find(want), std::string::npos) << "missing: " << want << "\nin:\n" << m;
}

TEST(CgroupKeys, ManPageListsTheKeys) {
  auto roff = config::render_key_reference_roff();
  for (const char* k : {"memory.max", "cpu.max", "io.max", "devices.allow", "hugetlb.2MB.max", "raw.v2"})
    EXPECT_NE(roff.find(std::string("\\fB") + k), std::string::npos) << k;
}

TEST(CgroupKeys, PersistEditsTheConfigText) {
  const std::string text = "include = /c.conf\n[container]\nttys = 2\n[cgroup]\nmemory.max = 1G\n# note\n\n[idmap]\nuid = 0 1 2\n";
  EXPECT_EQ(config::set_key_in_text(text, "cgroup", "memory.max", "32M", false),
            "include = /c.conf\n[container]\nttys = 2\n[cgroup]\n# note\nmemory.max = 32M\n\n[idmap]\nuid = 0 1 2\n");
  EXPECT_EQ(config::set_key_in_text("[container]\nttys = 2\n", "cgroup", "pids.max", "10", false),
            "[container]\nttys = 2\n\n[cgroup]\npids.max = 10\n");
  auto twice = config::set_key_in_text("[cgroup]\nio.max = 7:0 rbps=1\n", "cgroup", "io.max", "7:1 rbps=1", true);
  EXPECT_EQ(twice, "[cgroup]\nio.max = 7:0 rbps=1\nio.max = 7:1 rbps=1\n");
}

// --- conversions --------------------------------------------------------------------------------

TEST(CgroupConversions, WeightAndShares) {
  EXPECT_EQ(weight_to_shares(1), 2u);
  EXPECT_EQ(weight_to_shares(100), 2u + (99u * 262142u) / 9999u);  // 2597, the v2 default
  EXPECT_EQ(weight_to_shares(10000), 262144u);
  EXPECT_EQ(shares_to_weight(2), 1u);
  EXPECT_EQ(shares_to_weight(262144), 10000u);
  for (uint32_t w : {1u, 50u, 100u, 999u, 10000u}) EXPECT_NEAR(shares_to_weight(weight_to_shares(w)), w, 1) << w;
  EXPECT_EQ(io_weight_to_blkio(1), 10u);
  EXPECT_EQ(io_weight_to_blkio(10000), 1000u);
  EXPECT_EQ(blkio_to_io_weight(1000), 10000u);
}

TEST(CgroupConversions, CpuMaxAndLimits) {
  EXPECT_EQ(format_cpu_max(*parse_cpu_max("max")), "max 100000");
  EXPECT_EQ(format_cpu_max(*parse_cpu_max("50000 200000")), "50000 200000");
  EXPECT_EQ(format_limit(*parse_limit("1G", true)), "1073741824");
  EXPECT_EQ(format_limit(*parse_limit("max", true)), "max");
  EXPECT_FALSE(parse_limit("1G", false).has_value());
}

// --- writers on a fake cgroupfs -----------------------------------------------------------------

TEST(CgroupWriters, V1ConvertsToV1Files) {
  TempDir d;
  for (const char* f : {"memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes",
                        "cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.shares", "pids.max",
                        "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
                        "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device", "blkio.weight",
                        "hugetlb.2MB.limit_in_bytes", "devices.allow", "devices.deny"})
    touch(d.file(f));
  auto l = limits_of("memory.max = 64M\nmemory.swap.max = 16M\nmemory.high = 32M\ncpu.max = 20000 50000\n"
                     "cpu.weight = 100\npids.max = max\nio.max = 7:3 rbps=1M riops=max\nio.weight = 10000\n"
                     "hugetlb.2MB.max = max\n");
  ASSERT_OK(l);
  ASSERT_OK(v1::write_memory(d.path(), *l));
  EXPECT_EQ(slurp(d.file("memory.limit_in_bytes")), std::to_string(64u << 20));
  EXPECT_EQ(slurp(d.file("memory.memsw.limit_in_bytes")), std::to_string(80u << 20));  // memory + swap
  EXPECT_EQ(slurp(d.file("memory.soft_limit_in_bytes")), std::to_string(32u << 20));
  ASSERT_OK(v1::write_cpu(d.path(), *l));
  EXPECT_EQ(slurp(d.file("cpu.cfs_period_us")), "50000");
  EXPECT_EQ(slurp(d.file("cpu.cfs_quota_us")), "20000");
  EXPECT_EQ(slurp(d.file("cpu.shares")), "2597");
  ASSERT_OK(write_pids(d.path(), *l));
  EXPECT_EQ(slurp(d.file("pids.max")), "max");
  ASSERT_OK(v1::write_blkio(d.path(), *l));
  EXPECT_EQ(slurp(d.file("blkio.throttle.read_bps_device")), "7:3 1048576");
  EXPECT_EQ(slurp(d.file("blkio.throttle.read_iops_device")), "7:3 0");  // 0 = no v1 throttle
  EXPECT_EQ(slurp(d.file("blkio.weight")), "1000");
  ASSERT_OK(v1::write_hugetlb(d.path(), *l));
  EXPECT_EQ(slurp(d.file("hugetlb.2MB.limit_in_bytes")), "-1");
  ASSERT_OK(v1::write_devices(d.path(), *l));
  EXPECT_EQ(slurp(d.file("devices.allow")), "c 136:* rwm");  // the last rule written (files keep the last write)
  EXPECT_EQ(slurp(d.file("devices.deny")), "a");
}

TEST(CgroupWriters, V1SwapNeedsMemoryMax) {
  TempDir d;
  touch(d.file("memory.memsw.limit_in_bytes"));
  auto l = limits_of("memory.swap.max = 1G\n");
  ASSERT_OK(l);
  EXPECT_ERROR_CONTAINS(v1::write_memory(d.path(), *l), "set memory.max too");
}

TEST(CgroupWriters, V2WritesV2Syntax) {
  TempDir d;
  for (const char* f : {"memory.max", "memory.high", "memory.swap.max", "cpu.max", "cpu.weight", "pids.max", "io.max",
                        "io.weight", "cpuset.cpus"})
    touch(d.file(f));
  auto l = limits_of("memory.max = 1G\nmemory.swap.max = 0\ncpus = 0.2\ncpu.weight = 300\npids.max = 10\n"
                     "io.max = 7:0 rbps=1M\nio.weight = 50\ncpuset.cpus = 0\n");
  ASSERT_OK(l);
  ASSERT_OK(v2::write_memory(d.path(), *l));
  ASSERT_OK(v2::write_cpu(d.path(), *l));
  ASSERT_OK(write_pids(d.path(), *l));
  ASSERT_OK(v2::write_io(d.path(), *l));
  ASSERT_OK(write_cpuset(d.path(), *l));
  EXPECT_EQ(slurp(d.file("memory.max")), "1073741824");
  EXPECT_EQ(slurp(d.file("memory.swap.max")), "0");
  EXPECT_EQ(slurp(d.file("memory.high")), "");  // not set, not written
  EXPECT_EQ(slurp(d.file("cpu.max")), "20000 100000");
  EXPECT_EQ(slurp(d.file("cpu.weight")), "300");
  EXPECT_EQ(slurp(d.file("pids.max")), "10");
  EXPECT_EQ(slurp(d.file("io.max")), "7:0 rbps=1048576 wbps=max riops=max wiops=max");
  EXPECT_EQ(slurp(d.file("io.weight")), "default 50");
  EXPECT_EQ(slurp(d.file("cpuset.cpus")), "0");
}

TEST(CgroupWriters, AMissingControlFileIsAnError) {
  TempDir d;
  auto l = limits_of("memory.max = 1G\n");
  ASSERT_OK(l);
  EXPECT_ERROR_CONTAINS(v2::write_memory(d.path(), *l), "memory.max: the host's kernel has no `memory.max`");
}

// A hybrid-like fake: v1 memory, cpu, pids, devices hierarchies and v2 with io + hugetlb.
class FakeHybrid : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* h : {"memory", "cpu", "pids", "devices", "unified"}) ASSERT_EQ(::mkdir(d_.file(h).c_str(), 0755), 0);
    touch(d_.file("unified/cgroup.controllers"), "io hugetlb\n");
    touch(d_.file("unified/cgroup.subtree_control"));
    auto v1 = [&](const char* c) {
      Hierarchy h;
      h.mount_point = d_.file(c);
      h.mount_root = "/";
      h.controllers = {c};
      return h;
    };
    Hierarchy v2;
    v2.v2 = true;
    v2.mount_point = d_.file("unified");
    v2.mount_root = "/";
    v2.controllers = {"io", "hugetlb"};
    layout_.hierarchies = {v1("memory"), v1("cpu"), v1("pids"), v1("devices"), v2};
  }

  ContainerCgroups planned() {
    auto cg = ContainerCgroups::plan_from(layout_, "k", "5:memory:/\n4:cpu:/\n3:pids:/\n2:devices:/\n0::/\n");
    EXPECT_TRUE(cg.has_value());
    ContainerCgroups out = std::move(cg).value();
    out.set_dir_ops({[](const std::string& p) {
                       if (::mkdir(p.c_str(), 0755) < 0) return -1;
                       std::string h = basename_of(dirname_of(p));
                       std::vector<std::string> files = {"cgroup.procs"};
                       if (h == "memory") files.insert(files.end(), {"memory.limit_in_bytes", "memory.oom_control"});
                       if (h == "cpu") files.insert(files.end(), {"cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.shares"});
                       if (h == "pids") files.push_back("pids.max");
                       if (h == "devices") files.insert(files.end(), {"devices.allow", "devices.deny"});
                       if (h == "unified") files.insert(files.end(), {"io.max", "cgroup.controllers"});
                       for (const auto& f : files)
                         if (!write_file(p + "/" + f, "")) return -1;
                       return 0;
                     },
                     [](const std::string& p) { return remove_tree(p) ? 0 : -1; }, {}});
    return out;
  }

  TempDir d_;
  Layout layout_;
};

TEST_F(FakeHybrid, ApplyPicksTheHierarchyOfEachController) {
  auto cg = planned();
  ASSERT_OK(cg.create());
  auto l = limits_of("memory.max = 64M\ncpu.weight = 1000\npids.max = 32\nio.max = 7:0 wbps=2M\n");
  ASSERT_OK(l);
  ASSERT_OK(cg.apply(*l));
  EXPECT_EQ(slurp(d_.file("memory/cove.payload.k/memory.limit_in_bytes")), std::to_string(64u << 20));
  EXPECT_EQ(slurp(d_.file("cpu/cove.payload.k/cpu.shares")), std::to_string(weight_to_shares(1000)));
  EXPECT_EQ(slurp(d_.file("pids/cove.payload.k/pids.max")), "32");
  EXPECT_EQ(slurp(d_.file("devices/cove.payload.k/devices.deny")), "a");
  EXPECT_EQ(slurp(d_.file("unified/cove.payload.k/io.max")), "7:0 rbps=max wbps=2097152 riops=max wiops=max");
  EXPECT_EQ(slurp(d_.file("unified/cgroup.subtree_control")), "+io");  // enabled in the parent for v2
  EXPECT_EQ(*cg.read_limit("memory.max"), std::to_string(64u << 20));
  EXPECT_EQ(*cg.read_limit("cpu.weight"), "1000");
  EXPECT_EQ(*cg.read_limit("pids.max"), "32");
  // Only one controller: what a live change applies.
  l->pids_max = Limit(16);  // same length: a plain file keeps a longer old value's tail
  l->memory_max = Limit(1);
  ASSERT_OK(cg.apply(*l, {"pids"}));
  EXPECT_EQ(slurp(d_.file("pids/cove.payload.k/pids.max")), "16");
  EXPECT_EQ(slurp(d_.file("memory/cove.payload.k/memory.limit_in_bytes")), std::to_string(64u << 20));
  ASSERT_OK(cg.destroy(100));
}

TEST_F(FakeHybrid, AControllerTheHostLacksIsAnError) {
  auto cg = planned();
  ASSERT_OK(cg.create());
  auto l = limits_of("cpuset.cpus = 0\n");
  ASSERT_OK(l);
  EXPECT_ERROR_CONTAINS(cg.apply(*l), "cpuset.cpus/cpuset.mems need the `cpuset` controller");
  ASSERT_OK(cg.destroy(100));
}

// --- the device program -------------------------------------------------------------------------

TEST(DeviceProgram, Shape) {
  // Only "deny all": the prologue (6), that rule's block (mov, exit), nothing after it.
  auto p = build_device_program({DeviceRule{false, 'a', -1, -1, 7}});
  ASSERT_EQ(p.size(), 8u);
  EXPECT_EQ(p[0].code, BPF_LDX | BPF_MEM | BPF_W);
  EXPECT_EQ(p[6].code, BPF_ALU64 | BPF_MOV | BPF_K);
  EXPECT_EQ(p[6].imm, 0);
  EXPECT_EQ(p.back().code, BPF_JMP | BPF_EXIT);

  // "c 1:3 rwm" allow: type, major, minor checks + mov + exit = 5; rules run last first.
  auto rules = effective_device_rules(ResourceLimits{});
  ASSERT_EQ(rules.size(), 10u);  // deny-all + 9 standard nodes
  auto q = build_device_program({DeviceRule{false, 'a', -1, -1, 7}, DeviceRule{true, 'c', 1, 3, 7}});
  ASSERT_EQ(q.size(), 6u + 5u + 2u);
  EXPECT_EQ(q[6].code, BPF_JMP | BPF_JNE | BPF_K);
  EXPECT_EQ(q[6].dst_reg, BPF_REG_2);
  EXPECT_EQ(q[6].imm, BPF_DEVCG_DEV_CHAR);
  EXPECT_EQ(q[6].off, 4);  // to the next block
  EXPECT_EQ(q[7].imm, 1);  // major
  EXPECT_EQ(q[7].off, 3);
  EXPECT_EQ(q[8].imm, 3);  // minor
  EXPECT_EQ(q[9].imm, 1);  // allow
  // A wildcard minor has no minor check; a partial access adds the subset test (3 insns).
  auto r = build_device_program({DeviceRule{true, 'c', 136, -1, kAccessRead | kAccessWrite}});
  ASSERT_EQ(r.size(), 6u + 1 + 3 + 1 + 2 + 2);
  EXPECT_EQ(r[8].imm, BPF_DEVCG_ACC_MKNOD);  // request & ~(r|w) must be 0
  EXPECT_EQ(r.back().code, BPF_JMP | BPF_EXIT);
  EXPECT_EQ(r[r.size() - 2].imm, 0);  // default deny
}

}  // namespace
}  // namespace cove::cgroup
