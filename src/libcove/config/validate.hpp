// validate(): the cross-key rules of a parsed ContainerConfig (one key's value alone is checked
// by its parser in key_table). Each rule is named, like youki's validate_spec_for_*; messages
// start with the "FILE:LINE: " of the key that is most likely wrong, taken from config.origin.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "config/container_config.hpp"

namespace cove::config {

// Every violated rule's message; empty when the config is consistent.
std::vector<std::string> validate(const ContainerConfig& config);

struct ValidationRule {
  const char* name;  // e.g. "hostname-needs-uts"
  void (*check)(const ContainerConfig&, std::vector<std::string>& errors);
};
std::span<const ValidationRule> validation_rules();

}  // namespace cove::config
