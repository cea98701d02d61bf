#include "lifecycle/launch_plan.hpp"

#include <sched.h>

#include <fmt/format.h>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "base/syscalls.hpp"  // CLONE_NEWTIME (linux/sched.h)
#include "lifecycle/security_plan.hpp"
#include "security/lsm/lsm.hpp"


namespace cove::lifecycle {

using config::Namespace;

static unsigned long clone_flag(Namespace ns) {
  switch (ns) {
    case Namespace::kMnt: return CLONE_NEWNS;
    case Namespace::kPid: return CLONE_NEWPID;
    case Namespace::kUts: return CLONE_NEWUTS;
    case Namespace::kIpc: return CLONE_NEWIPC;
    case Namespace::kNet: return CLONE_NEWNET;
    case Namespace::kUser: return CLONE_NEWUSER;
    case Namespace::kCgroup: return 0;  // unshared by the child once placed in its cgroups
    case Namespace::kTime: return CLONE_NEWTIME;
  }
  return 0;
}

Result<LaunchPlan> make_launch_plan(const config::ContainerConfig& cfg, const PlanOptions& opts,
                                    const cgroup::Layout& layout, bool have_time_ns) {
  LaunchPlan p;
  p.name = cfg.name;
  p.rootfs = cfg.rootfs;
  p.storage = storage::layout_of("", cfg);
  p.userns = !cfg.privileged;
  p.new_cgroupns = false;
  p.new_netns = false;
  p.set_hostname = false;
  for (Namespace ns : cfg.clone_ns) {
    if (ns == Namespace::kTime && !have_time_ns) continue;
    p.clone_flags |= clone_flag(ns);
    if (ns == Namespace::kCgroup) p.new_cgroupns = true;
    if (ns == Namespace::kNet) p.new_netns = true;
    if (ns == Namespace::kUts) p.set_hostname = true;
  }
  if (p.userns != ((p.clone_flags & CLONE_NEWUSER) != 0))
    return Error::invalid("user namespace setting disagrees with `privileged`");
  p.hostname = cfg.hostname.empty() ? cfg.name : cfg.hostname;
  p.uid_map = cfg.uid_map;
  p.gid_map = cfg.gid_map;
  p.mounts = cfg.mounts;
  for (auto& m : p.mounts) {
    if (!m.idmap_container) continue;
    if (!p.userns)
      return Error::invalid("`[mount] entry`" + (m.where.empty() ? "" : " at " + m.where) +
                            ": `idmap=container` maps with the container's `[idmap]`, and a privileged container has none");
    m.uid_map = p.uid_map;
    m.gid_map = p.gid_map;
  }
  p.auto_mounts = cfg.auto_mounts;
  p.cgroup_hierarchies = layout.hierarchies;
  p.argv = opts.init_override.empty() ? cfg.init : opts.init_override;
  if (p.argv.empty()) return Error::invalid("no init command");
  p.env = {"container=cove", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
           "TERM=linux"};
  // The container's terminals, as systemd's getty generator reads them from PID 1's environment
  // (a container-getty@N.service per `pts/N`; the console gets console-getty.service). The
  // container's own devpts gives the console pts/0, and /dev/ttyN is pts/N (rootfs/dev.cpp).
  if (cfg.ttys > 0) {
    std::string ttys;
    for (unsigned i = 1; i <= cfg.ttys; ++i) ttys += (i > 1 ? " pts/" : "pts/") + std::to_string(i);
    p.env.push_back("container_ttys=" + ttys);
  }
  for (const auto& kv : cfg.init_env) {
    auto eq = kv.find('=');
    std::string key = kv.substr(0, eq);
    std::erase_if(p.env, [&](const std::string& e) { return e.substr(0, e.find('=')) == key; });
    p.env.push_back(kv);
  }
  p.cwd = cfg.init_cwd.empty() ? "/" : cfg.init_cwd;
  p.ttys = cfg.ttys;
  p.inherit_stdio = opts.inherit_stdio;

  if (opts.exec) {
    p.exec = *opts.exec;
  } else {
    auto exec = make_exec_restrictions(cfg);
    if (!exec) return std::move(exec).error();
    p.exec = std::move(*exec);
  }
  p.generate_lsm_profile = p.exec.lsm == "apparmor" && cfg.security.apparmor.value == "generated";
  p.sysctls = cfg.security.sysctls;
  p.masked_paths = cfg.security.masked_paths;
  p.readonly_paths = cfg.security.readonly_paths;
  if (security::lsm::is_active("selinux")) p.mount_context = cfg.security.selinux_mount_context;
  p.rootfs_idmap = cfg.security.rootfs_idmap;
  p.shift_record = dirname_of(cfg.rootfs) + "/.rootfs-shift";
  return p;
}

std::string describe(const LaunchPlan& p) {
  std::string out = fmt::format("name={} rootfs={} userns={} flags={:#x} cgroupns={} hostname={}\n", p.name, p.rootfs,
                                p.userns, p.clone_flags, p.new_cgroupns, p.set_hostname ? p.hostname : "(shared)");
  out += "argv=" + join(p.argv, " ") + "\n";
  for (const auto& m : p.mounts) out += fmt::format("mount {} {} {}\n", m.source, m.target, m.fstype);
  for (const auto& v : p.lxcfs_views) out += fmt::format("lxcfs {} /{}\n", v.source, v.target);
  out += "security " + security::describe(p.exec) + "\n";
  for (const auto& m : p.masked_paths) out += "mask /" + m + "\n";
  for (const auto& m : p.readonly_paths) out += "readonly /" + m + "\n";
  for (const auto& s : p.sysctls) out += "sysctl " + s.key + "=" + s.value + "\n";
  return out;
}

}  // namespace cove::lifecycle
