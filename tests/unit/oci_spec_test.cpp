// oci/spec: config.json parsing (a full containerd config, every field, every validation rule
// with the JSON path its message names), the process JSON of `exec --process`, and the JSON
// cove-oci writes for `spec` (both variants parse back) and `features`.
#include "oci/spec.hpp"
#include "oci/translate.hpp"

#include <nlohmann/json.hpp>

#include "support.hpp"

namespace cove::oci {
namespace {

using Json = nlohmann::json;

// What containerd 1.6 generates for `ctr run --net-host=false docker.io/library/alpine:latest
// web`, joined to a CNI network namespace, with an apparmor profile and a seccomp policy.
constexpr const char* kContainerdConfig = R"({
  "ociVersion": "1.0.2-dev",
  "process": {
    "user": {"uid": 0, "gid": 0, "additionalGids": [0, 1, 2, 3, 4, 6, 10, 11, 20, 26, 27]},
    "args": ["/bin/sh"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                   "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                   "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"],
      "effective": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"],
      "permitted": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "apparmorProfile": "cri-containerd.apparmor.d",
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs"},
  "hostname": "web",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/etc/resolv.conf", "type": "bind", "source": "/var/lib/containerd/resolv.conf", "options": ["rbind", "ro"]}
  ],
  "hooks": {
    "createRuntime": [{"path": "/usr/bin/nvidia-container-runtime-hook", "args": ["hook", "prestart"],
                       "env": ["DEBUG=1"], "timeout": 30}]
  },
  "annotations": {"io.containerd.image.name": "docker.io/library/alpine:latest"},
  "linux": {
    "resources": {
      "devices": [
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
        {"allow": true, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
        {"allow": true, "type": "c", "major": 5, "minor": 1, "access": "rwm"},
        {"allow": true, "type": "c", "major": 136, "access": "rwm"},
        {"allow": true, "type": "c", "major": 5, "minor": 2, "access": "rwm"},
        {"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rwm"}
      ]
    },
    "cgroupsPath": "/default/web",
    "namespaces": [
      {"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"},
      {"type": "network", "path": "/var/run/netns/cni-7d0f7e4c-55b1-1d2c-d6f6-5d3b2a1c0e9f"}
    ],
    "seccomp": {
      "defaultAction": "SCMP_ACT_ERRNO",
      "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      "syscalls": [{"names": ["accept", "accept4", "access"], "action": "SCMP_ACT_ALLOW"}]
    },
    "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }
})";

// The smallest spec: what the rule tests patch (merge_patch: null removes a key).
Json minimal() {
  return Json::parse(R"({"ociVersion": "1.1.0", "root": {"path": "rootfs"},
                         "process": {"args": ["sh"], "cwd": "/"}, "linux": {}})");
}

Result<Spec> parse_patched(const Json& patch) {
  Json j = minimal();
  j.merge_patch(patch);
  return parse_spec(j.dump(), "config.json");
}

Result<Spec> parse_patched(const char* patch) { return parse_patched(Json::parse(patch)); }

TEST(OciSpecTest, ContainerdConfig) {
  auto s = parse_spec(kContainerdConfig, "bundle/config.json");
  ASSERT_OK(s);
  EXPECT_EQ(s->oci_version, "1.0.2-dev");
  ASSERT_TRUE(s->process.has_value());
  const Process& p = *s->process;
  EXPECT_FALSE(p.terminal);
  EXPECT_EQ(p.user.uid, 0u);
  EXPECT_EQ(p.user.additional_gids, (std::vector<uint32_t>{0, 1, 2, 3, 4, 6, 10, 11, 20, 26, 27}));
  EXPECT_EQ(p.args, std::vector<std::string>{"/bin/sh"});
  EXPECT_EQ(p.env, std::vector<std::string>{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"});
  EXPECT_EQ(p.cwd, "/");
  ASSERT_TRUE(p.capabilities.has_value());
  EXPECT_EQ(p.capabilities->bounding.size(), 14u);
  EXPECT_EQ(p.capabilities->bounding[4], "CAP_MKNOD");
  EXPECT_EQ(p.capabilities->effective, p.capabilities->bounding);
  EXPECT_TRUE(p.capabilities->inheritable.empty());
  EXPECT_TRUE(p.capabilities->ambient.empty());
  ASSERT_EQ(p.rlimits.size(), 1u);
  EXPECT_EQ(p.rlimits[0].type, "RLIMIT_NOFILE");
  EXPECT_EQ(p.rlimits[0].soft, 1024u);
  EXPECT_EQ(p.rlimits[0].hard, 1024u);
  EXPECT_TRUE(p.no_new_privileges);
  EXPECT_EQ(p.apparmor_profile, "cri-containerd.apparmor.d");
  EXPECT_FALSE(p.oom_score_adj.has_value());

  EXPECT_EQ(s->root.path, "rootfs");
  EXPECT_FALSE(s->root.readonly);
  EXPECT_EQ(s->hostname, "web");
  ASSERT_EQ(s->mounts.size(), 8u);
  EXPECT_EQ(s->mounts[2].destination, "/dev/pts");
  EXPECT_EQ(s->mounts[2].type, "devpts");
  EXPECT_EQ(s->mounts[2].options.back(), "gid=5");
  EXPECT_EQ(s->mounts[7].source, "/var/lib/containerd/resolv.conf");
  EXPECT_EQ(s->mounts[7].options, (std::vector<std::string>{"rbind", "ro"}));

  ASSERT_TRUE(s->hooks.has_value());
  ASSERT_EQ(s->hooks->create_runtime.size(), 1u);
  EXPECT_EQ(s->hooks->create_runtime[0].path, "/usr/bin/nvidia-container-runtime-hook");
  EXPECT_EQ(s->hooks->create_runtime[0].args, (std::vector<std::string>{"hook", "prestart"}));
  EXPECT_EQ(s->hooks->create_runtime[0].timeout, std::optional<unsigned>(30));
  EXPECT_TRUE(s->hooks->prestart.empty());
  EXPECT_EQ(s->annotations.at("io.containerd.image.name"), "docker.io/library/alpine:latest");

  ASSERT_TRUE(s->linux.has_value());
  const Linux& l = *s->linux;
  EXPECT_EQ(l.cgroups_path, "/default/web");
  ASSERT_TRUE(l.resources.has_value());
  ASSERT_EQ(l.resources->devices.size(), 11u);
  EXPECT_FALSE(l.resources->devices[0].allow);
  EXPECT_EQ(l.resources->devices[0].type, "");
  EXPECT_EQ(l.resources->devices[0].access, "rwm");
  EXPECT_FALSE(l.resources->devices[0].major.has_value());
  EXPECT_TRUE(l.resources->devices[8].allow);
  EXPECT_EQ(l.resources->devices[8].major, std::optional<int64_t>(136));
  EXPECT_FALSE(l.resources->devices[8].minor.has_value());
  EXPECT_EQ(l.resources->devices[10].minor, std::optional<int64_t>(200));
  EXPECT_FALSE(l.resources->memory.has_value());
  EXPECT_FALSE(l.resources->has_network);
  ASSERT_EQ(l.namespaces.size(), 5u);
  EXPECT_EQ(l.namespaces[0].type, "pid");
  EXPECT_EQ(l.namespaces[0].path, "");
  EXPECT_EQ(l.namespaces[4].type, "network");
  EXPECT_EQ(l.namespaces[4].path, "/var/run/netns/cni-7d0f7e4c-55b1-1d2c-d6f6-5d3b2a1c0e9f");
  ASSERT_EQ(l.masked_paths.size(), 10u);
  EXPECT_EQ(l.masked_paths[2], "/proc/kcore");
  EXPECT_EQ(l.readonly_paths.back(), "/proc/sysrq-trigger");
  ASSERT_TRUE(l.seccomp.has_value());
  EXPECT_EQ(Json::parse(l.seccomp->json), Json::parse(kContainerdConfig)["linux"]["seccomp"]);
  EXPECT_EQ(l.seccomp->listener_path, "");
  EXPECT_EQ(l.rootfs_propagation, "");
}

// Every other field the parser reads, with its value landing in the right member.
TEST(OciSpecTest, EveryField) {
  auto s = parse_patched(R"({
    "hostname": "h", "domainname": "example.org",
    "root": {"path": "/srv/rootfs", "readonly": true},
    "process": {"terminal": true, "consoleSize": {"height": 24, "width": 80},
                "user": {"uid": 1000, "gid": 100, "umask": 18, "additionalGids": [5]},
                "capabilities": {"inheritable": ["CAP_SYS_ADMIN"], "ambient": ["CAP_CHECKPOINT_RESTORE"]},
                "rlimits": [{"type": "RLIMIT_CORE", "soft": 0, "hard": 18446744073709551615}],
                "selinuxLabel": "system_u:system_r:container_t:s0", "oomScoreAdj": -500},
    "mounts": [{"destination": "/data", "source": "/srv/data", "options": ["bind"],
                "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
                "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 65536}]}],
    "hooks": {"prestart": [{"path": "/a"}], "createContainer": [{"path": "/b"}], "startContainer": [{"path": "/c"}],
              "poststart": [{"path": "/d"}], "poststop": [{"path": "/e", "timeout": 1}]},
    "linux": {
      "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
      "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
      "sysctl": {"net.ipv4.ip_forward": "1"},
      "resources": {
        "memory": {"limit": 536870912, "reservation": -1, "swap": -1, "swappiness": 60,
                   "disableOOMKiller": false, "useHierarchy": true, "checkBeforeUpdate": true},
        "cpu": {"shares": 1024, "quota": -1, "burst": 0, "period": 100000, "realtimeRuntime": 950000,
                "realtimePeriod": 1000000, "cpus": "0-1", "mems": "0", "idle": 1},
        "pids": {"limit": -1},
        "blockIO": {"weight": 500, "leafWeight": 300,
                    "weightDevice": [{"major": 8, "minor": 0, "weight": 600}],
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 104857600}],
                    "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 300}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200}],
        "unified": {"memory.high": "400M"},
        "network": {"classID": 1048577},
        "rdma": {"mlx5_1": {"hcaHandles": 3}}
      },
      "namespaces": [{"type": "user"}, {"type": "time"}, {"type": "cgroup", "path": "/proc/1/ns/cgroup"}],
      "devices": [{"type": "c", "path": "/dev/fuse", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0},
                  {"type": "p", "path": "/dev/pipe"}],
      "seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/seccomp.sock"},
      "rootfsPropagation": "rslave",
      "mountLabel": "system_u:object_r:container_file_t:s0",
      "timeOffsets": {"monotonic": {"secs": -3600, "nanosecs": 5}, "boottime": {"secs": 86400}}
    }
  })");
  ASSERT_OK(s);
  EXPECT_EQ(s->domainname, "example.org");
  EXPECT_EQ(s->root.path, "/srv/rootfs");
  EXPECT_TRUE(s->root.readonly);
  const Process& p = *s->process;
  EXPECT_TRUE(p.terminal);
  EXPECT_EQ(p.console_size, (std::optional<std::pair<unsigned, unsigned>>({24, 80})));
  EXPECT_EQ(p.user.uid, 1000u);
  EXPECT_EQ(p.user.gid, 100u);
  EXPECT_EQ(p.user.umask, std::optional<uint32_t>(18));
  EXPECT_EQ(p.capabilities->inheritable, std::vector<std::string>{"CAP_SYS_ADMIN"});
  EXPECT_EQ(p.capabilities->ambient, std::vector<std::string>{"CAP_CHECKPOINT_RESTORE"});
  EXPECT_EQ(p.rlimits[0].hard, UINT64_MAX);
  EXPECT_EQ(p.selinux_label, "system_u:system_r:container_t:s0");
  EXPECT_EQ(p.oom_score_adj, std::optional<int>(-500));

  ASSERT_EQ(s->mounts.size(), 1u);
  EXPECT_EQ(s->mounts[0].type, "");
  EXPECT_EQ(s->mounts[0].uid_mappings, (std::vector<IdMapping>{{0, 100000, 65536}}));
  EXPECT_EQ(s->mounts[0].gid_mappings, (std::vector<IdMapping>{{0, 200000, 65536}}));

  const Hooks& h = *s->hooks;
  EXPECT_EQ(h.prestart[0].path, "/a");
  EXPECT_EQ(h.create_container[0].path, "/b");
  EXPECT_EQ(h.start_container[0].path, "/c");
  EXPECT_EQ(h.poststart[0].path, "/d");
  EXPECT_EQ(h.poststop[0].timeout, std::optional<unsigned>(1));
  EXPECT_FALSE(h.prestart[0].timeout.has_value());

  const Linux& l = *s->linux;
  EXPECT_EQ(l.uid_mappings, (std::vector<IdMapping>{{0, 100000, 65536}}));
  EXPECT_EQ(l.sysctl.at("net.ipv4.ip_forward"), "1");
  const Resources& r = *l.resources;
  EXPECT_EQ(r.memory->limit, std::optional<int64_t>(536870912));
  EXPECT_EQ(r.memory->reservation, std::optional<int64_t>(-1));
  EXPECT_EQ(r.memory->swap, std::optional<int64_t>(-1));
  EXPECT_FALSE(r.memory->kernel.has_value());
  EXPECT_EQ(r.memory->swappiness, std::optional<uint64_t>(60));
  EXPECT_EQ(r.memory->disable_oom_killer, std::optional<bool>(false));
  EXPECT_EQ(r.memory->use_hierarchy, std::optional<bool>(true));
  EXPECT_EQ(r.memory->check_before_update, std::optional<bool>(true));
  EXPECT_EQ(r.cpu->shares, std::optional<uint64_t>(1024));
  EXPECT_EQ(r.cpu->quota, std::optional<int64_t>(-1));
  EXPECT_EQ(r.cpu->burst, std::optional<uint64_t>(0));
  EXPECT_EQ(r.cpu->period, std::optional<uint64_t>(100000));
  EXPECT_EQ(r.cpu->realtime_runtime, std::optional<int64_t>(950000));
  EXPECT_EQ(r.cpu->realtime_period, std::optional<uint64_t>(1000000));
  EXPECT_EQ(r.cpu->cpus, "0-1");
  EXPECT_EQ(r.cpu->mems, "0");
  EXPECT_EQ(r.cpu->idle, std::optional<int64_t>(1));
  EXPECT_EQ(r.pids_limit, std::optional<int64_t>(-1));
  EXPECT_EQ(r.block_io->weight, std::optional<uint16_t>(500));
  EXPECT_EQ(r.block_io->leaf_weight, std::optional<uint16_t>(300));
  ASSERT_EQ(r.block_io->weight_device.size(), 1u);
  EXPECT_EQ(r.block_io->weight_device[0].major, 8);
  EXPECT_EQ(r.block_io->weight_device[0].weight, std::optional<uint16_t>(600));
  EXPECT_FALSE(r.block_io->weight_device[0].leaf_weight.has_value());
  EXPECT_EQ(r.block_io->throttle_read_bps[0].rate, 104857600u);
  EXPECT_TRUE(r.block_io->throttle_write_bps.empty());
  EXPECT_EQ(r.block_io->throttle_write_iops[0].minor, 16);
  EXPECT_EQ(r.hugepage_limits[0].page_size, "2MB");
  EXPECT_EQ(r.hugepage_limits[0].limit, 209715200u);
  EXPECT_EQ(r.unified.at("memory.high"), "400M");
  EXPECT_TRUE(r.has_network);
  EXPECT_TRUE(r.has_rdma);

  ASSERT_EQ(l.namespaces.size(), 3u);
  EXPECT_EQ(l.namespaces[2].path, "/proc/1/ns/cgroup");
  ASSERT_EQ(l.devices.size(), 2u);
  EXPECT_EQ(l.devices[0].type, "c");
  EXPECT_EQ(l.devices[0].major, 10);
  EXPECT_EQ(l.devices[0].minor, 229);
  EXPECT_EQ(l.devices[0].file_mode, std::optional<uint32_t>(0666));
  EXPECT_EQ(l.devices[0].uid, std::optional<uint32_t>(0));
  EXPECT_EQ(l.devices[1].type, "p");
  EXPECT_FALSE(l.devices[1].file_mode.has_value());
  EXPECT_EQ(l.seccomp->listener_path, "/run/seccomp.sock");
  EXPECT_EQ(l.rootfs_propagation, "rslave");
  EXPECT_EQ(l.mount_label, "system_u:object_r:container_file_t:s0");
  EXPECT_EQ(l.time_offsets.at("monotonic").secs, -3600);
  EXPECT_EQ(l.time_offsets.at("monotonic").nanosecs, 5u);
  EXPECT_EQ(l.time_offsets.at("boottime").secs, 86400);
}

TEST(OciSpecTest, MinimalSpecLeavesDefaults) {
  Json j = minimal();
  j.erase("process");
  j.erase("linux");
  auto s = parse_spec(j.dump(), "config.json");
  ASSERT_OK(s);
  EXPECT_FALSE(s->process.has_value());
  EXPECT_FALSE(s->linux.has_value());
  EXPECT_FALSE(s->hooks.has_value());
  EXPECT_TRUE(s->mounts.empty());
  // Go runtimes read null as absent: so does this parser (merge_patch would drop nulls, so
  // this text is written out whole).
  auto n = parse_spec(R"({"ociVersion": "1.1.0", "root": {"path": "r"}, "hooks": null, "mounts": null,
                          "process": {"args": ["sh"], "env": null, "user": null, "cwd": null}})",
                      "config.json");
  ASSERT_OK(n);
  EXPECT_FALSE(n->hooks.has_value());
  EXPECT_TRUE(n->process->env.empty());
  EXPECT_EQ(n->process->cwd, "/");
}

TEST(OciSpecTest, Versions) {
  for (const char* v : {"1.0.0", "1.0.2-dev", "1.1.0", "1.1.0-rc.1", "1.2.0", "1.2.1"}) {
    auto s = parse_patched(Json{{"ociVersion", v}});
    EXPECT_OK(s);
    if (s) {
      EXPECT_EQ(s->oci_version, v);
    }
  }
  for (const char* v : {"2.0.0", "1.3.0", "0.9.0", "1.0", "10.0.0", "1.1.x", ""})
    EXPECT_ERROR_CONTAINS(parse_patched(Json{{"ociVersion", v}}),
                          "config.json: `ociVersion`: version `" + std::string(v) +
                              "` is not supported (cove-oci accepts 1.0.x, 1.1.x and 1.2.x)");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"ociVersion": null})"), "config.json: `ociVersion`: missing");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"ociVersion": 1.1})"), "config.json: `ociVersion`: must be a string");
}

TEST(OciSpecTest, RootRequired) {
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"root": null})"), "config.json: `root`: missing");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"root": {"path": ""}})"), "`root.path`: must not be empty");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"root": {"path": null, "readonly": true}})"), "`root.path`: missing");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"root": "rootfs"})"), "`root`: must be an object");
}

TEST(OciSpecTest, ProcessRules) {
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"process": {"args": []}})"), "config.json: `process.args`: must not be empty");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"process": {"args": null}})"), "`process.args`: missing");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"process": {"cwd": "home"}})"),
                        "`process.cwd`: `home` is not an absolute path");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"process": {"cwd": ""}})"), "`process.cwd`: `` is not an absolute path");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"process": {"env": ["A=1", "B"]}})"),
                        "`process.env[1]`: `B` is not KEY=VALUE");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"process": {"env": ["=1"]}})"), "`process.env[0]`: `=1` is not KEY=VALUE");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"process": {"consoleSize": {"height": 24}}})"),
                        "`process.consoleSize.width`: missing");
}

TEST(OciSpecTest, Capabilities) {
  EXPECT_ERROR_CONTAINS(
      parse_patched(R"({"process": {"capabilities": {"bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN", "CAP_FOO"]}}})"),
      "config.json: `process.capabilities.bounding[3]`: unknown capability `CAP_FOO`");
  // The spec's spelling only: cove's other spellings are not config.json's.
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"process": {"capabilities": {"ambient": ["chown"]}}})"),
                        "`process.capabilities.ambient[0]`: unknown capability `chown`");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"process": {"capabilities": {"permitted": ["cap_kill"]}}})"),
                        "`process.capabilities.permitted[0]`: unknown capability `cap_kill`");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"process": {"capabilities": {"effective": [21]}}})"),
                        "`process.capabilities.effective[0]`: must be a string");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"process": {"capabilities": {"inheritable": "CAP_KILL"}}})"),
                        "`process.capabilities.inheritable`: must be an array");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"process": {"capabilities": {"all": []}}})"),
                        "`process.capabilities.all`: unknown field");
}

TEST(OciSpecTest, Rlimits) {
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"process": {"rlimits": [{"type": "RLIMIT_FOO", "soft": 1, "hard": 1}]}})"),
                        "`process.rlimits[0].type`: unknown resource limit `RLIMIT_FOO`");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"process": {"rlimits": [{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}]}})"),
                        "`process.rlimits[0].soft`: soft limit 2048 is above the hard limit 1024");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"process": {"rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1}]}})"),
                        "`process.rlimits[0].hard`: missing");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"process": {"rlimits": [{"type": "RLIMIT_CPU", "soft": 1, "hard": 1},
                                                                  {"type": "RLIMIT_CPU", "soft": 2, "hard": 2}]}})"),
                        "`process.rlimits[1].type`: `RLIMIT_CPU` given twice");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"process": {"rlimits": [{"type": "RLIMIT_CPU", "soft": -1, "hard": 1}]}})"),
                        "`process.rlimits[0].soft`: must be an unsigned 64-bit integer");
  const char* const names[] = {"RLIMIT_AS",   "RLIMIT_CORE",    "RLIMIT_CPU",    "RLIMIT_DATA",   "RLIMIT_FSIZE",
                               "RLIMIT_LOCKS", "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_NOFILE",
                               "RLIMIT_NPROC", "RLIMIT_RSS",    "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING",
                               "RLIMIT_STACK"};
  Json all = Json::array();
  for (const char* n : names) all.push_back({{"type", n}, {"soft", 1}, {"hard", 2}});
  auto s = parse_patched(Json{{"process", {{"rlimits", all}}}});
  ASSERT_OK(s);
  EXPECT_EQ(s->process->rlimits.size(), 16u);
}

TEST(OciSpecTest, Mounts) {
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"mounts": [{"destination": "/proc", "type": "proc"},
                                                      {"destination": "/dev"},
                                                      {"destination": "data", "source": "/srv"}]})"),
                        "config.json: `mounts[2].destination`: `data` is not an absolute path");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"mounts": [{"type": "tmpfs"}]})"), "`mounts[0].destination`: missing");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"mounts": [{"destination": "/x", "options": "ro"}]})"),
                        "`mounts[0].options`: must be an array");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"mounts": [{"destination": "/x", "uidMappings": [{"containerID": 0, "hostID": 1}]}]})"),
                        "`mounts[0].uidMappings[0].size`: missing");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"mounts": {"destination": "/x"}})"), "`mounts`: must be an array");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"mounts": ["/x"]})"), "`mounts[0]`: must be an object");
}

TEST(OciSpecTest, Hooks) {
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"hooks": {"poststop": [{"path": "/ok"}, {"path": "bin/hook"}]}})"),
                        "config.json: `hooks.poststop[1].path`: `bin/hook` is not an absolute path");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"hooks": {"createRuntime": [{"path": "/h", "timeout": 0}]}})"),
                        "`hooks.createRuntime[0].timeout`: must be above 0");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"hooks": {"createRuntime": [{"path": "/h", "timeout": -5}]}})"),
                        "`hooks.createRuntime[0].timeout`: must be an unsigned 32-bit integer");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"hooks": {"startContainer": [{"path": "/h", "env": ["X"]}]}})"),
                        "`hooks.startContainer[0].env[0]`: `X` is not KEY=VALUE");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"hooks": {"prestop": []}})"), "`hooks.prestop`: unknown field");
}

TEST(OciSpecTest, Namespaces) {
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"namespaces": [{"type": "pid"}, {"type": "net"}]}})"),
                        "config.json: `linux.namespaces[1].type`: unknown namespace type `net`");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "pid"}]}})"),
                        "`linux.namespaces[2].type`: namespace `pid` given twice");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"namespaces": [{"type": "network", "path": "netns/x"}]}})"),
                        "`linux.namespaces[0].path`: `netns/x` is not an absolute path");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"namespaces": [{"path": "/proc/1/ns/pid"}]}})"),
                        "`linux.namespaces[0].type`: missing");
  Json all = Json::array();
  for (const char* t : {"pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"}) all.push_back({{"type", t}});
  auto s = parse_patched(Json{{"linux", {{"namespaces", all}}}});
  ASSERT_OK(s);
  EXPECT_EQ(s->linux->namespaces.size(), 8u);
}

TEST(OciSpecTest, Devices) {
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"devices": [{"type": "x", "path": "/dev/x"}]}})"),
                        "config.json: `linux.devices[0].type`: device type `x` is not one of c, b, u, p");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"devices": [{"type": "c", "path": "/dev/a", "major": 1, "minor": 3},
                                                                {"type": "b", "path": "dev/sda"}]}})"),
                        "`linux.devices[1].path`: `dev/sda` is not an absolute path");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"devices": [{"type": "c", "path": "/dev/a", "fileMode": -1}]}})"),
                        "`linux.devices[0].fileMode`: must be an unsigned 32-bit integer");
  auto u = parse_patched(R"({"linux": {"devices": [{"type": "u", "path": "/dev/u", "major": 4, "minor": 64}]}})");
  ASSERT_OK(u);
  EXPECT_EQ(u->linux->devices[0].type, "u");
}

TEST(OciSpecTest, DeviceCgroupRules) {
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"resources": {"devices": [{"allow": true, "access": "rwx"}]}}})"),
                        "config.json: `linux.resources.devices[0].access`: `rwx` is not a subset of `rwm`");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"resources": {"devices": [{"allow": true, "access": "rr"}]}}})"),
                        "`linux.resources.devices[0].access`: `rr` is not a subset of `rwm`");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"resources": {"devices": [{"allow": true, "type": "u"}]}}})"),
                        "`linux.resources.devices[0].type`: device type `u` is not one of a, c, b");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"resources": {"devices": [{"access": "r"}]}}})"),
                        "`linux.resources.devices[0].allow`: missing");
  auto s = parse_patched(R"({"linux": {"resources": {"devices": [{"allow": true, "type": "a", "access": "mw"},
                                                                 {"allow": false, "type": "b", "major": 8, "access": ""}]}}})");
  ASSERT_OK(s);
  EXPECT_EQ(s->linux->resources->devices[0].type, "");  // "a" = all
  EXPECT_EQ(s->linux->resources->devices[0].access, "mw");
  EXPECT_EQ(s->linux->resources->devices[1].type, "b");
  EXPECT_EQ(s->linux->resources->devices[1].access, "");
}

TEST(OciSpecTest, PropagationAndTimeOffsets) {
  for (const char* p : {"", "shared", "slave", "private", "unbindable", "rshared", "rslave", "rprivate", "runbindable"})
    EXPECT_OK(parse_patched(Json{{"linux", {{"rootfsPropagation", p}}}}));
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"rootfsPropagation": "recursive"}})"),
                        "config.json: `linux.rootfsPropagation`: `recursive` is not a mount propagation");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"timeOffsets": {"realtime": {"secs": 1}}}})"),
                        "`linux.timeOffsets.realtime`: unknown clock (monotonic or boottime)");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"timeOffsets": {"boottime": {"nanosecs": 1000000000}}}})"),
                        "`linux.timeOffsets.boottime.nanosecs`: must be below 1000000000");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"timeOffsets": {"boottime": {"secs": 1, "nsecs": 1}}}})"),
                        "`linux.timeOffsets.boottime.nsecs`: unknown field");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"maskedPaths": ["/proc/kcore", "proc/keys"]}})"),
                        "`linux.maskedPaths[1]`: `proc/keys` is not an absolute path");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"readonlyPaths": ["sys"]}})"),
                        "`linux.readonlyPaths[0]`: `sys` is not an absolute path");
}

TEST(OciSpecTest, UnknownFields) {
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"fooBar": 1}})"), "config.json: `linux.fooBar`: unknown field");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"ociversion": "1.1.0"})"), "config.json: `ociversion`: unknown field");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"mounts": [{"destination": "/x", "readonly": true}]})"),
                        "`mounts[0].readonly`: unknown field");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"process": {"user": {"uid": 0, "groups": [1]}}})"),
                        "`process.user.groups`: unknown field");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"resources": {"memory": {"max": 1}}}})"),
                        "`linux.resources.memory.max`: unknown field");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"resources": {"pids": {"max": 1}}}})"),
                        "`linux.resources.pids.max`: unknown field");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"resources": {"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1, "x": 0}]}}}})"),
                        "`linux.resources.blockIO.throttleReadBpsDevice[0].x`: unknown field");
  // A null value does not make an unknown key acceptable.
  EXPECT_ERROR_CONTAINS(parse_spec(R"({"ociVersion": "1.1.0", "root": {"path": "r"},
                                      "linux": {"resources": {"cpu": {"weight": null}}}})",
                                   "config.json"),
                        "`linux.resources.cpu.weight`: unknown field");
}

TEST(OciSpecTest, UnsupportedFields) {
  struct Case {
    const char* path;
    const char* given;  // refused
    const char* empty;  // the same field saying nothing: accepted
  };
  const Case cases[] = {
      {"linux.intelRdt", R"({"linux": {"intelRdt": {"closID": "guaranteed_group"}}})", R"({"linux": {"intelRdt": {}}})"},
      {"linux.personality", R"({"linux": {"personality": {"domain": "LINUX32"}}})", R"({"linux": {"personality": {}}})"},
      {"linux.memoryPolicy", R"({"linux": {"memoryPolicy": {"mode": "MPOL_BIND"}}})", R"({"linux": {"memoryPolicy": {}}})"},
      {"linux.netDevices", R"({"linux": {"netDevices": {"eth1": {"name": "eth0"}}}})", R"({"linux": {"netDevices": {}}})"},
      {"process.ioPriority", R"({"process": {"ioPriority": {"class": "IOPRIO_CLASS_IDLE"}}})", R"({"process": {"ioPriority": {}}})"},
      {"process.scheduler", R"({"process": {"scheduler": {"policy": "SCHED_FIFO"}}})", R"({"process": {"scheduler": {}}})"},
      {"process.execCPUAffinity", R"({"process": {"execCPUAffinity": {"initial": "0"}}})", R"({"process": {"execCPUAffinity": {}}})"},
      {"process.commandLine", R"({"process": {"commandLine": "cmd.exe"}})", R"({"process": {"commandLine": ""}})"},
      {"process.user.username", R"({"process": {"user": {"username": "root"}}})", R"({"process": {"user": {"username": ""}}})"},
      {"windows", R"({"windows": {"layerFolders": ["C:\\l"]}})", R"({"windows": {}})"},
      {"solaris", R"({"solaris": {"milestone": "x"}})", R"({"solaris": {}})"},
      {"vm", R"({"vm": {"kernel": {"path": "/k"}}})", R"({"vm": {}})"},
      {"zos", R"({"zos": {"namespaces": [{"type": "pid"}]}})", R"({"zos": {}})"},
  };
  for (const auto& c : cases) {
    EXPECT_ERROR_CONTAINS(parse_patched(c.given), "config.json: `" + std::string(c.path) + "`: not supported by cove-oci");
    EXPECT_OK(parse_patched(c.empty));
  }
  // merge_patch drops nulls: an explicit null in the text is accepted too.
  EXPECT_OK(parse_spec(R"({"ociVersion": "1.1.0", "root": {"path": "r"}, "windows": null, "linux": {"intelRdt": null}})",
                       "config.json"));
}

TEST(OciSpecTest, NetworkAndRdmaAreNoted) {
  auto none = parse_patched(R"({"linux": {"resources": {"network": {}, "rdma": {}}}})");
  ASSERT_OK(none);
  EXPECT_FALSE(none->linux->resources->has_network);
  EXPECT_FALSE(none->linux->resources->has_rdma);
  auto net = parse_patched(R"({"linux": {"resources": {"network": {"priorities": [{"name": "eth0", "priority": 1}]}}}})");
  ASSERT_OK(net);
  EXPECT_TRUE(net->linux->resources->has_network);
  EXPECT_FALSE(net->linux->resources->has_rdma);
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"resources": {"rdma": ["mlx5"]}}})"),
                        "`linux.resources.rdma`: must be an object");
}

TEST(OciSpecTest, TypeErrors) {
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"process": {"user": {"uid": "0"}}})"),
                        "config.json: `process.user.uid`: must be an unsigned 32-bit integer");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"process": {"user": {"uid": -1}}})"),
                        "`process.user.uid`: must be an unsigned 32-bit integer");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"process": {"user": {"gid": 4294967296}}})"),
                        "`process.user.gid`: must be an unsigned 32-bit integer");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"process": {"user": {"additionalGids": [1, 2.5]}}})"),
                        "`process.user.additionalGids[1]`: must be an unsigned 32-bit integer");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"process": {"terminal": "yes"}})"), "`process.terminal`: must be a boolean");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"process": {"args": "sh"}})"), "`process.args`: must be an array");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"process": {"args": ["sh", 1]}})"), "`process.args[1]`: must be a string");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"process": {"oomScoreAdj": 2147483648}})"),
                        "`process.oomScoreAdj`: must be a 32-bit integer");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"resources": {"memory": {"limit": 1.5}}}})"),
                        "`linux.resources.memory.limit`: must be a 64-bit integer");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"resources": {"memory": {"limit": 9223372036854775808}}}})"),
                        "`linux.resources.memory.limit`: must be a 64-bit integer");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"resources": {"pids": {"limit": "max"}}}})"),
                        "`linux.resources.pids.limit`: must be a 64-bit integer");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"resources": {"blockIO": {"weight": 65536}}}})"),
                        "`linux.resources.blockIO.weight`: must be an unsigned 16-bit integer");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"resources": {"cpu": {"shares": -2}}}})"),
                        "`linux.resources.cpu.shares`: must be an unsigned 64-bit integer");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"sysctl": {"kernel.shmmax": 1}}})"),
                        "`linux.sysctl.kernel.shmmax`: must be a string");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": []})"), "`linux`: must be an object");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"annotations": {"a": "b", "n": 1}})"), "`annotations.n`: must be a string");
  EXPECT_ERROR_CONTAINS(parse_spec("[1, 2]", "config.json"), "config.json: must be an object");
  EXPECT_ERROR_CONTAINS(parse_spec("\"x\"", "config.json"), "config.json: must be an object");
  EXPECT_ERROR_CONTAINS(parse_spec("null", "config.json"), "config.json: must be an object");
  auto big = parse_patched(R"({"linux": {"resources": {"memory": {"limit": 9223372036854775807, "swap": -9223372036854775808}}}})");
  ASSERT_OK(big);
  EXPECT_EQ(big->linux->resources->memory->limit, std::optional<int64_t>(INT64_MAX));
  EXPECT_EQ(big->linux->resources->memory->swap, std::optional<int64_t>(INT64_MIN));
}

TEST(OciSpecTest, AnnotationsAreFreeForm) {
  auto s = parse_patched(R"({"annotations": {"org.opencontainers.image.title": "x", "any key at all": ""}})");
  ASSERT_OK(s);
  EXPECT_EQ(s->annotations.size(), 2u);
  EXPECT_EQ(s->annotations.at("any key at all"), "");
}

TEST(OciSpecTest, InvalidJson) {
  EXPECT_ERROR_CONTAINS(parse_spec("{\"ociVersion\": ", "b/config.json"), "b/config.json: not valid JSON: ");
  EXPECT_ERROR_CONTAINS(parse_spec("", "config.json"), "config.json: not valid JSON: [json.exception.parse_error");
  EXPECT_ERROR_CONTAINS(parse_spec("{} trailing", "config.json"), "config.json: not valid JSON: ");
  EXPECT_ERROR_CONTAINS(parse_spec("{\"a\": \"\xff\"}", "config.json"), "config.json: not valid JSON: ");
  // A number beyond a double's range: nlohmann throws out_of_range, not parse_error (found by
  // tests/fuzz/fuzz_oci_spec).
  EXPECT_ERROR_CONTAINS(parse_spec("368547722E7547726", "config.json"), "config.json: not valid JSON: ");
  EXPECT_ERROR_CONTAINS(parse_process(R"({"args": ["sh"], "oomScoreAdj": 1e400})", "process.json"),
                        "process.json: not valid JSON: ");
  // A key given twice: Go keeps the last, other parsers the first, so neither is guessed.
  EXPECT_ERROR_CONTAINS(parse_spec(R"({"ociVersion": "1.1.0", "root": {"path": "a", "path": "b"}})", "config.json"),
                        "config.json: key `path` given twice in an object");
  std::string deep = "{\"ociVersion\": \"1.1.0\", \"root\": {\"path\": \"r\"}, \"annotations\": " + std::string(200, '[') +
                     std::string(200, ']') + "}";
  EXPECT_ERROR_CONTAINS(parse_spec(deep, "config.json"), "config.json: nested deeper than 64 levels");
}

TEST(OciSpecTest, SeccompKeptAsJson) {
  const char* policy = R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                           "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ALLOW",
                                         "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}],
                           "unknownToThisParser": {"x": [1, 2]}})";
  auto s = parse_patched(Json{{"linux", {{"seccomp", Json::parse(policy)}}}});
  ASSERT_OK(s);
  ASSERT_TRUE(s->linux->seccomp.has_value());
  EXPECT_EQ(Json::parse(s->linux->seccomp->json), Json::parse(policy));
  EXPECT_EQ(s->linux->seccomp->listener_path, "");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"seccomp": "default"}})"), "`linux.seccomp`: must be an object");
  EXPECT_ERROR_CONTAINS(parse_patched(R"({"linux": {"seccomp": {"listenerPath": 5}}})"),
                        "`linux.seccomp.listenerPath`: must be a string");
}

TEST(OciSpecTest, ParseProcess) {
  auto p = parse_process(R"({"terminal": false, "user": {"uid": 33, "gid": 33}, "args": ["ps", "aux"],
                             "env": ["PATH=/bin", "HOME=/var/www"], "cwd": "/var/www",
                             "capabilities": {"bounding": ["CAP_KILL"]}, "noNewPrivileges": true,
                             "apparmorProfile": "unconfined"})",
                         "process.json");
  ASSERT_OK(p);
  EXPECT_EQ(p->user.uid, 33u);
  EXPECT_EQ(p->args, (std::vector<std::string>{"ps", "aux"}));
  EXPECT_EQ(p->env[1], "HOME=/var/www");
  EXPECT_EQ(p->cwd, "/var/www");
  EXPECT_EQ(p->capabilities->bounding, std::vector<std::string>{"CAP_KILL"});
  EXPECT_TRUE(p->no_new_privileges);
  EXPECT_EQ(p->apparmor_profile, "unconfined");
  // Paths are relative to the process object, which is the whole document here.
  EXPECT_ERROR_CONTAINS(parse_process(R"({"args": ["sh"], "user": {"uid": "www-data"}})", "process.json"),
                        "process.json: `user.uid`: must be an unsigned 32-bit integer");
  EXPECT_ERROR_CONTAINS(parse_process(R"({"args": []})", "process.json"), "process.json: `args`: must not be empty");
  EXPECT_ERROR_CONTAINS(parse_process(R"({"args": ["sh"], "cwd": "."})", "process.json"),
                        "process.json: `cwd`: `.` is not an absolute path");
  EXPECT_ERROR_CONTAINS(parse_process(R"({"args": ["sh"], "ociVersion": "1.1.0"})", "process.json"),
                        "process.json: `ociVersion`: unknown field");
  EXPECT_ERROR_CONTAINS(parse_process(R"({"args": ["sh"], "scheduler": {"policy": "SCHED_RR"}})", "process.json"),
                        "process.json: `scheduler`: not supported by cove-oci");
  EXPECT_ERROR_CONTAINS(parse_process("{", "process.json"), "process.json: not valid JSON: ");
}

TEST(OciSpecTest, DefaultSpecRoundTrips) {
  std::string text = default_spec_json(false, 0, 0);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  auto s = parse_spec(text, "config.json");
  ASSERT_OK(s);
  EXPECT_EQ(s->oci_version, "1.1.0");
  EXPECT_TRUE(s->process->terminal);
  EXPECT_EQ(s->process->args, std::vector<std::string>{"sh"});
  EXPECT_EQ(s->process->env, (std::vector<std::string>{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                                        "TERM=xterm"}));
  std::vector<std::string> caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  EXPECT_EQ(s->process->capabilities->bounding, caps);
  EXPECT_EQ(s->process->capabilities->effective, caps);
  EXPECT_EQ(s->process->capabilities->permitted, caps);
  EXPECT_TRUE(s->process->capabilities->inheritable.empty());
  EXPECT_EQ(s->process->rlimits[0].type, "RLIMIT_NOFILE");
  EXPECT_EQ(s->process->rlimits[0].soft, 1024u);
  EXPECT_TRUE(s->process->no_new_privileges);
  EXPECT_EQ(s->root.path, "rootfs");
  EXPECT_TRUE(s->root.readonly);
  EXPECT_EQ(s->hostname, "cove");
  std::vector<std::string> destinations;
  for (const auto& m : s->mounts) destinations.push_back(m.destination);
  EXPECT_EQ(destinations, (std::vector<std::string>{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys",
                                                     "/sys/fs/cgroup"}));
  EXPECT_EQ(s->mounts[2].options.back(), "gid=5");
  EXPECT_EQ(s->mounts[5].type, "sysfs");
  EXPECT_EQ(s->mounts[6].options, (std::vector<std::string>{"nosuid", "noexec", "nodev", "relatime", "ro"}));
  const Linux& l = *s->linux;
  ASSERT_TRUE(l.resources.has_value());
  ASSERT_EQ(l.resources->devices.size(), 1u);
  EXPECT_FALSE(l.resources->devices[0].allow);
  EXPECT_EQ(l.resources->devices[0].access, "rwm");
  std::vector<std::string> ns;
  for (const auto& n : l.namespaces) ns.push_back(n.type);
  EXPECT_EQ(ns, (std::vector<std::string>{"pid", "network", "ipc", "uts", "mount", "cgroup"}));
  EXPECT_TRUE(l.uid_mappings.empty());
  EXPECT_EQ(l.masked_paths.front(), "/proc/acpi");
  EXPECT_NE(std::find(l.masked_paths.begin(), l.masked_paths.end(), "/proc/kcore"), l.masked_paths.end());
  EXPECT_EQ(l.readonly_paths, (std::vector<std::string>{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                                         "/proc/sysrq-trigger"}));
}

TEST(OciSpecTest, RootlessDefaultSpecRoundTrips) {
  std::string text = default_spec_json(true, 1000, 1001);
  EXPECT_EQ(text.back(), '\n');
  auto s = parse_spec(text, "config.json");
  ASSERT_OK(s);
  const Linux& l = *s->linux;
  EXPECT_EQ(l.uid_mappings, (std::vector<IdMapping>{{0, 1000, 1}}));
  EXPECT_EQ(l.gid_mappings, (std::vector<IdMapping>{{0, 1001, 1}}));
  std::vector<std::string> ns;
  for (const auto& n : l.namespaces) ns.push_back(n.type);
  EXPECT_EQ(ns, (std::vector<std::string>{"pid", "ipc", "uts", "mount", "cgroup", "user"}));
  EXPECT_FALSE(l.resources.has_value());
  ASSERT_EQ(s->mounts.size(), 6u);
  EXPECT_EQ(s->mounts[2].destination, "/dev/pts");
  EXPECT_EQ(std::find(s->mounts[2].options.begin(), s->mounts[2].options.end(), "gid=5"), s->mounts[2].options.end());
  EXPECT_EQ(s->mounts[5].destination, "/sys");
  EXPECT_EQ(s->mounts[5].type, "none");
  EXPECT_EQ(s->mounts[5].source, "/sys");
  EXPECT_EQ(s->mounts[5].options, (std::vector<std::string>{"rbind", "nosuid", "noexec", "nodev", "ro"}));
}

TEST(OciSpecTest, Features) {
  Json f = Json::parse(features_json());
  EXPECT_EQ(f["ociVersionMin"], "1.0.0");
  EXPECT_EQ(f["ociVersionMax"], "1.2.0");
  EXPECT_EQ(f["hooks"], Json({"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}));
  const Json& opts = f["mountOptions"];
  for (const char* o : {"rbind", "ro", "nodev", "rprivate", "remount"})
    EXPECT_NE(std::find(opts.begin(), opts.end(), o), opts.end()) << o;
  // What translation refuses is not offered: engines choose options by this list.
  for (const char* o : kRefusedMountOptions) EXPECT_EQ(std::find(opts.begin(), opts.end(), o), opts.end()) << o;
  EXPECT_EQ(f["linux"]["namespaces"].size(), 8u);
  const Json& caps = f["linux"]["capabilities"];
  ASSERT_EQ(caps.size(), 41u);
  EXPECT_EQ(caps[0], "CAP_CHOWN");
  EXPECT_EQ(caps[21], "CAP_SYS_ADMIN");
  EXPECT_EQ(caps[40], "CAP_CHECKPOINT_RESTORE");
  EXPECT_EQ(f["linux"]["cgroup"], Json::parse(R"({"v1": true, "v2": true, "systemd": false, "systemdUser": false})"));
  EXPECT_TRUE(f["linux"]["seccomp"]["enabled"].get<bool>());
  const Json& actions = f["linux"]["seccomp"]["actions"];
  EXPECT_NE(std::find(actions.begin(), actions.end(), "SCMP_ACT_KILL_PROCESS"), actions.end());
  EXPECT_EQ(std::find(actions.begin(), actions.end(), "SCMP_ACT_NOTIFY"), actions.end());
  EXPECT_EQ(f["linux"]["seccomp"]["operators"].size(), 7u);
  EXPECT_TRUE(f["linux"]["apparmor"]["enabled"].get<bool>());
  EXPECT_TRUE(f["linux"]["selinux"]["enabled"].get<bool>());
  EXPECT_TRUE(f["linux"]["mountExtensions"]["idmap"]["enabled"].get<bool>());
  for (const char* o : {"idmap", "ridmap"}) EXPECT_NE(std::find(opts.begin(), opts.end(), o), opts.end()) << o;
  EXPECT_TRUE(f["annotations"].contains("io.github.cove.oci.version"));
}

}  // namespace
}  // namespace cove::oci

namespace cove::oci {
namespace {

cgroup::Layout hybrid_layout() {
  cgroup::Layout l;
  for (const char* c : {"memory", "cpu", "blkio"})
    l.hierarchies.push_back(cgroup::Hierarchy{false, std::string("/sys/fs/cgroup/") + c, "/", {c}, ""});
  l.hierarchies.push_back(cgroup::Hierarchy{true, "/sys/fs/cgroup/unified", "/", {}, ""});
  return l;
}

cgroup::Layout pure_v2_layout() {
  cgroup::Layout l;
  l.hierarchies.push_back(cgroup::Hierarchy{true, "/sys/fs/cgroup", "/", {"cpu", "io", "memory", "pids"}, ""});
  return l;
}

Result<cgroup::ResourceLimits> resources_on(const cgroup::Layout& layout, const char* resources) {
  auto spec = parse_patched(Json{{"linux", {{"resources", Json::parse(resources)}}}});
  if (!spec) return std::move(spec).error();
  return translate_resources(*spec->linux->resources, "linux.resources", &layout);
}

// The fields cove's limits have no place for go to the host version's file, v1's or v2's; one
// the host's cgroups cannot take is refused by name, never skipped.
TEST(OciTranslateResources, FieldsWithoutAPlaceInTheModelGoToTheHostsVersion) {
  const char* all = R"({"memory": {"reservation": 1048576, "swappiness": 10, "disableOOMKiller": true},
                        "cpu": {"burst": 5000, "idle": 1, "realtimePeriod": 1000000, "realtimeRuntime": 950000},
                        "blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 500}]}})";
  auto v1 = resources_on(hybrid_layout(), all);
  ASSERT_TRUE(v1.has_value()) << v1.error().message();
  EXPECT_EQ(v1->raw_v1, (std::vector<cgroup::RawWrite>{{"memory.soft_limit_in_bytes", "1048576"},
                                                        {"memory.swappiness", "10"},
                                                        {"memory.oom_control", "1"},
                                                        {"cpu.rt_period_us", "1000000"},
                                                        {"cpu.rt_runtime_us", "950000"},
                                                        {"cpu.cfs_burst_us", "5000"},
                                                        {"cpu.idle", "1"},
                                                        {"blkio.bfq.weight_device", "8:0 500"}}));
  EXPECT_TRUE(v1->raw_v2.empty());

  auto v2 = resources_on(pure_v2_layout(), R"({"memory": {"reservation": 1048576}, "cpu": {"burst": 5000, "idle": 1},
                                               "blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 500}]}})");
  ASSERT_TRUE(v2.has_value()) << v2.error().message();
  EXPECT_EQ(v2->raw_v2, (std::vector<cgroup::RawWrite>{{"memory.low", "1048576"},
                                                        {"cpu.max.burst", "5000"},
                                                        {"cpu.idle", "1"},
                                                        {"io.weight", "8:0 " + std::to_string(cgroup::blkio_to_io_weight(500))}}));
  EXPECT_TRUE(v2->raw_v1.empty());
  // v1-only settings on a v2 host, and fields the kernel dropped.
  EXPECT_ERROR_CONTAINS(resources_on(pure_v2_layout(), R"({"memory": {"swappiness": 10}})"),
                        "`linux.resources.memory.swappiness`: not supported by cove-oci (cgroup v2 has no such");
  EXPECT_ERROR_CONTAINS(resources_on(pure_v2_layout(), R"({"memory": {"disableOOMKiller": true}})"),
                        "`linux.resources.memory.disableOOMKiller`: not supported");
  EXPECT_ERROR_CONTAINS(resources_on(pure_v2_layout(), R"({"cpu": {"realtimeRuntime": 1000}})"),
                        "`linux.resources.cpu.realtimeRuntime`: not supported");
  EXPECT_ERROR_CONTAINS(resources_on(hybrid_layout(), R"({"memory": {"kernel": 1048576}})"), "kernel memory");
  EXPECT_ERROR_CONTAINS(resources_on(hybrid_layout(), R"({"blockIO": {"leafWeight": 100}})"), "leafWeight");
  // Values out of range.
  EXPECT_ERROR_CONTAINS(resources_on(hybrid_layout(), R"({"memory": {"swappiness": 101}})"), "(0 to 100)");
  EXPECT_ERROR_CONTAINS(resources_on(hybrid_layout(), R"({"cpu": {"idle": 2}})"), "(0 or 1)");
  EXPECT_ERROR_CONTAINS(resources_on(hybrid_layout(), R"({"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 5}]}})"),
                        "(10 to 1000)");
  // A controller no hierarchy carries.
  cgroup::Layout no_cpu = hybrid_layout();
  no_cpu.hierarchies.erase(no_cpu.hierarchies.begin() + 1);
  EXPECT_ERROR_CONTAINS(resources_on(no_cpu, R"({"cpu": {"burst": 1}})"), "no cgroup hierarchy here carries `cpu`");
  // A negative reservation is none (the default): nothing written.
  auto none = resources_on(hybrid_layout(), R"({"memory": {"reservation": -1}})");
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->raw_v1.empty());
}

}  // namespace
}  // namespace cove::oci
