// The host config: where this host keeps its containers and its host-wide files. One file,
// /etc/cove/cove.conf (or the file $COVE_CONFIG names), section [host], keys `path`,
// `runtime_dir`, `state_dir`, `cache_dir` and `network_dir`, each an absolute path; a key not
// given keeps its default (today's fixed paths), so a host without the file is unchanged.
// Two "hosts" on one machine are two such files (doc/man/cove-host.conf.5).
//
// Every tool loads it once at start-up (tools/common/tool_main), before it does anything, and
// hands the values it loaded to the monitors it starts (monitor/launch): a monitor keeps the
// config it started under, whatever happens to the file later. Single-threaded by contract:
// init_host_config()/set_host_config() run in main before any thread exists.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/result.hpp"

namespace cove {

inline constexpr const char* kHostConfigFile = "/etc/cove/cove.conf";
inline constexpr const char* kHostConfigEnv = "COVE_CONFIG";
// RUNTIME_DIR/KEY/command must fit a unix socket address (107 bytes) for a KEY of up to 64
// characters (a container name).
inline constexpr size_t kMaxRuntimeDirLength = 34;

struct HostConfig {
  std::string path = "/var/lib/cove";         // the default container path (-P)
  std::string runtime_dir = "/run/cove";      // KEY/{state,command}, networks/, apparmor/
  std::string state_dir = "/var/lib/cove";    // host-wide records: .idmap-registry
  std::string cache_dir = "/var/cache/cove";  // the templates' caches (COVE_CACHE_DIR)
  std::string network_dir = "/etc/cove/networks";  // managed network configs NAME.conf
  std::string source;                         // the file read, or "" for the defaults
};

// Parses host config text; `label` names it in messages ("FILE:LINE: key `x`: ...") and
// becomes `source`. Every error is collected: Error(EINVAL, errors joined by "\n").
Result<HostConfig> parse_host_config(const std::string& text, const std::string& label);
// Reads `file` (and its includes). A missing file is the defaults unless `must_exist`; any
// other unreadable file is an error keeping its errno.
Result<HostConfig> load_host_config(const std::string& file, bool must_exist);
// The file the environment selects: $COVE_CONFIG (which must exist), else /etc/cove/cove.conf
// (absent: defaults).
Result<HostConfig> load_selected_host_config();

// Sets one key as the file would ("path", "/srv/cove"); an error names the key and what is
// allowed. What a monitor gets its starter's config through.
Result<void> set_host_key(HostConfig& cfg, const std::string& key, const std::string& value);
// Every key and its value, in the order of the man page.
std::vector<std::pair<std::string, std::string>> host_keys(const HostConfig& cfg);

// Loads the selected host config for this process (once: later calls return at once).
Result<void> init_host_config();
// Installs `cfg` as this process's host config.
void set_host_config(HostConfig cfg);
// This process's host config: the defaults until one was loaded or set (unit tests).
const HostConfig& host_config();

}  // namespace cove
