#include "ns/mapping_namespace.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

namespace cove::ns {

Result<MappingNamespace> MappingNamespace::make(const std::vector<IdMapEntry>& uid_map,
                                                const std::vector<IdMapEntry>& gid_map) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) < 0) return Error::from_errno(errno, "pipe");
  UniqueFd rd(pipefd[0]), wr(pipefd[1]);
  auto holder = process::spawn(
      [&] {
        wr.reset();
        char c;
        (void)!::read(rd.get(), &c, 1);  // until the parent closes its end
        return 0;
      },
      {.clone_flags = CLONE_NEWUSER});
  if (!holder) return std::move(holder).error().context("clone a user namespace for the rootfs mapping");
  MappingNamespace ns;
  ns.hold_ = std::move(wr);
  ns.holder_ = std::move(*holder);
  if (auto r = write_idmaps(ns.holder_.pid(), uid_map, gid_map); !r) return std::move(r).error();
  return ns;
}

Result<UniqueFd> open_user_ns(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/ns/user";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "open `" + path + "`");
  return fd;
}

Result<UniqueFd> user_ns_with_maps(const std::vector<IdMapEntry>& uid_map, const std::vector<IdMapEntry>& gid_map) {
  auto holder = MappingNamespace::make(uid_map, gid_map);
  if (!holder) return std::move(holder).error().context("user namespace for the id maps");
  return open_user_ns(holder->pid());
}

}  // namespace cove::ns
