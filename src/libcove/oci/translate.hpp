// OCI spec -> libcove: turns a parsed bundle (oci/spec.hpp) into the same LaunchPlan, cgroup
// limits and exec restrictions cove's own containers get (lifecycle/launch_plan.hpp): the spec
// becomes a ContainerConfig where the two models agree, make_launch_plan() does the rest, and
// only what the spec says and a cove config cannot (the process's user and capability sets, a
// read-only root, the start gate) is set on the plan afterwards. A field cove cannot honour is
// an error naming it, never dropped. Pure apart from resolving the bundle's paths.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "cgroup/cgroup.hpp"
#include "cgroup/resources.hpp"
#include "config/container_config.hpp"
#include "lifecycle/launch_plan.hpp"
#include "oci/spec.hpp"

namespace cove::oci {

// A namespace the container joins (`linux.namespaces[].path`): entered by the runtime before
// the clone, so the container inherits it.
struct JoinedNamespace {
  int clone_flag = 0;              // CLONE_NEWNET, ...
  std::string path;
};

struct Launch {
  config::ContainerConfig config;  // what the plan is made of (a checkpoint describes the container by it)
  lifecycle::LaunchPlan plan;
  cgroup::ResourceLimits limits;
  std::string cgroups_path;        // never empty: the spec's, or /cove-oci/ID
  std::vector<JoinedNamespace> joined;
  std::optional<int> oom_score_adj;
  bool terminal = false;
  std::optional<std::pair<unsigned, unsigned>> console_size;  // {rows, columns}
};

struct TranslateContext {
  std::string bundle;              // absolute bundle directory
  std::string id;                  // container id
  const cgroup::Layout* layout = nullptr;
  bool have_time_ns = true;
  std::string lsm_file = "/sys/kernel/security/lsm";
};

Result<Launch> translate(const Spec& spec, const TranslateContext& ctx);

// The restrictions of another process of the container (`cove-oci exec`): its own user,
// capabilities, rlimits, no_new_privs and LSM profile, under the container's seccomp policy.
Result<security::ExecRestrictions> process_restrictions(const Spec& spec, const Process& process,
                                                        const TranslateContext& ctx);

// `linux.resources` -> cove's version-neutral limits (also `cove-oci update`). `where` prefixes
// field paths ("linux.resources"). Fields the model has no place for (memory reservation and
// swappiness, disableOOMKiller, real-time CPU, CPU burst and idle, per-device blkio weights) go
// to the host's version of their file per `layout`; one its cgroups cannot take is an error.
Result<cgroup::ResourceLimits> translate_resources(const Resources& r, const std::string& where,
                                                   const cgroup::Layout* layout);

}  // namespace cove::oci
