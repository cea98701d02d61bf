// MappingNamespace: a user namespace with given id maps, held by a short-lived child that waits
// on a pipe; for an idmapped mount, which needs a namespace with the mapping, not any
// particular one (a restore's staged rootfs). The child ends, and is reaped, with the object.
#pragma once

#include <sys/types.h>

#include <utility>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "ns/idmap.hpp"

namespace cove::ns {

class MappingNamespace {
 public:
  static Result<MappingNamespace> make(const std::vector<IdMapEntry>& uid_map, const std::vector<IdMapEntry>& gid_map);
  MappingNamespace() = default;
  MappingNamespace(MappingNamespace&& o) noexcept : pid_(std::exchange(o.pid_, 0)), hold_(std::move(o.hold_)) {}
  MappingNamespace& operator=(MappingNamespace&&) = delete;
  ~MappingNamespace();
  // The holder's pid: its /proc/PID/ns/user is the namespace.
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = 0;
  UniqueFd hold_;  // the holder exits when this end closes
};

}  // namespace cove::ns
