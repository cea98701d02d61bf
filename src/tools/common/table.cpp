#include "tools/common/table.hpp"

#include <algorithm>
#include <cstdio>

namespace cove::tools {

void print_table(const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return;
  std::vector<size_t> w(rows[0].size(), 0);
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) {
      if (i + 1 < r.size()) std::printf("%-*s  ", static_cast<int>(i < w.size() ? w[i] : 0), r[i].c_str());
      else std::printf("%s\n", r[i].c_str());
    }
}

}  // namespace cove::tools
