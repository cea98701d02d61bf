// The key table: the one list of every config key (LXC's config_jump_table). Each entry
// knows its section, the value syntax shown to users, its default, whether it repeats, its
// documentation, and how to parse a value into ContainerConfig, print it back and reset it.
// load.cpp parses with it, get_key() and the man page's key list are generated from it.
// Adding a key (or a new section) is adding one entry to the table in key_table.cpp.
#pragma once

#include <array>
#include <cstddef>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "config/container_config.hpp"

namespace cove::config {

// Where a value comes from, for relative paths and MountEntry::where.
struct KeyContext {
  std::string file;  // as named in messages
  int line = 0;
  std::string dir;   // absolute directory of `file`: relative paths are resolved against it

  std::string where() const { return file + ":" + std::to_string(line); }
};

// Parses `value` into the config (appending for repeatable keys). The error says what is
// wrong with the value; the caller adds "FILE:LINE: [section] key: " and "(allowed: ...)".
using KeyParseFn = Result<void> (*)(ContainerConfig&, const std::string& value, const KeyContext&);
// The current values as text, each one re-parseable; empty when unset (or an empty list).
using KeyFormatFn = std::vector<std::string> (*)(const ContainerConfig&);
// Resets the key to its default (for a repeatable key: the empty list).
using KeyClearFn = void (*)(ContainerConfig&);

struct KeySpec {
  std::string_view section;
  std::string_view key;
  std::string_view allowed;       // value syntax, e.g. "0..64" or "SOURCE TARGET FSTYPE OPTIONS"
  std::string_view default_text;  // e.g. "1", "the container name", "" (= none)
  bool repeatable = false;        // every occurrence adds a value; an empty value clears them
  std::string_view doc;           // one paragraph, plain text
  KeyParseFn parse = nullptr;
  KeyFormatFn format = nullptr;
  KeyClearFn clear = nullptr;

  std::string name() const { return std::string(section) + "." + std::string(key); }  // origin key
};

// Every module's key table, in section order, iterated as one list. A view over the constant
// tables (in .rodata, shared by every process) instead of a copy joined on the heap.
class KeyTable {
 public:
  static constexpr size_t kParts = 4;
  using Parts = std::array<std::span<const KeySpec>, kParts>;

  class iterator {
   public:
    using value_type = KeySpec;
    using difference_type = std::ptrdiff_t;
    using reference = const KeySpec&;
    using pointer = const KeySpec*;
    using iterator_category = std::forward_iterator_tag;
    iterator() = default;
    iterator(const Parts* parts, size_t part) : parts_(parts), part_(part) { skip_empty(); }
    reference operator*() const { return (*parts_)[part_][index_]; }
    pointer operator->() const { return &**this; }
    iterator& operator++() {
      ++index_;
      skip_empty();
      return *this;
    }
    iterator operator++(int) {
      auto old = *this;
      ++*this;
      return old;
    }
    bool operator==(const iterator& o) const { return part_ == o.part_ && index_ == o.index_; }

   private:
    void skip_empty() {
      while (part_ < kParts && index_ >= (*parts_)[part_].size()) {
        ++part_;
        index_ = 0;
      }
    }
    const Parts* parts_ = nullptr;
    size_t part_ = kParts;
    size_t index_ = 0;
  };

  explicit KeyTable(const Parts& parts) : parts_(&parts) {}
  iterator begin() const { return iterator(parts_, 0); }
  iterator end() const { return iterator(parts_, kParts); }
  size_t size() const {
    size_t n = 0;
    for (auto p : *parts_) n += p.size();
    return n;
  }

 private:
  const Parts* parts_;
};

KeyTable key_table();
// The parts key_table() joins: [container] [mount] [namespaces] [idmap] here, [cgroup] in
// keys_cgroup.cpp, [security] in keys_security.cpp.
std::span<const KeySpec> core_keys();
std::span<const KeySpec> cgroup_keys();
std::span<const KeySpec> security_keys();
std::span<const KeySpec> storage_keys();
const KeySpec* find_key(std::string_view section, std::string_view key);
// Section names in table order ("container", "mount", ...).
std::vector<std::string> key_sections();
bool is_known_section(std::string_view section);

}  // namespace cove::config
