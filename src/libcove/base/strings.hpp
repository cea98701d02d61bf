// Small string helpers shared by the parsers: split, trim, strict integer parsing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cove {

std::string_view trim(std::string_view s);
// Splits on any run of whitespace; no empty fields.
std::vector<std::string> split_ws(std::string_view s);
// The \ooo escapes of fstab(5) and /proc/PID/mountinfo ("\040" is a space; first digit 0-3,
// so a byte); anything else is kept as it is.
std::string unescape_octal(std::string_view s);
// `s` safe to print on a terminal: control bytes (< 0x20, 0x7f) and backslash as \xNN, so a
// name a container chose (a process's comm) cannot send escape sequences to the admin's tty.
std::string printable(std::string_view s);
// Splits on `sep`, keeping empty fields.
std::vector<std::string> split(std::string_view s, char sep);
// The lines of `text` (without their '\n'; a last line without one too), as views into it:
// for files read whole and parsed line by line with no copy of each line.
std::vector<std::string_view> lines_of(std::string_view text);
// The next whitespace-separated word of `s`, taken off its front; "" when none is left.
std::string_view take_word(std::string_view& s);
bool starts_with(std::string_view s, std::string_view prefix);
std::string join(const std::vector<std::string>& parts, std::string_view sep);

// Whole-string decimal parse; nullopt on junk, sign where not allowed, or overflow.
std::optional<int64_t> parse_int(std::string_view s);
std::optional<uint64_t> parse_uint(std::string_view s);
// "yes/no/true/false/1/0/on/off".
std::optional<bool> parse_bool(std::string_view s);
// Sizes with optional binary suffix: 512, 64K, 1M, 2G, 1T (powers of 1024; "KiB" forms accepted).
std::optional<uint64_t> parse_size(std::string_view s);
// A bit rate like tc(8): "100mbit", "1gbit", "512kbit", "10mbps" (bytes per second, x8), or a
// bare number of bits per second. SI multipliers (k = 1000). nullopt when malformed or 0.
std::optional<uint64_t> parse_rate(std::string_view s);
std::string format_rate(uint64_t bits_per_s);  // "100mbit", "1500kbit", "123bit": parse_rate's inverse

// 64-bit FNV-1a, for stable short names derived from paths.
uint64_t fnv1a(std::string_view s);

}  // namespace cove
