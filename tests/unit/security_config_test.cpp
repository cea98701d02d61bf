// The [security] keys (and [idmap] rootfs): every value type good and bad, repeatable lists,
// clearing, round trips through get_key, and the shipped common.conf.
#include <sys/resource.h>

#include "config/key_table.hpp"
#include "config/load.hpp"
#include "security/cap_names.hpp"
#include "support.hpp"

namespace cove::config {
namespace {

const LoadOptions kOptions{"web", "/var/lib/cove/web/rootfs"};

Result<ContainerConfig> load(const std::string& text) {
  return load_config_string("[idmap]\nuid = 0 100000 65536\ngid = 0 100000 65536\n" + text, "t.conf", kOptions);
}

TEST(CapNames, RoundTripEveryName) {
  for (int c = 0; c <= security::kCapTableLast; ++c) {
    auto n = security::cap_name(c);
    EXPECT_EQ(security::cap_from_name(n), c) << n;
    EXPECT_EQ(security::cap_from_name("CAP_" + n), c) << n;
  }
  EXPECT_EQ(security::cap_from_name("sys_admin"), 21);
  EXPECT_EQ(security::cap_from_name("checkpoint_restore"), 40);
  EXPECT_FALSE(security::cap_from_name("sys_everything"));
  EXPECT_EQ(security::cap_name(63), "cap_63");
}

TEST(SecurityKeys, CapabilitiesAccumulateAndClear) {
  auto c = load("[security]\ncapabilities.drop = sys_module SYS_RAWIO\ncapabilities.drop = cap_sys_time sys_module\n");
  ASSERT_OK(c);
  EXPECT_EQ(c->security.cap_drop, (std::vector<int>{16, 17, 25}));
  EXPECT_EQ(*get_key(*c, "security", "capabilities.drop"), (std::vector<std::string>{"sys_module sys_rawio sys_time"}));
  c = load("[security]\ncapabilities.drop = sys_module\ncapabilities.drop =\ncapabilities.keep = chown kill\n");
  ASSERT_OK(c);
  EXPECT_TRUE(c->security.cap_drop.empty());
  EXPECT_EQ(c->security.cap_keep, (std::vector<int>{0, 5}));
}

TEST(SecurityKeys, UnknownCapabilityNamesLine) {
  EXPECT_ERROR_CONTAINS(load("[security]\ncapabilities.drop = sys_module warp_drive\n"),
                        "t.conf:5: [security] capabilities.drop: unknown capability `warp_drive`");
}

TEST(SecurityKeys, LsmValuesAndOptional) {
  auto c = load("[security]\napparmor = generated optional\nselinux = system_u:system_r:container_t:s0\n");
  ASSERT_OK(c);
  EXPECT_EQ(c->security.apparmor.value, "generated");
  EXPECT_TRUE(c->security.apparmor.optional);
  EXPECT_EQ(c->security.selinux.value, "system_u:system_r:container_t:s0");
  EXPECT_FALSE(c->security.selinux.optional);
  EXPECT_EQ(*get_key(*c, "security", "apparmor"), (std::vector<std::string>{"generated optional"}));
  // A later value replaces the earlier one, optional flag included.
  c = load("[security]\napparmor = generated optional\napparmor = my-profile\n");
  ASSERT_OK(c);
  EXPECT_FALSE(c->security.apparmor.optional);
  EXPECT_ERROR_CONTAINS(load("[security]\napparmor = a b\n"), "optionally followed by `optional`");
}

TEST(SecurityKeys, Rlimits) {
  auto c = load("[security]\nrlimit = nofile 1024 4096\nrlimit = core 0\nrlimit = nofile 2048 unlimited\n");
  ASSERT_OK(c);
  ASSERT_EQ(c->security.rlimits.size(), 2u);
  EXPECT_EQ(c->security.rlimits[0].resource, RLIMIT_CORE);
  EXPECT_EQ(c->security.rlimits[1].soft, 2048u);
  EXPECT_EQ(c->security.rlimits[1].hard, uint64_t(RLIM_INFINITY));
  EXPECT_EQ(get_key(*c, "security", "rlimit")->back(), "nofile 2048 unlimited");
  EXPECT_ERROR_CONTAINS(load("[security]\nrlimit = nofile 10 5\n"), "soft limit exceeds the hard limit");
  EXPECT_ERROR_CONTAINS(load("[security]\nrlimit = files 10\n"), "unknown resource `files`");
}

TEST(SecurityKeys, OnlyNamespacedSysctls) {
  auto c = load("[security]\nsysctl = net.ipv4.ip_forward=1\nsysctl = kernel.shmmax = 1000\nsysctl = net/ipv4/ping_group_range=0 0\n");
  ASSERT_OK(c);
  ASSERT_EQ(c->security.sysctls.size(), 3u);
  EXPECT_EQ(c->security.sysctls[1].key, "kernel.shmmax");
  EXPECT_EQ(c->security.sysctls[2].key, "net.ipv4.ping_group_range");
  EXPECT_EQ(c->security.sysctls[2].value, "0 0");
  EXPECT_ERROR_CONTAINS(load("[security]\nsysctl = kernel.core_pattern=|/tmp/x\n"),
                        "`kernel.core_pattern` is not namespaced: setting it would change the host");
  EXPECT_ERROR_CONTAINS(load("[security]\nsysctl = vm.swappiness=1\n"), "not namespaced");
  EXPECT_ERROR_CONTAINS(load("[security]\nsysctl = net..x=1\n"), "is not a sysctl name");
}

TEST(SecurityKeys, MaskedPathsNormalised) {
  auto c = load("[security]\nmasked_paths = /proc/kcore //sys/firmware/\nmasked_paths = /proc/kcore /proc/keys\n"
                "readonly_paths = /proc/bus\n");
  ASSERT_OK(c);
  EXPECT_EQ(c->security.masked_paths, (std::vector<std::string>{"proc/kcore", "sys/firmware", "proc/keys"}));
  EXPECT_EQ(c->security.readonly_paths, (std::vector<std::string>{"proc/bus"}));
  EXPECT_ERROR_CONTAINS(load("[security]\nmasked_paths = proc/kcore\n"), "is not an absolute path");
  EXPECT_ERROR_CONTAINS(load("[security]\nmasked_paths = /proc/../etc\n"), "`..`");
}

TEST(SecurityKeys, SeccompPathRelativeToFile) {
  auto c = load_config_string("[idmap]\nuid = 0 1 2\ngid = 0 1 2\n[security]\nseccomp = seccomp/default.seccomp\n",
                              "/etc/cove/x.conf", kOptions);
  ASSERT_OK(c);
  EXPECT_EQ(c->security.seccomp, "/etc/cove/seccomp/default.seccomp");
}

TEST(SecurityKeys, RootfsIdmapMode) {
  auto c = load("[idmap]\nrootfs = shift\n");
  ASSERT_OK(c);
  EXPECT_EQ(c->security.rootfs_idmap, RootfsIdmap::kShift);
  EXPECT_ERROR_CONTAINS(load("[idmap]\nrootfs = chown\n"), "not a rootfs ownership mode");
}

TEST(SecurityKeys, EveryKeyRoundTrips) {
  auto c = load(
      "[idmap]\nrootfs = idmapped\n[security]\ncapabilities.drop = sys_time\ncapabilities.keep = chown sys_time\n"
      "no_new_privs = yes\nseccomp = /x.json\napparmor = unconfined\nselinux = u:r:t:s0 optional\n"
      "selinux.mount_context = u:object_r:t:s0\nrlimit = nproc 10 20\nsysctl = net.core.somaxconn=512\n"
      "masked_paths = /a /b\nreadonly_paths = /c\n");
  ASSERT_OK(c);
  std::string text = "[idmap]\nuid = 0 100000 65536\ngid = 0 100000 65536\n";
  for (const auto& k : security_keys()) {
    text += "[" + std::string(k.section) + "]\n";
    auto values = get_key(*c, std::string(k.section), std::string(k.key));
    ASSERT_OK(values);
    for (const auto& v : *values) text += std::string(k.key) + " = " + v + "\n";
  }
  auto again = load_config_string(text, "again.conf", kOptions);
  ASSERT_OK(again);
  for (const auto& k : security_keys())
    EXPECT_EQ(*get_key(*again, std::string(k.section), std::string(k.key)),
              *get_key(*c, std::string(k.section), std::string(k.key)))
        << k.name();
}

TEST(SecurityKeys, ShippedCommonConfParses) {
  auto c = load_config(std::string(COVE_SRCDIR) + "/config/common.conf",
                       LoadOptions{"web", "/var/lib/cove/web/rootfs", /*validate=*/false});
  ASSERT_OK(c);
  const auto& s = c->security;
  for (const char* cap : {"sys_module", "sys_rawio", "sys_time", "mac_admin", "mac_override", "mknod"})
    EXPECT_NE(std::find(s.cap_drop.begin(), s.cap_drop.end(), *security::cap_from_name(cap)), s.cap_drop.end()) << cap;
  // sys_boot stays: reboot(2) in a PID namespace ends only the container.
  EXPECT_EQ(std::find(s.cap_drop.begin(), s.cap_drop.end(), 22), s.cap_drop.end());
  EXPECT_EQ(s.seccomp, std::string(COVE_SRCDIR) + "/config/seccomp/default.seccomp");
  EXPECT_EQ(s.apparmor.value, "generated");
  EXPECT_TRUE(s.apparmor.optional);
  EXPECT_FALSE(s.no_new_privs);
  EXPECT_NE(std::find(s.masked_paths.begin(), s.masked_paths.end(), "proc/kcore"), s.masked_paths.end());
}

}  // namespace
}  // namespace cove::config
