// CgroupConfig: the typed [cgroup] section (resource limits), version-neutral.
// Filled by keys_cgroup.cpp; applied by cgroup/ on v1, v2 or hybrid hosts.
#pragma once

namespace cove::config {

struct CgroupConfig {};

}  // namespace cove::config
