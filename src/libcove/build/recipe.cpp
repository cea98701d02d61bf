#include "build/recipe.hpp"

#include <cctype>

#include <fmt/format.h>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "config/load.hpp"

namespace cove::build {

namespace {

constexpr const char* kAllowed = "FROM, RUN, COPY, ENV, CONFIG, VERSION";

struct Line {
  unsigned number = 0;
  std::string text;
};

// Physical lines -> logical ones: comments dropped, `\`-continuations joined with a space.
std::vector<Line> logical_lines(const std::string& text) {
  std::vector<Line> out;
  Line cur;
  bool continuing = false;
  unsigned n = 0;
  for (const auto& raw : split(text, '\n')) {
    ++n;
    std::string line(trim(raw));
    if (!line.empty() && line[0] == '#') continue;  // also inside a continuation
    bool more = !line.empty() && line.back() == '\\';
    if (more) line = std::string(trim(line.substr(0, line.size() - 1)));
    if (!continuing) cur = Line{n, line};
    else if (!line.empty()) cur.text += (cur.text.empty() ? "" : " ") + line;
    continuing = more;
    if (!continuing && !cur.text.empty()) out.push_back(cur);
  }
  if (continuing && !cur.text.empty()) out.push_back(cur);
  return out;
}

bool has_dotdot(const std::string& path) {
  for (const auto& c : split(path, '/'))
    if (c == "..") return true;
  return false;
}

bool is_env_name(const std::string& k) {
  if (k.empty() || std::isdigit(static_cast<unsigned char>(k[0]))) return false;
  for (char c : k)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

bool is_version(const std::string& v) {
  if (v.empty() || v.size() > 64) return false;
  for (char c : v)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-' && c != '+') return false;
  return true;
}

// `FROM image:REF` or `FROM template:NAME ARGS...`; "" or what is wrong.
std::string parse_from(Step& s, const std::vector<std::string>& words) {
  if (words.empty()) return "FROM needs a base: `image:REF` or `template:NAME [ARGS...]`";
  const std::string& w = words[0];
  auto colon = w.find(':');
  std::string kind = colon == std::string::npos ? "" : w.substr(0, colon);
  if ((kind != "image" && kind != "template") || colon + 1 == w.size())
    return fmt::format("FROM `{}` is not `image:REF` or `template:NAME`", w);
  s.arg = kind;
  s.ref = w.substr(colon + 1);
  s.args.assign(words.begin() + 1, words.end());
  if (kind == "image" && !s.args.empty()) return "FROM image:REF takes no arguments";
  if (kind == "template" && (s.ref.find('/') != std::string::npos || s.ref[0] == '.'))
    return fmt::format("FROM template `{}`: a template name, not a path (e.g. busybox, debian)", s.ref);
  return "";
}

std::string parse_copy(Step& s, const std::vector<std::string>& words) {
  if (words.size() != 2) return "COPY takes two words: SRC (in the recipe's directory) and DST (absolute)";
  s.arg = words[0];
  s.ref = words[1];
  if (s.arg[0] == '/' || has_dotdot(s.arg))
    return fmt::format("COPY source `{}` must be relative to the recipe's directory, without `..`", s.arg);
  if (s.ref[0] != '/' || has_dotdot(s.ref))
    return fmt::format("COPY destination `{}` must be an absolute path inside the rootfs, without `..`", s.ref);
  return "";
}

std::string parse_env(Step& s, const std::string& rest) {
  auto eq = rest.find('=');
  if (eq == std::string::npos) return "ENV takes KEY=VALUE";
  s.arg = std::string(trim(rest.substr(0, eq)));
  s.value = rest.substr(eq + 1);
  if (!is_env_name(s.arg)) return fmt::format("ENV name `{}` is not a variable name (letters, digits, _)", s.arg);
  if (printable(s.value) != s.value) return "ENV value has control characters";
  return "";
}

// A key of the image's config, checked by the config parser; host-specific keys are refused.
std::string parse_config(Step& s, const std::string& rest) {
  auto eq = rest.find('=');
  if (eq == std::string::npos) return "CONFIG takes SECTION.KEY = VALUE";
  s.arg = std::string(trim(rest.substr(0, eq)));
  s.value = std::string(trim(rest.substr(eq + 1)));
  auto dot = s.arg.rfind('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == s.arg.size())
    return fmt::format("CONFIG `{}` is not SECTION.KEY", s.arg);
  s.ref = s.arg.substr(0, dot);
  s.key = s.arg.substr(dot + 1);
  if (s.ref == "idmap" || s.arg == "container.rootfs" || s.arg == "rootfs.lower" || s.arg == "rootfs.backend")
    return fmt::format("CONFIG `{}` belongs to the host, not to an image", s.arg);
  config::LoadOptions lo{"build", "/", false};
  auto r = config::load_config_string(fmt::format("[{}]\n{} = {}\n", s.ref, s.key, s.value), "CONFIG", lo);
  if (!r) {
    std::string m = r.error().message();
    if (starts_with(m, "CONFIG:2: ")) m = m.substr(10);
    return fmt::format("CONFIG `{}`: {}", s.arg, m);
  }
  return "";
}

}  // namespace

const char* step_kind_name(StepKind k) {
  switch (k) {
    case StepKind::kFrom: return "FROM";
    case StepKind::kRun: return "RUN";
    case StepKind::kCopy: return "COPY";
    case StepKind::kEnv: return "ENV";
    case StepKind::kConfig: return "CONFIG";
    case StepKind::kVersion: return "VERSION";
  }
  return "?";
}

Result<Recipe> parse_recipe(const std::string& text, const std::string& label, const std::string& dir) {
  Recipe r;
  r.file = label;
  r.dir = dir;
  std::vector<std::string> errors;
  size_t layers = 0;
  for (const auto& l : logical_lines(text)) {
    auto sp = l.text.find_first_of(" \t");
    std::string word = l.text.substr(0, sp);
    std::string rest = sp == std::string::npos ? "" : std::string(trim(l.text.substr(sp)));
    for (auto& c : word) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    Step s;
    s.line = l.number;
    s.text = l.text;
    std::string bad;
    if (word == "FROM") {
      s.kind = StepKind::kFrom;
      bad = parse_from(s, split_ws(rest));
      if (bad.empty() && !r.steps.empty()) bad = "FROM must be the first instruction, and only one";
    } else if (word == "RUN") {
      s.kind = StepKind::kRun;
      s.arg = rest;
      if (rest.empty()) bad = "RUN needs a shell command";
    } else if (word == "COPY") {
      s.kind = StepKind::kCopy;
      bad = parse_copy(s, split_ws(rest));
    } else if (word == "ENV") {
      s.kind = StepKind::kEnv;
      bad = parse_env(s, rest);
    } else if (word == "CONFIG") {
      s.kind = StepKind::kConfig;
      bad = parse_config(s, rest);
    } else if (word == "VERSION") {
      s.kind = StepKind::kVersion;
      s.arg = rest;
      if (!is_version(rest)) bad = fmt::format("VERSION `{}` is not 1-64 of letters, digits, . _ - +", rest);
      else r.version = rest;
    } else {
      bad = fmt::format("unknown instruction `{}` (allowed: {})", printable(word), kAllowed);
    }
    if (bad.empty() && s.kind != StepKind::kFrom && r.steps.empty() && errors.empty())
      bad = fmt::format("{} before FROM: a recipe starts with `FROM image:REF` or `FROM template:NAME`",
                        step_kind_name(s.kind));
    if (bad.empty() && s.makes_layer() && ++layers > kMaxLayers)
      bad = fmt::format("more than {} FROM/RUN/COPY steps (each is an overlay layer)", kMaxLayers);
    if (!bad.empty()) errors.push_back(fmt::format("{}:{}: {}", label, l.number, bad));
    else r.steps.push_back(std::move(s));
  }
  if (errors.empty() && r.steps.empty())
    errors.push_back(fmt::format("{}:1: no FROM: a recipe starts with `FROM image:REF` or `FROM template:NAME`", label));
  if (!errors.empty()) return Error::invalid(join(errors, "\n"));
  return r;
}

Result<Recipe> load_recipe(const std::string& file) {
  auto text = read_regular_file(file, kMaxRecipeBytes);
  if (!text) return std::move(text).error().context("recipe");
  return parse_recipe(*text, file, dirname_of(absolute_path(file)));
}

}  // namespace cove::build
