// Where a container's files live: PATH/NAME/{config,rootfs,.lock,.monitor.lock,partial} on disk and
// RUNTIME_DIR/KEY/{state,command} at run time (RUNTIME_DIR: the host config's `runtime_dir`,
// /run/cove by default). PATH is canonical (symlinks resolved), so one container has one
// PATH/NAME however it is reached. KEY is NAME for the built-in default PATH /var/lib/cove
// (compared canonically; not the host config's `path`: KEY also names the container's cgroups,
// which every host config on one machine shares) and NAME-<128 bits of SHA-256 of PATH/NAME, hex> otherwise, so
// that two cove paths can hold containers of one name; the state file names PATH/NAME too, and
// readers check it.
#pragma once

#include <string>

#include "base/result.hpp"

namespace cove {

class ContainerPaths {
 public:
  ContainerPaths(std::string lxcpath, std::string name);

  const std::string& lxcpath() const { return lxcpath_; }
  const std::string& name() const { return name_; }
  std::string dir() const { return lxcpath_ + "/" + name_; }
  std::string config() const { return dir() + "/config"; }
  std::string rootfs() const { return dir() + "/rootfs"; }
  std::string lock_file() const { return dir() + "/.lock"; }
  std::string monitor_lock() const { return dir() + "/.monitor.lock"; }
  std::string partial_marker() const { return dir() + "/partial"; }
  std::string default_log() const { return dir() + "/" + name_ + ".log"; }
  const std::string& key() const { return key_; }
  const std::string& runtime_dir() const { return runtime_dir_; }
  std::string state_file() const { return runtime_dir() + "/state"; }
  std::string command_socket() const { return runtime_dir() + "/command"; }
  // What an attached command gets: init's restrictions and environment (lifecycle/exec_record.hpp).
  std::string exec_record() const { return runtime_dir() + "/exec"; }

 private:
  std::string lxcpath_;
  std::string name_;
  std::string key_;
  std::string runtime_dir_;
};

// Names: 1-64 chars of [A-Za-z0-9_.-], not starting with '.' or '-'.
Result<void> validate_name(const std::string& name);

// Directory of the running executable (for finding sibling tools in a build tree).
std::string self_exe_dir();
// Locates an installed file: each dir of env COVE_DATADIR (colon-separated)/<rel>, then <exe dir>/<rel> (a build tree),
// then `installed`. Returns the first that exists, else `installed`.
std::string find_data(const std::string& rel, const std::string& installed);
// Locates a helper program such as cove-monitor: next to the running executable, then libexecdir.
std::string find_helper(const std::string& name);

}  // namespace cove
