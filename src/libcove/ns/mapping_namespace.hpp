// MappingNamespace: a user namespace with given id maps, held by a short-lived child that waits
// on a pipe; for an idmapped mount, which needs a namespace with the mapping, not any
// particular one (a restore's staged rootfs). The child is killed and reaped with the object,
// and exits by itself should its creator die first (the pipe closes).
#pragma once

#include <sys/types.h>

#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "ns/idmap.hpp"
#include "process/child_process.hpp"

namespace cove::ns {

class MappingNamespace {
 public:
  static Result<MappingNamespace> make(const std::vector<IdMapEntry>& uid_map, const std::vector<IdMapEntry>& gid_map);
  // The holder's pid: its /proc/PID/ns/user is the namespace.
  pid_t pid() const { return holder_.pid(); }

 private:
  UniqueFd hold_;                 // the holder's read end sees EOF when this closes
  process::ChildProcess holder_;  // destroyed first: killed and reaped
};

// An fd of the user namespace of process `pid` (/proc/PID/ns/user).
Result<UniqueFd> open_user_ns(pid_t pid);
// An fd of a user namespace with these maps, for an idmapped mount: made by a MappingNamespace,
// it lives on through the fd after its holder ends.
Result<UniqueFd> user_ns_with_maps(const std::vector<IdMapEntry>& uid_map, const std::vector<IdMapEntry>& gid_map);

}  // namespace cove::ns
