// Runs a template: an external executable that builds a rootfs, with LXC's interface
// `--name NAME --path CONTAINER_DIR --rootfs ROOTFS [--mapped-uid U --mapped-gid G] [ARGS...]`.
// It gets our environment plus, unless set there, COVE_CACHE_DIR and COVE_NETWORK_DIR from the
// host config (`cache_dir`, `network_dir`). Its stdout/stderr go to ours (progress is the
// template's to print). A non-zero exit or a signal is an Error naming the template.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace cove::templates {

// "busybox" -> the cove-busybox template (env COVE_DATADIR, build tree, installed dir);
// anything with a '/' is taken as a path.
std::string find_template(const std::string& name);

struct TemplateRun {
  std::string executable;
  std::string name, container_dir, rootfs;
  std::optional<uint32_t> mapped_uid, mapped_gid;
  std::vector<std::string> extra_args;
};

Result<void> run_template(const TemplateRun& run);

}  // namespace cove::templates
