// Tools with verbs (cove-network, cove-image): one table of verbs, each naming its arguments'
// count and the options it takes, so that an option given to a verb that does not take it is a
// usage error instead of being ignored.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "tools/common/tool_main.hpp"

namespace cove::tools {

struct VerbCall {
  std::vector<std::string> args;  // after the verb
  const po::variables_map& vm;
  const Common& common;           // -n NAME, -P PATH
  bool flag(const char* name) const { return vm.count(name) && vm[name].as<bool>(); }
  bool given(const char* name) const { return vm.count(name) && !vm[name].defaulted(); }
  std::string text(const char* name) const { return vm.count(name) ? vm[name].as<std::string>() : ""; }
};

struct Verb {
  const char* name;
  const char* usage;              // after the verb
  size_t min_args, max_args;
  std::set<std::string> options;  // the tool's verb options it accepts
  Result<int> (*run)(const VerbCall&);
};

// "VERB ...\n  TOOL verb usage\n..." for the tool's synopsis.
std::string verb_synopsis(const char* tool, const std::vector<Verb>& verbs);
// The verb named by the first of the positional `words`, its arguments checked against its
// count and the given options (of `verb_options`) against the ones it takes.
Result<const Verb*> pick_verb(const char* tool, const std::vector<Verb>& verbs, const std::set<std::string>& verb_options,
                              const po::variables_map& vm, std::vector<std::string>& args);

}  // namespace cove::tools
