// The `[network.NAME]` keys: one section per NIC, NAME being its name inside the container
// ("eth0"). The same shape as the key table (key_table.hpp), but each parser fills one
// NicConfig. load.cpp dispatches `[network.*]` sections here; the man page's key list and
// get_key() use this table too.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "config/key_table.hpp"
#include "config/nic_config.hpp"

namespace cove::config {

inline constexpr std::string_view kNicSectionPrefix = "network.";

struct NicKeySpec {
  std::string_view key;
  std::string_view allowed;
  std::string_view default_text;
  bool repeatable = false;
  std::string_view doc;
  Result<void> (*parse)(NicConfig&, const std::string& value) = nullptr;
  std::vector<std::string> (*format)(const NicConfig&) = nullptr;
  void (*clear)(NicConfig&) = nullptr;
};

std::span<const NicKeySpec> nic_keys();
const NicKeySpec* find_nic_key(std::string_view key);
// A NIC name inside the container: 1-15 characters, no `/`, `:`, whitespace or `%`, not `.`,
// `..` or `lo`.
Result<void> validate_nic_name(std::string_view name);
// The NIC of `[network.NAME]` in `c`, appended (with `where`) when it is new.
NicConfig& nic_named(ContainerConfig& c, const std::string& name, const std::string& where);
// A NIC from "key = value" lines (a hot-plugged one): each line parsed by its key's parser,
// then the cross-key rules against `existing` (the container's config). All errors, one per line.
Result<NicConfig> parse_nic_lines(const std::string& name, const std::vector<std::string>& lines,
                                  const ContainerConfig& existing);
// The cross-key rules of every NIC, as validate() messages.
void validate_nics(const ContainerConfig& c, std::vector<std::string>& errors);

}  // namespace cove::config
