#include "images/export_config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <map>
#include <set>
#include <vector>

#include "base/strings.hpp"
#include "base/syscalls.hpp"
#include "base/unique_fd.hpp"
#include "config/edit.hpp"

namespace cove::images {

namespace {

std::string section_of(std::string_view line) {
  auto t = trim(line);
  if (t.size() < 2 || t.front() != '[' || t.back() != ']') return "";
  return std::string(trim(t.substr(1, t.size() - 2)));
}

bool is_key_line(std::string_view line) {
  auto t = trim(line);
  return !t.empty() && t.front() != '#' && t.front() != ';' && t.find_first_of("=:") != std::string_view::npos;
}

// The sections of `text` ("" for the lines before the first header), and whether each has a key.
std::map<std::string, bool> sections_of(const std::string& text) {
  std::map<std::string, bool> out{{"", false}};
  std::string current;
  for (const auto& line : split(text, '\n')) {
    if (auto s = section_of(line); !s.empty()) {
      current = s;
      out.try_emplace(current, false);
    } else if (is_key_line(line)) {
      out[current] = true;
    }
  }
  return out;
}

}  // namespace

std::string exported_config(const std::string& text) {
  std::string out = text;
  for (const auto& [section, has_keys] : sections_of(text)) {
    out = config::remove_key_in_text(out, section, "include");
    if (starts_with(section, "network.")) out = config::remove_key_in_text(out, section, "hwaddr");
  }
  for (const char* key : {"uid", "gid"}) out = config::remove_key_in_text(out, "idmap", key);
  for (const char* key : {"rootfs", "console.log", "log.file", "hostname", "ephemeral"}) out = config::remove_key_in_text(out, "container", key);
  out = config::remove_key_in_text(out, "rootfs", "lower");
  for (const auto& [section, has_keys] : sections_of(out))
    if (!section.empty() && !has_keys) out = config::remove_section_in_text(out, section);
  return out;
}

namespace {
std::string unquote(std::string_view v) {
  v = trim(v);
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) v = v.substr(1, v.size() - 2);
  return std::string(v);
}
}  // namespace

OsRelease parse_os_release(const std::string& text) {
  std::map<std::string, std::string> kv;
  for (const auto& line : split(text, '\n')) {
    auto eq = line.find('=');
    if (eq == std::string::npos || trim(line).empty() || trim(line).front() == '#') continue;
    kv[std::string(trim(line.substr(0, eq)))] = unquote(line.substr(eq + 1));
  }
  OsRelease r;
  r.id = kv["ID"];
  r.version = kv.count("VERSION_ID") ? kv["VERSION_ID"] : kv["VERSION_CODENAME"];
  // The values end up in metadata and on terminals: printable, and short.
  for (auto* v : {&r.id, &r.version}) *v = printable(v->substr(0, 64));
  return r;
}

Result<OsRelease> read_os_release(const std::string& rootfs) {
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Error::from_errno(errno, "open `" + rootfs + "`");
  for (const char* rel : {"etc/os-release", "usr/lib/os-release"}) {
    struct open_how how = {};
    how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    UniqueFd fd(sys::openat2(root.get(), rel, &how, sizeof how));
    struct stat st;
    if (!fd || ::fstat(fd.get(), &st) < 0 || !S_ISREG(st.st_mode)) continue;
    std::string text(64 * 1024, '\0');
    ssize_t n = ::read(fd.get(), text.data(), text.size());
    if (n < 0) return Error::from_errno(errno, std::string("read `") + rel + "` in `" + rootfs + "`");
    text.resize(static_cast<size_t>(n));
    return parse_os_release(text);
  }
  return OsRelease{};
}

std::string debian_arch(const std::string& machine) {
  static const std::map<std::string, std::string> kNames = {
      {"x86_64", "amd64"}, {"aarch64", "arm64"}, {"armv7l", "armhf"},   {"armv6l", "armel"},
      {"i686", "i386"},    {"i586", "i386"},     {"i386", "i386"},      {"ppc64le", "ppc64el"},
      {"s390x", "s390x"},  {"riscv64", "riscv64"}, {"loongarch64", "loong64"}};
  auto it = kNames.find(machine);
  return it == kNames.end() ? machine : it->second;
}

std::string host_arch() {
  struct utsname u;
  return ::uname(&u) == 0 ? debian_arch(u.machine) : "unknown";
}

}  // namespace cove::images
