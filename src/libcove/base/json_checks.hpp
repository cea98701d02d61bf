// Checks on JSON records cove reads back (runtime state, exec record).
#pragma once

#include <nlohmann/json.hpp>

namespace cove {

// Whether any number in `j` is a float: every number of cove's records is an integer, and a
// float (or an integer too big for 64 bits, which the parser turns into one) would be converted
// with undefined behaviour.
inline bool json_has_float(const nlohmann::json& j) {
  if (j.is_number_float()) return true;
  if (j.is_structured())
    for (const auto& v : j)
      if (json_has_float(v)) return true;
  return false;
}

}  // namespace cove
