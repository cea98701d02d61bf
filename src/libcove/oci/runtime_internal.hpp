// What the runtime's verbs share (oci/runtime.cpp, oci/checkpoint.cpp): the state record in
// ROOT/ID/state.json, its lock, and the steps a create and a restore both take. Internal to oci/.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "cgroup/cgroup.hpp"
#include "oci/runtime.hpp"
#include "oci/spec.hpp"
#include "oci/translate.hpp"

namespace cove::oci::detail {

// What ROOT/ID/state.json records.
struct Record {
  std::string id, bundle, rootfs, created;
  pid_t pid = 0;
  uint64_t start_time = 0;         // /proc/PID/stat field 22: tells a reused pid apart
  bool started = false;
  bool hooks = false;              // the bundle has hooks: start and delete read it again
  std::map<std::string, std::string> annotations;
  std::vector<std::string> cgroup_dirs;
};

// Init's start time, 0 when it is gone or a zombie.
uint64_t start_time_of(pid_t pid);
std::string rfc3339_now();
Result<UniqueFd> lock_dir(const std::string& dir, const std::string& id);
Result<Record> load(const std::string& dir, const std::string& id);
Result<void> save(const std::string& dir, const Record& r);
ContainerInfo recorded_info(const Record& r);
ContainerInfo info_of(const Record& r, const std::string& dir);
Result<Spec> load_bundle(const std::string& bundle);
Result<void> send_console(const std::string& socket_path, const UniqueFd& master,
                          const std::optional<std::pair<unsigned, unsigned>>& size);
// Writes `pid` to the --pid-file `path` ("" = none).
Result<void> write_pid_file(const std::string& path, pid_t pid);

// A container's record and status, under its lock (held until the Locked goes).
struct Locked {
  UniqueFd lock;
  Record rec;
  ContainerInfo info;
};

Result<Locked> lock_and_load(const std::string& dir, const std::string& id);

// A create (or a restore, which sets up the same container around CRIU's tree) as it runs.
struct CreateJob {
  std::string id, dir;
  CreateOptions opts;
  Record record;
  Launch launch;
  cgroup::Layout layout;
  std::optional<cgroup::ContainerCgroups> cgroups;
  UniqueFd gate;
  Hooks hooks;
  bool userns = false;
};

// Reads and translates the bundle.
Result<void> prepare(CreateJob& job);
// ROOT/ID, made and locked (EEXIST: the id is taken).
Result<UniqueFd> make_container_dir(const std::string& root, CreateJob& job);
// The cgroups at the spec's cgroupsPath, recorded, created and limited.
Result<void> make_cgroups(CreateJob& job);
// Kills what a failed create left and removes its cgroups and directory.
void undo_create(CreateJob& job);
// The state a hook reads on stdin.
std::string hook_state(const Record& r, Status status, pid_t pid);

}  // namespace cove::oci::detail
