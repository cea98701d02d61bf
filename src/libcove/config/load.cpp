// load_config(): ini items -> key table -> defaults -> validate(); get_key(); the man page's
// generated key reference.
#include "config/load.hpp"

#include <algorithm>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "config/ini_reader.hpp"
#include "config/key_table.hpp"
#include "config/keys_network.hpp"
#include "config/validate.hpp"

namespace cove::config {
namespace {

using Errors = std::vector<std::string>;

std::string keys_of(std::string_view section) {
  std::vector<std::string> keys;
  for (const auto& k : key_table())
    if (k.section == section) keys.emplace_back(k.key);
  return join(keys, ", ");
}

std::string sections_list() {
  std::vector<std::string> out;
  for (const auto& s : key_sections()) out.push_back("[" + s + "]");
  out.push_back("[network.NAME]");
  return join(out, ", ");
}

const KeySpec* find_in_any_section(std::string_view key) {
  for (const auto& k : key_table())
    if (k.key == key) return &k;
  return nullptr;
}

std::string nic_keys_list() {
  std::vector<std::string> keys;
  for (const auto& k : nic_keys()) keys.emplace_back(k.key);
  return join(keys, ", ");
}

bool is_nic_section(std::string_view section) { return starts_with(section, kNicSectionPrefix); }

// An item of a `[network.NAME]` section: the header makes the NIC, keys fill it.
void apply_nic_item(ContainerConfig& c, const IniItem& it, Errors& errors) {
  std::string at = it.where() + ": ";
  std::string name = it.section.substr(kNicSectionPrefix.size());
  if (auto r = validate_nic_name(name); !r) {
    if (it.is_section_header()) errors.push_back(at + "section `[" + it.section + "]`: " + r.error().message());
    return;
  }
  NicConfig& nic = nic_named(c, name, it.where());
  if (it.is_section_header()) return;
  const NicKeySpec* spec = find_nic_key(it.key);
  if (!spec) {
    errors.push_back(at + "unknown key `" + it.key + "` in [" + it.section + "] (allowed: " + nic_keys_list() + ")");
    return;
  }
  if (spec->repeatable && it.value.empty()) {
    spec->clear(nic);
    return;
  }
  if (auto r = spec->parse(nic, it.value); !r)
    errors.push_back(at + "[" + it.section + "] " + it.key + ": " + r.error().message() + " (allowed: " +
                     std::string(spec->allowed) + ")");
}

// The absolute directory of an item's file, which relative values are resolved against. Items
// come file by file, so an absolute name's is kept from the item before (a config with its
// includes has ~150 items, each of which made it anew: most of a load's time in cove-ls).
std::string dir_of_file(const std::string& file) {
  thread_local std::string last_file, last_dir;
  if (file.empty() || file.front() != '/') return dirname_of(absolute_path(file));
  if (file != last_file) {
    last_dir = dirname_of(absolute_path(file));
    last_file = file;
  }
  return last_dir;
}

void apply_item(ContainerConfig& c, const IniItem& it, Errors& errors) {
  auto at = [&it] { return it.where() + ": "; };  // only for an error
  if (is_nic_section(it.section)) return apply_nic_item(c, it, errors);
  if (it.is_section_header()) {
    if (!is_known_section(it.section))
      errors.push_back(at() + "unknown section `[" + it.section + "]` (allowed: " + sections_list() + ")");
    return;
  }
  if (it.section.empty()) {
    const KeySpec* other = find_in_any_section(it.key);
    errors.push_back(at() + "key `" + it.key + "` is outside any section (" +
                     (other ? "put it under `[" + std::string(other->section) + "]`"
                            : "only `include` is allowed before the first section") + ")");
    return;
  }
  if (!is_known_section(it.section)) return;  // reported once, at the section header
  const KeySpec* spec = find_key(it.section, it.key);
  if (!spec) {
    const KeySpec* other = find_in_any_section(it.key);
    std::string hint = other ? "; it belongs in `[" + std::string(other->section) + "]`" : "";
    if (it.section == "namespaces" && starts_with(it.key, "share."))
      hint = "; only net, uts and ipc can be shared, see cove.conf(5)";
    errors.push_back(at() + "unknown key `" + it.key + "` in [" + it.section + "] (allowed: " + keys_of(it.section) +
                     ", include" + hint + ")");
    return;
  }
  if (spec->repeatable && it.value.empty()) {  // `entry =` clears what earlier files added
    spec->clear(c);
    c.origin.erase(spec->name());
    return;
  }
  KeyContext ctx{it.file, it.line, dir_of_file(it.file)};
  if (auto r = spec->parse(c, it.value, ctx); !r) {
    errors.push_back(at() + "[" + it.section + "] " + it.key + ": " + r.error().message() + " (allowed: " +
                     std::string(spec->allowed) + ")");
    return;
  }
  c.origin[spec->name()] = it.where();
}

void apply_defaults(ContainerConfig& c, const LoadOptions& options) {
  c.name = options.name;
  if (!c.origin.count("container.rootfs")) c.rootfs = options.default_rootfs;
  if (!c.origin.count("namespaces.clone")) {
    c.clone_ns.clear();
    for (Namespace ns : kAllNamespaces) {
      if (ns == Namespace::kTime && !kernel_has_time_ns()) continue;
      if (ns == Namespace::kUser && c.privileged) continue;
      c.clone_ns.push_back(ns);
    }
  }
  bool own_uts = std::find(c.clone_ns.begin(), c.clone_ns.end(), Namespace::kUts) != c.clone_ns.end();
  if (!c.origin.count("container.hostname")) c.hostname = own_uts ? c.name : "";
}

Result<ContainerConfig> build(const IniDocument& doc, const LoadOptions& options) {
  ContainerConfig c;
  Errors errors;
  apply_items(doc, errors, [&](const IniItem& item, Errors& errs) { apply_item(c, item, errs); });
  // Rules on a half-parsed config would only repeat the parse errors in other words.
  if (errors.empty()) {
    apply_defaults(c, options);
    if (options.validate) errors = validate(c);
  }
  if (!errors.empty()) return Error(EINVAL, join(errors, "\n"));
  return c;
}

// Escapes text for roff: backslashes, and a leading '.' or '\'' that would start a request.
std::string roff(std::string_view s) {
  std::string out;
  for (char ch : s) {
    if (ch == '\\') out += "\\e";
    else out += ch;
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out.insert(0, "\\&");
  return out;
}

}  // namespace

Result<ContainerConfig> load_config(const std::string& path, const LoadOptions& options) {
  auto doc = read_ini_file(path);
  if (!doc) return std::move(doc).error();
  return build(*doc, options);
}

Result<ContainerConfig> load_config_string(const std::string& text, const std::string& file_label,
                                           const LoadOptions& options) {
  return build(read_ini_string(text, file_label), options);
}

Result<std::vector<std::string>> get_key(const ContainerConfig& config, const std::string& section,
                                         const std::string& key) {
  if (is_nic_section(section)) {
    std::string name = section.substr(kNicSectionPrefix.size());
    auto nic = std::find_if(config.nics.begin(), config.nics.end(), [&](const NicConfig& n) { return n.name == name; });
    if (nic == config.nics.end()) return Error::invalid("no section `[" + section + "]` in the config");
    const NicKeySpec* spec = find_nic_key(key);
    if (!spec) return Error::invalid("unknown key `" + key + "` in [" + section + "] (allowed: " + nic_keys_list() + ")");
    return spec->format(*nic);
  }
  if (!is_known_section(section))
    return Error::invalid("unknown section `[" + section + "]` (allowed: " + sections_list() + ")");
  const KeySpec* spec = find_key(section, key);
  if (!spec) return Error::invalid("unknown key `" + key + "` in [" + section + "] (allowed: " + keys_of(section) + ")");
  return spec->format(config);
}

std::string render_key_reference_roff() {
  std::string out;
  for (const auto& section : key_sections()) {
    out += ".SS \"[" + section + "]\"\n";
    for (const auto& k : key_table()) {
      if (k.section != section) continue;
      out += ".TP\n\\fB" + roff(k.key) + "\\fR = \\fI" + roff(k.allowed) + "\\fR\n";
      out += roff(k.doc) + "\n.br\n";
      out += "Default: " + (k.default_text.empty() ? std::string("none") : roff(k.default_text)) + ".";
      if (k.repeatable) out += " May be given more than once; an empty value clears the list.";
      out += "\n";
    }
  }
  out += ".SS \"[network.NAME]\"\n";
  out += "One section per network interface of the container, NAME being its name inside (eth0, eth1, ...). "
         "A container without one has only the loopback interface.\n";
  for (const auto& k : nic_keys()) {
    out += ".TP\n\\fB" + roff(k.key) + "\\fR = \\fI" + roff(k.allowed) + "\\fR\n";
    out += roff(k.doc) + "\n.br\n";
    out += "Default: " + (k.default_text.empty() ? std::string("none") : roff(k.default_text)) + ".";
    if (k.repeatable) out += " May be given more than once; an empty value clears the list.";
    out += "\n";
  }
  return out;
}

}  // namespace cove::config
