// Prints rows as left-aligned columns two spaces apart (the first row is the header).
#pragma once

#include <string>
#include <vector>

namespace cove::tools {

void print_table(const std::vector<std::vector<std::string>>& rows);

}  // namespace cove::tools
