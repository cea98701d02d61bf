#include "host_config.hpp"

#include <cstdlib>
#include <optional>

#include <fmt/format.h>

#include "base/strings.hpp"
#include "config/ini_reader.hpp"

namespace cove {
namespace {

constexpr const char* kSection = "host";

struct HostKey {
  const char* name;
  std::string HostConfig::*member;
};

constexpr HostKey kKeys[] = {
    {"path", &HostConfig::path},
    {"runtime_dir", &HostConfig::runtime_dir},
    {"state_dir", &HostConfig::state_dir},
    {"cache_dir", &HostConfig::cache_dir},
    {"network_dir", &HostConfig::network_dir},
};

std::string key_names() {
  std::vector<std::string> names;
  for (const auto& k : kKeys) names.emplace_back(k.name);
  return join(names, ", ");
}

const HostKey* find_key(const std::string& name) {
  for (const auto& k : kKeys)
    if (name == k.name) return &k;
  return nullptr;
}

// "/srv/cove/" and "/srv/cove" are one directory.
std::string without_trailing_slashes(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

Result<std::string> check_dir_value(const std::string& key, const std::string& value) {
  if (value.empty()) return Error::invalid("empty (allowed: an absolute path)");
  if (value[0] != '/')
    return Error::invalid(fmt::format("`{}` is not an absolute path (allowed: an absolute path)", printable(value)));
  std::string p = without_trailing_slashes(value);
  if (key == "runtime_dir" && p.size() > kMaxRuntimeDirLength)
    return Error::invalid(fmt::format(
        "`{}` is longer than {} characters (allowed: an absolute path of at most {} characters, so that "
        "RUNTIME_DIR/NAME/command fits a socket address)",
        printable(value), kMaxRuntimeDirLength, kMaxRuntimeDirLength));
  return p;
}

// One item of the document: an error text, or "" when it was applied.
std::string apply_item(HostConfig& cfg, const config::IniItem& it) {
  std::string at = it.where() + ": ";
  if (it.is_section_header())
    return it.section == kSection ? "" : at + "section `[" + it.section + "]`: unknown (allowed: [host])";
  if (it.section.empty()) return at + "key `" + it.key + "`: outside any section (allowed: under [host])";
  if (it.section != kSection) return "";  // its section header was reported
  if (auto r = set_host_key(cfg, it.key, it.value); !r) return at + r.error().message();
  return "";
}

// Applies every item, collecting every error (the reader's among them, in file order).
Result<HostConfig> build(const config::IniDocument& doc, const std::string& source) {
  HostConfig cfg;
  cfg.source = source;
  std::vector<std::string> errors;
  config::apply_items(doc, errors, [&](const config::IniItem& item, std::vector<std::string>& errs) {
    if (auto e = apply_item(cfg, item); !e.empty()) errs.push_back(std::move(e));
  });
  if (!errors.empty()) return Error(EINVAL, join(errors, "\n"));
  return cfg;
}

std::optional<HostConfig>& installed() {
  static std::optional<HostConfig> cfg;
  return cfg;
}

}  // namespace

Result<void> set_host_key(HostConfig& cfg, const std::string& key, const std::string& value) {
  const HostKey* k = find_key(key);
  if (!k) return Error::invalid(fmt::format("key `{}`: unknown in [host] (allowed: {})", printable(key), key_names()));
  auto v = check_dir_value(key, value);
  if (!v) return std::move(v).error().context("key `" + key + "`");
  cfg.*(k->member) = std::move(*v);
  return {};
}

std::vector<std::pair<std::string, std::string>> host_keys(const HostConfig& cfg) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& k : kKeys) out.emplace_back(k.name, cfg.*(k.member));
  return out;
}

Result<HostConfig> parse_host_config(const std::string& text, const std::string& label) {
  return build(config::read_ini_string(text, label), label);
}

Result<HostConfig> load_host_config(const std::string& file, bool must_exist) {
  auto doc = config::read_ini_file(file);
  if (!doc && doc.error().code() == ENOENT && !must_exist) return HostConfig{};
  if (!doc) return std::move(doc).error().context("host config");
  return build(*doc, file);
}

Result<HostConfig> load_selected_host_config() {
  if (const char* env = std::getenv(kHostConfigEnv); env && *env) return load_host_config(env, /*must_exist=*/true);
  return load_host_config(kHostConfigFile, /*must_exist=*/false);
}

Result<void> init_host_config() {
  if (installed()) return {};
  auto cfg = load_selected_host_config();
  if (!cfg) return std::move(cfg).error();
  installed() = std::move(*cfg);
  return {};
}

void set_host_config(HostConfig cfg) { installed() = std::move(cfg); }

const HostConfig& host_config() {
  static const HostConfig defaults;
  return installed() ? *installed() : defaults;
}

}  // namespace cove
