// IniReader: turns a config file (and everything it includes) into an ordered list of
// {file, line, section, key, value} items plus FILE:LINE errors. Owns the file syntax only:
// lines, sections, comments, `include`; what keys mean is key_table's business.
//
// Syntax (parsed with inih, line by line):
//   [section]              a section header
//   key = value            `:` works too; whitespace around key and value is dropped
//   ; comment  # comment   at the start of a line, or after whitespace anywhere in a line
//   include = FILE|DIR     in any section or before the first one; see below
// Indentation is ignored and there are NO continuation lines (inih's multiline mode is
// defeated by stripping leading whitespace before inih sees a line): an indented
// `key = value` under a section is an ordinary key, never a silent part of the previous value.
// A line may hold at most 199 characters once indentation and comments are removed (inih's
// fixed line buffer); longer lines are an error instead of being split into bogus lines.
//
// `include = PATH` is resolved against the including file's directory. A FILE is read in
// place of the include line; a DIR contributes its `*.conf` files sorted by name (dot files
// skipped). Every included file starts outside any section. Missing files and include cycles
// are errors at the include's FILE:LINE.
//
// Every config file (the main one, an include, a conf.d entry) must be a regular file of at
// most kMaxConfigFileSize bytes: a device (/dev/zero), a FIFO or a socket is an error naming
// it, opened without blocking, never read.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace cove::config {

struct IniItem {
  std::string file;     // as named in messages: the path given, or an include path
  int line = 0;
  std::string section;  // "" before the first section header
  std::string key;      // "" for a `[section]` header line (value is then "")
  std::string value;

  bool is_section_header() const { return key.empty(); }
  std::string where() const { return file + ":" + std::to_string(line); }
};

struct IniError {
  std::string file;
  int line = 0;            // 0 when the error is about a whole file
  std::string message;
  size_t before_item = 0;  // items.size() when the error was found: orders errors among items

  // "FILE:LINE: message" (or "FILE: message").
  std::string text() const;
};

struct IniDocument {
  std::vector<IniItem> items;  // in reading order, includes expanded in place
  std::vector<IniError> errors;
};

// Calls `apply(item, errors)` on every item in reading order; the reader's own errors are put
// into `errors` at their place among the items', so every message comes in file order.
template <class Apply>
void apply_items(const IniDocument& doc, std::vector<std::string>& errors, Apply&& apply) {
  size_t next_error = 0;
  auto errors_before = [&](size_t item) {
    for (; next_error < doc.errors.size() && doc.errors[next_error].before_item <= item; ++next_error)
      errors.push_back(doc.errors[next_error].text());
  };
  for (size_t i = 0; i < doc.items.size(); ++i) {
    errors_before(i);
    apply(doc.items[i], errors);
  }
  errors_before(doc.items.size());
}

inline constexpr size_t kMaxConfigFileSize = 1024 * 1024;

// The text of one config file under the rules above (read_regular_file with the size bound).
Result<std::string> read_config_text(const std::string& path);

// Fails only when `path` itself cannot be read (the Error keeps its errno); every other
// problem, including a missing include, is an IniError in the document.
Result<IniDocument> read_ini_file(const std::string& path);
// `label` names the text in messages; relative includes resolve against its directory.
IniDocument read_ini_string(const std::string& text, const std::string& label);

// While one lives, the parse of an included file is kept for every config read in the process,
// keyed by its whole text, and for a file unchanged for 2 s when it was read also by its status
// (device, inode, size, mtime, ctime: a change afterwards sets a later ctime), so an edit is
// never missed: for a tool that reads many containers' configs that include the same file
// (cove-ls: 1000 of them, each with common.conf). Not for a long-lived process, which would
// keep it. One at a time.
class IncludeParseCache {
 public:
  IncludeParseCache();
  ~IncludeParseCache();
  IncludeParseCache(const IncludeParseCache&) = delete;
  IncludeParseCache& operator=(const IncludeParseCache&) = delete;
};

}  // namespace cove::config
