#include "tools/common/tool_main.hpp"

#include <cstdio>
#include <iostream>

#include "base/log.hpp"
#include "base/strings.hpp"
#include "host_config.hpp"
#include "paths.hpp"

#ifndef COVE_VERSION
#define COVE_VERSION "unknown"
#endif

namespace cove::tools {

int report(const char* tool, const Error& err) {
  auto lines = split(err.message(), '\n');
  std::fprintf(stderr, "%s: %s\n", tool, lines[0].c_str());
  for (size_t i = 1; i < lines.size(); ++i)
    if (!lines[i].empty()) std::fprintf(stderr, "  %s\n", lines[i].c_str());
  return 1;
}

int tool_main(int argc, char** argv, const ToolSpec& spec, const po::options_description& extra, const Body& body) {
  Common common;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--") {
      for (int j = i + 1; j < argc; ++j) common.rest.emplace_back(argv[j]);
      break;
    }
    args.emplace_back(argv[i]);
  }
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help and exit")("version", "show the version and exit");
  if (spec.needs_name || spec.optional_name) opts.add_options()("name,n", po::value(&common.name), "container name");
  opts.add_options()("lxcpath,P", po::value(&common.lxcpath), "container path (default: `path` of the host config, /etc/cove/cove.conf or $COVE_CONFIG; /var/lib/cove without one)")(
      "logpriority,l", po::value(&common.log_level), "log level: trace, debug, info, notice, warn, error")(
      "logfile,o", po::value(&common.log_file), "log to this file");
  opts.add(extra);
  po::positional_options_description positional;
  if (spec.positional) positional.add(spec.positional, -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(opts).positional(positional).run(), vm);
    // --help and --version win over missing required options.
    if (vm.count("help")) {
      std::cout << "Usage: " << spec.name << " " << spec.synopsis << "\n" << spec.summary << "\n\n" << opts << "\n";
      return 0;
    }
    if (vm.count("version")) {
      std::cout << spec.name << " (cove) " << COVE_VERSION << "\n";
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "%s: %s\nTry '%s --help'.\n", spec.name, e.what(), spec.name);
    return 2;
  }
  if (spec.needs_name && common.name.empty()) {
    std::fprintf(stderr, "%s: missing container name (-n NAME)\nTry '%s --help'.\n", spec.name, spec.name);
    return 2;
  }
  // Before anything else: a name is never a path (`../../etc/x`), whatever the tool does next.
  if (spec.needs_name || !common.name.empty()) {
    if (auto r = validate_name(common.name); !r) {
      std::fprintf(stderr, "%s: %s\n", spec.name, r.error().message().c_str());
      return 2;
    }
  }
  // Before the tool does anything: a bad host config changes nothing.
  if (auto r = init_host_config(); !r) return report(spec.name, r.error());
  if (!vm.count("lxcpath")) common.lxcpath = host_config().path;
  if (!common.log_level.empty()) {
    auto lvl = log::parse_level(common.log_level);
    if (!lvl) {
      std::fprintf(stderr, "%s: invalid log level '%s' (allowed: trace, debug, info, notice, warn, error)\n", spec.name,
                   common.log_level.c_str());
      return 2;
    }
    log::set_level(*lvl);
  }
  if (!common.log_file.empty()) {
    if (auto r = log::set_file(common.log_file); !r) return report(spec.name, r.error());
  }
  log::set_prefix(spec.name);
  try {
    auto r = body(common, vm);
    if (!r) {
      report(spec.name, r.error());
      return r.error().code() == kUsageError ? 2 : 1;
    }
    return *r;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", spec.name, e.what());
    return 1;
  }
}

}  // namespace cove::tools
