#include "tools/common/verbs.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "base/strings.hpp"

namespace cove::tools {
namespace {

std::string verb_list(const std::vector<Verb>& verbs) {
  std::vector<std::string> names;
  for (const auto& v : verbs) names.push_back(v.name);
  return join(names, ", ");
}

std::string usage_of(const char* tool, const Verb& v) {
  return fmt::format("{} {}{}{}", tool, v.name, *v.usage ? " " : "", v.usage);
}

}  // namespace

std::string verb_synopsis(const char* tool, const std::vector<Verb>& verbs) {
  std::string s = "VERB ...\n";
  for (const auto& v : verbs) s += "  " + usage_of(tool, v) + "\n";
  return s;
}

Result<const Verb*> pick_verb(const char* tool, const std::vector<Verb>& verbs, const std::set<std::string>& verb_options,
                              const po::variables_map& vm, std::vector<std::string>& args) {
  std::vector<std::string> words;
  if (vm.count("words")) words = vm["words"].as<std::vector<std::string>>();
  if (words.empty()) return usage_error("missing VERB (allowed: " + verb_list(verbs) + ")");
  auto v = std::find_if(verbs.begin(), verbs.end(), [&](const Verb& x) { return words[0] == x.name; });
  if (v == verbs.end()) return usage_error("unknown verb `" + words[0] + "` (allowed: " + verb_list(verbs) + ")");
  args.assign(words.begin() + 1, words.end());
  if (args.size() < v->min_args || args.size() > v->max_args)
    return usage_error("usage: " + usage_of(tool, *v));
  for (const auto& o : verb_options)
    if (vm.count(o) && !vm[o].defaulted() && !v->options.count(o))
      return usage_error(fmt::format("`--{}` is not an option of `{}` (usage: {})", o, v->name, usage_of(tool, *v)));
  return &*v;
}

}  // namespace cove::tools
