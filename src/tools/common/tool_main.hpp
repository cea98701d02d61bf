// The shared frame of every cove-* tool: LXC-like common options (-n NAME, -P PATH,
// -l LEVEL, -o LOGFILE, --help, --version), option parsing with Boost.ProgramOptions,
// "--" splitting, the check of -n NAME (validate_name, before the tool does anything: exit 2),
// the host config (init_host_config: a bad one is exit 1 before the tool does anything; -P
// defaults to its `path`), logging set-up, and the mapping of an Error to a message and exit
// status.
// Exit statuses: 0 success, 1 the operation failed, 2 usage error; tools that run a command
// (attach, execute, start -F) return that command's status.
#pragma once

#include <boost/program_options.hpp>
#include <functional>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace cove::tools {

namespace po = boost::program_options;

struct Common {
  std::string name;
  std::string lxcpath;
  std::string log_level;
  std::string log_file;
  std::vector<std::string> rest;  // arguments after "--"
};

struct ToolSpec {
  const char* name;      // "cove-start"
  const char* synopsis;  // "-n NAME [-F] [-- CMD...]"
  const char* summary;   // one line
  bool needs_name = true;
  bool optional_name = false;  // -n NAME accepted (and checked) but not required
  // When set, the name of an option in `extra` that collects the positional arguments.
  const char* positional = nullptr;
};

// Tools return Error(kUsageError, ...) for bad arguments found after option parsing: exit 2.
inline constexpr int kUsageError = 1000;
inline Error usage_error(const std::string& what) { return Error(kUsageError, what); }

using Body = std::function<Result<int>(const Common&, const po::variables_map&)>;

int tool_main(int argc, char** argv, const ToolSpec& spec, const po::options_description& extra, const Body& body);

// Prints `err` as "TOOL: message" (continuation lines indented) and returns 1.
int report(const char* tool, const Error& err);

}  // namespace cove::tools
