// Signal names <-> numbers ("SIGPWR", "PWR", "30", "SIGRTMIN+3").
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cove {

std::optional<int> parse_signal(std::string_view name);
std::string signal_name(int sig);

}  // namespace cove
