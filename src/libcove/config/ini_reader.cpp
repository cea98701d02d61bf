// inih wrapper: our own line reader feeds inih one cleaned line per call, so that we know the
// exact line number (Debian's libinih is built without INI_HANDLER_LINENO), can report every
// syntax error (inih only returns the first one and does not call back for bad lines), and
// never let inih split a long line.
//
// What libinih 55 does on its own, and why the reader works around it:
//  - Lines longer than the buffer (INI_MAX_LINE = 200, so 199 characters) reach it in several
//    reader calls; each chunk is parsed as a separate line and counted as one, so a long value
//    is silently truncated and its tail becomes a syntax error or, if it contains `=`, a bogus
//    key, and every later line number is off. We read lines from memory, check their length
//    against the buffer size inih passes (`num - 1`) and report "line too long".
//  - With INI_ALLOW_MULTILINE (the default), a line starting with whitespace continues the
//    previous key and calls the handler again with the same key: for a repeatable key that is
//    a silent extra entry, and an indented `key = value` becomes part of the previous value.
//    We drop continuation lines (leading whitespace is stripped before inih sees a line):
//    every value is exactly one line.
//  - Inline comments are only `;` after whitespace (INI_INLINE_COMMENT_PREFIXES). We strip
//    both `;` and `#` after whitespace ourselves, so inih never sees a comment.
#include "base/dir.hpp"
#include "config/ini_reader.hpp"

#include <ini.h>
#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string_view>

#include "base/fs.hpp"
#include "base/strings.hpp"

namespace cove::config {

std::string IniError::text() const {
  return line > 0 ? file + ":" + std::to_string(line) + ": " + message : file + ": " + message;
}

namespace {

constexpr size_t kMaxIncludeDepth = 32;

// One thing found in a file, in order; expanded into the document after inih returns so that
// no recursion (and nothing that can throw) happens inside the C callbacks.
struct Event {
  enum Kind { kItem, kError, kInclude } kind = kItem;
  int line = 0;
  std::string section, key, value;  // kItem (key "" = section header), kInclude (value)
  std::string message;              // kError
};

struct FileParse {
  std::string_view text;
  size_t pos = 0;
  int line = 0;
  std::string section;
  std::vector<Event> events;
  bool failed = false;  // an exception was caught in a callback
};

bool is_blank(char c) { return c == ' ' || c == '\t'; }

// Drops a comment: the whole line if it starts with ';' or '#', else from the first ';' or '#'
// that follows whitespace.
std::string_view strip_comment(std::string_view s) {
  if (!s.empty() && (s[0] == ';' || s[0] == '#')) return {};
  for (size_t i = 1; i < s.size(); ++i)
    if ((s[i] == ';' || s[i] == '#') && is_blank(s[i - 1])) return trim(s.substr(0, i));
  return s;
}

// Cleans one raw line into what inih will see. Returns an error message, or "" when `out`
// holds the line ("" for blank and comment lines). A valid header updates `p.section`.
std::string clean_line(FileParse& p, std::string_view raw, std::string& out) {
  std::string_view s = raw;
  if (p.line == 1 && starts_with(s, "\xEF\xBB\xBF")) s.remove_prefix(3);  // UTF-8 BOM
  if (s.find('\0') != std::string_view::npos) return "line contains a NUL byte";
  s = strip_comment(trim(s));
  out.clear();
  if (s.empty()) return "";
  if (s.front() == '[') {
    if (s.back() != ']') {
      if (s.find(']') == std::string_view::npos) return "section header `" + std::string(s) + "` has no closing `]`";
      return "unexpected text after `]` in `" + std::string(s) + "`";
    }
    std::string_view name = trim(s.substr(1, s.size() - 2));
    if (name.empty()) return "empty section name";
    if (name.find_first_of("[]") != std::string_view::npos)
      return "section name `" + std::string(name) + "` must not contain `[` or `]`";
    p.section = std::string(name);
    out = "[" + p.section + "]";
    p.events.push_back(Event{Event::kItem, p.line, p.section, "", "", ""});
    return "";
  }
  size_t eq = s.find_first_of("=:");
  if (eq == std::string_view::npos)
    return "expected `key = value`, `[section]` or a comment, got `" + std::string(s) + "`";
  if (trim(s.substr(0, eq)).empty()) return "missing key name before `" + std::string(1, s[eq]) + "`";
  out = std::string(s);
  return "";
}

// inih's reader: returns the next line, cleaned, in `str` (at most num - 1 characters).
char* read_line(char* str, int num, void* stream) noexcept {
  auto* p = static_cast<FileParse*>(stream);
  try {
    if (num < 1 || p->pos >= p->text.size()) return nullptr;
    size_t nl = p->text.find('\n', p->pos);
    size_t end = nl == std::string_view::npos ? p->text.size() : nl;
    std::string_view raw = p->text.substr(p->pos, end - p->pos);
    p->pos = nl == std::string_view::npos ? end : end + 1;
    ++p->line;
    std::string clean;
    std::string err = clean_line(*p, raw, clean);
    if (err.empty() && clean.size() > static_cast<size_t>(num - 1))
      err = "line too long (max " + std::to_string(num - 1) + " characters)";
    if (!err.empty()) {
      p->events.push_back(Event{Event::kError, p->line, "", "", "", std::move(err)});
      clean.clear();
    }
    std::memcpy(str, clean.data(), clean.size());
    str[clean.size()] = '\0';
    return str;
  } catch (...) {
    p->failed = true;
    return nullptr;
  }
}

// inih's handler: records the key (inih's `section` is ignored: ours is the untruncated one).
int on_key(void* user, const char* /*section*/, const char* name, const char* value) noexcept {
  auto* p = static_cast<FileParse*>(user);
  try {
    Event ev;
    ev.kind = std::strcmp(name, "include") == 0 ? Event::kInclude : Event::kItem;
    ev.line = p->line;
    ev.section = p->section;
    ev.key = name;
    ev.value = value;
    p->events.push_back(std::move(ev));
  } catch (...) {
    p->failed = true;
  }
  return 1;
}

// Which file a name is, to find include cycles: its device and inode (one stat, where
// realpath() costs a readlink per path component; hard links count as the same file too). A
// name that does not stat (the label of a parsed string) stands for itself.
std::string identity_of(const struct stat& st) {
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

std::string identity_of(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) return identity_of(st);
  return "name:" + absolute_path(path);
}

// What inih makes of one file's text: its events in order (a "syntax error" event added where
// inih stops on a line our cleaning found nothing wrong with), and how the parse ended.
struct Parsed {
  std::vector<Event> events;
  int result = 0;       // ini_parse_stream's: < 0 when it could not parse at all
  bool failed = false;  // a callback caught an exception (out of memory)
};

Parsed parse_events(std::string_view text) {
  FileParse p;
  p.text = text;
  int r = ini_parse_stream(read_line, &p, on_key, &p);
  if (!p.failed && r > 0 && std::none_of(p.events.begin(), p.events.end(),
                                         [&](const Event& e) { return e.kind == Event::kError && e.line == r; }))
    p.events.push_back(Event{Event::kError, r, "", "", "", "syntax error"});  // inih disagrees
  return Parsed{std::move(p.events), r, p.failed};
}

// The parses of included texts while an IncludeParseCache lives (ini_reader.hpp), keyed by the
// whole text, so an edit is never missed; a few entries at most (a host has a handful of shared
// includes). Without one (a monitor, which keeps what it allocates), every text is parsed.
//
// A file whose status had not changed for a while when it was read is also found by its status
// alone (`by_status`, a FileStamp), without reading it again. A change after the read gives a
// ctime later than the kept one, which was at least kSettled older than the read (the read
// itself may race a change that lands in the same timestamp tick; such a text is only kept by
// its text).
constexpr time_t kSettled = 2;  // seconds
constexpr size_t kMaxEntries = 16;  // of each kind

struct IncludeCache {
  std::mutex lock;
  bool active = false;
  std::vector<std::pair<std::string, std::shared_ptr<const Parsed>>> entries;
  std::vector<std::pair<FileStamp, std::shared_ptr<const Parsed>>> by_status;
};
IncludeCache& include_cache() {
  static IncludeCache cache;
  return cache;
}

std::shared_ptr<const Parsed> parsed_by_status(const struct stat& st) {
  auto& cache = include_cache();
  std::lock_guard<std::mutex> hold(cache.lock);
  if (!cache.active) return nullptr;
  FileStamp key = file_stamp(st);
  for (const auto& [k, parsed] : cache.by_status)
    if (k == key) return parsed;
  return nullptr;
}

// `before`: the file's status taken before `text` was read from it, `read_at` the time then.
void keep_by_status(const std::string& path, const struct stat& before, time_t read_at,
                    const std::shared_ptr<const Parsed>& parsed) {
  struct stat after;
  if (parsed->failed || before.st_ctim.tv_sec + kSettled > read_at) return;
  if (::stat(path.c_str(), &after) < 0 || !(file_stamp(after) == file_stamp(before))) return;
  auto& cache = include_cache();
  std::lock_guard<std::mutex> hold(cache.lock);
  if (!cache.active) return;
  if (cache.by_status.size() >= kMaxEntries) cache.by_status.erase(cache.by_status.begin());
  cache.by_status.emplace_back(file_stamp(before), parsed);
}

std::shared_ptr<const Parsed> parse_included(std::string_view text) {
  auto& cache = include_cache();
  std::lock_guard<std::mutex> hold(cache.lock);
  if (!cache.active) return std::make_shared<const Parsed>(parse_events(text));
  for (const auto& [t, parsed] : cache.entries)
    if (t == text) return parsed;
  auto parsed = std::make_shared<const Parsed>(parse_events(text));
  if (parsed->failed) return parsed;
  if (cache.entries.size() >= kMaxEntries) cache.entries.erase(cache.entries.begin());
  cache.entries.emplace_back(std::string(text), parsed);
  return parsed;
}

class Reader {
 public:
  IniDocument doc;

  void parse_text(std::string_view text, const std::string& file, const std::string& identity) {
    apply(parse_events(text), file, identity);
  }

 private:
  void apply(const Parsed& p, const std::string& file, const std::string& identity) {
    if (p.failed) add_error(file, 0, "internal error while parsing (out of memory?)");
    else if (p.result < 0) add_error(file, 0, "inih could not parse the file (error " + std::to_string(p.result) + ")");
    stack_.push_back({identity, file});
    for (const Event& ev : p.events) {
      if (ev.kind == Event::kError) add_error(file, ev.line, ev.message);
      else if (ev.kind == Event::kInclude) include(file, ev.line, ev.value);
      else doc.items.push_back(IniItem{file, ev.line, ev.section, ev.key, ev.value});
    }
    stack_.pop_back();
  }

  struct Open {
    std::string identity;
    std::string name;
  };
  std::vector<Open> stack_;  // files being read, outermost first

  void add_error(const std::string& file, int line, std::string message) {
    doc.errors.push_back(IniError{file, line, std::move(message), doc.items.size()});
  }

  void include(const std::string& from, int line, const std::string& value) {
    if (value.empty()) return add_error(from, line, "`include` needs a FILE or DIR");
    std::string path = value;
    if (value.front() != '/') {
      std::string dir = dirname_of(from);
      if (dir != "." || starts_with(from, "./")) path = (dir.back() == '/' ? dir : dir + "/") + value;
    }
    struct stat st;
    if (::stat(path.c_str(), &st) < 0)
      return add_error(from, line, "include `" + path + "`: " + std::strerror(errno));
    if (!S_ISDIR(st.st_mode)) return include_file(from, line, path, st);
    auto names = conf_files(path);
    if (!names) return add_error(from, line, "include `" + path + "`: " + names.error().message());
    for (const auto& [name, entry_st] : *names)
      include_file(from, line, (path.back() == '/' ? path : path + "/") + name, entry_st);
  }

  // The `*.conf` entries of `dir` (dot files, subdirectories and dangling links skipped),
  // sorted by name. A `*.conf` that is not a regular file (a FIFO, a device) is kept, so that
  // include_file() reports it instead of it being left out silently.
  static Result<std::vector<std::pair<std::string, struct stat>>> conf_files(const std::string& dir) {
    auto d = Dir::open(dir);
    if (!d) return Error::from_errno(d.error().code(), "open directory");
    std::vector<std::pair<std::string, struct stat>> names;
    for (const DirEntry& ent : *d) {
      std::string name(ent.name);
      if (name.empty() || name.front() == '.' || name.size() <= 5 || name.substr(name.size() - 5) != ".conf")
        continue;
      struct stat st;
      if (::stat((dir + "/" + name).c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) names.emplace_back(name, st);
    }
    if (d->error()) return Error::from_errno(d->error(), "read directory");
    std::sort(names.begin(), names.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    return names;
  }

  // `st`: the file's status, as include() found it.
  void include_file(const std::string& from, int line, const std::string& path, const struct stat& st) {
    std::string identity = identity_of(st);
    for (size_t i = 0; i < stack_.size(); ++i) {
      if (stack_[i].identity != identity) continue;
      std::string chain;
      for (size_t j = i; j < stack_.size(); ++j) chain += "`" + stack_[j].name + "` -> ";
      return add_error(from, line, "include cycle: " + chain + "`" + path + "`");
    }
    if (stack_.size() >= kMaxIncludeDepth)
      return add_error(from, line, "includes nested too deeply (max " + std::to_string(kMaxIncludeDepth) + ")");
    if (auto parsed = parsed_by_status(st)) return apply(*parsed, path, identity);
    time_t read_at = ::time(nullptr);
    auto text = read_config_text(path);
    if (!text) return add_error(from, line, "include: " + text.error().message());
    auto parsed = parse_included(*text);
    keep_by_status(path, st, read_at, parsed);
    apply(*parsed, path, identity);
  }
};

}  // namespace

IncludeParseCache::IncludeParseCache() {
  auto& cache = include_cache();
  std::lock_guard<std::mutex> hold(cache.lock);
  cache.active = true;
}

IncludeParseCache::~IncludeParseCache() {
  auto& cache = include_cache();
  std::lock_guard<std::mutex> hold(cache.lock);
  cache.active = false;
  cache.entries.clear();
  cache.by_status.clear();
}

Result<std::string> read_config_text(const std::string& path) { return read_regular_file(path, kMaxConfigFileSize); }

Result<IniDocument> read_ini_file(const std::string& path) {
  auto text = read_config_text(path);
  if (!text) return std::move(text).error();
  Reader reader;
  reader.parse_text(*text, path, identity_of(path));
  return std::move(reader.doc);
}

IniDocument read_ini_string(const std::string& text, const std::string& label) {
  Reader reader;
  reader.parse_text(text, label, identity_of(label));
  return std::move(reader.doc);
}

}  // namespace cove::config
