// Editing a config file's text in place, for `cove-cgroup --persist`: sets one key of one
// section while keeping every other line (comments, includes, order) as it was. Pure text in,
// text out; the caller checks the result with load_config_string() before writing it.
#pragma once

#include <string>

namespace cove::config {

// Returns `text` with `key = value` in `[section]`: for a key that does not repeat, every
// earlier `key = ...` line of that section is removed first. The line goes at the end of the
// last `[section]` of the file, or into a new `[section]` appended at the end.
std::string set_key_in_text(const std::string& text, const std::string& section, const std::string& key,
                            const std::string& value, bool repeatable);

// Returns `text` without any `key = ...` line of `[section]`.
std::string remove_key_in_text(const std::string& text, const std::string& section, const std::string& key);
// Returns `text` without every `[section]` header and the lines under it (up to the next header).
std::string remove_section_in_text(const std::string& text, const std::string& section);

}  // namespace cove::config
