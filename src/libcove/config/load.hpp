// Loading a container config: the public entry points of config/. Reads the file and its
// includes (ini_reader), applies every key through the key table, applies the defaults that
// depend on other keys, and runs validate(). Also `get`-style key lookup and the generated
// key reference of cove.conf(5).
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"
#include "config/container_config.hpp"

namespace cove::config {

struct LoadOptions {
  std::string name;            // fills config.name; the default hostname
  std::string default_rootfs;  // rootfs when the file sets none
  // false: skip validate() (parse errors still fail), for tools that must read a config that
  // is inconsistent, e.g. to show or destroy a container
  bool validate = true;
};

// Parses `path` (and its includes), collects EVERY error (unknown section, unknown key, bad
// value, missing include, ...) and then, if there were none, runs validate() (unless
// options.validate is false). On any error returns Error(EINVAL, msg) where msg is all errors
// joined by "\n", each "FILE:LINE: ..." naming the key and what is allowed. An unreadable
// `path` itself keeps its errno ("open `x`: ...").
//
// Defaults applied after parsing (so key order does not matter): rootfs = default_rootfs;
// clone = all namespaces, `time` only if /proc/self/ns/time exists, without `user` when
// privileged (an explicit `clone` is kept as given); hostname = name when `uts` is cloned.
Result<ContainerConfig> load_config(const std::string& path, const LoadOptions& options);
// The same for text; `file_label` names it in messages and anchors relative paths/includes.
Result<ContainerConfig> load_config_string(const std::string& text, const std::string& file_label,
                                           const LoadOptions& options);

// Values of one key as text (for `cove-config get`-style use); error for an unknown key.
Result<std::vector<std::string>> get_key(const ContainerConfig& config, const std::string& section,
                                         const std::string& key);

// The key reference as man(7) roff text (.SS per section, .TP per key with syntax, default, doc).
std::string render_key_reference_roff();

}  // namespace cove::config
