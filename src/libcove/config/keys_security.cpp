// The [security] section's keys (see key_table.hpp). Values become typed fields of
// ContainerConfig::security here; no raw strings leave config/.
#include "config/key_table.hpp"

namespace cove::config {

std::span<const KeySpec> security_keys() { return {}; }

}  // namespace cove::config
