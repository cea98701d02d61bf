// CgroupConfig: the typed [cgroup] section (resource limits), version-neutral.
// Filled by keys_cgroup.cpp; the limits are plain data of cgroup/resources.hpp, which the
// monitor hands to ContainerCgroups::apply() on v1, v2 or hybrid hosts.
#pragma once

#include "cgroup/resources.hpp"

namespace cove::config {

struct CgroupConfig {
  cgroup::ResourceLimits limits;

  bool operator==(const CgroupConfig&) const = default;
};

}  // namespace cove::config
