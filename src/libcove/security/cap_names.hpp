// Capability names as in capabilities(7), without the `cap_` prefix ("sys_admin"), and their
// numbers. A pure table (no kernel calls), shared by config/ (parsing) and security/ (applying).
// Numbers above the highest name this table knows are shown as "cap_N".
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cove::security {

inline constexpr int kCapTableLast = 40;  // CAP_CHECKPOINT_RESTORE, Linux 5.9

// "sys_admin" -> 21. Accepts upper case and a `cap_` prefix too; nullopt for unknown names.
std::optional<int> cap_from_name(std::string_view name);
// 21 -> "sys_admin".
std::string cap_name(int cap);

}  // namespace cove::security
