#include "ns/mapping_namespace.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/syscalls.hpp"

namespace cove::ns {

Result<MappingNamespace> MappingNamespace::make(const std::vector<IdMapEntry>& uid_map,
                                                const std::vector<IdMapEntry>& gid_map) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) < 0) return Error::from_errno(errno, "pipe");
  UniqueFd rd(pipefd[0]), wr(pipefd[1]);
  struct clone_args args = {};
  args.flags = CLONE_NEWUSER;
  args.exit_signal = SIGCHLD;
  pid_t pid = sys::clone3(&args, sizeof args);
  if (pid < 0) return Error::from_errno(errno, "clone a user namespace for the rootfs mapping");
  if (pid == 0) {
    wr.reset();
    char c;
    (void)!::read(rd.get(), &c, 1);  // until the parent closes its end
    ::_exit(0);
  }
  rd.reset();
  MappingNamespace ns;
  ns.pid_ = pid;
  ns.hold_ = std::move(wr);
  if (auto r = write_idmaps(pid, uid_map, gid_map); !r) return std::move(r).error();
  return ns;
}

MappingNamespace::~MappingNamespace() {
  hold_.reset();
  if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
}

}  // namespace cove::ns
