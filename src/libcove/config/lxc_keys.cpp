#include "config/lxc_keys.hpp"

#include <map>
#include <sstream>

namespace cove::config {
namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::string unquote(const std::string& v) {
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
    return v.substr(1, v.size() - 2);
  return v;
}

struct Mapping {
  const char* section;
  const char* key;
};

// LXC 3+ names (and the few 2.x names templates still write) → cove's section and key.
const std::map<std::string, Mapping> kMap = {
    {"lxc.uts.name", {"container", "hostname"}},
    {"lxc.utsname", {"container", "hostname"}},
    {"lxc.rootfs.path", {"container", "rootfs"}},
    {"lxc.rootfs", {"container", "rootfs"}},
    {"lxc.init.cmd", {"container", "init"}},
    {"lxc.init_cmd", {"container", "init"}},
    {"lxc.init.cwd", {"container", "init.cwd"}},
    {"lxc.environment", {"container", "init.env"}},
    {"lxc.signal.halt", {"container", "halt_signal"}},
    {"lxc.haltsignal", {"container", "halt_signal"}},
    {"lxc.signal.reboot", {"container", "reboot_signal"}},
    {"lxc.rebootsignal", {"container", "reboot_signal"}},
    {"lxc.signal.stop", {"container", "stop_signal"}},
    {"lxc.stopsignal", {"container", "stop_signal"}},
    {"lxc.tty.max", {"container", "ttys"}},
    {"lxc.tty", {"container", "ttys"}},
    {"lxc.mount.entry", {"mount", "entry"}},
    {"lxc.start.auto", {"boot", "autostart"}},
    {"lxc.start.order", {"boot", "order"}},
    {"lxc.start.delay", {"boot", "delay"}},
};

}  // namespace

LxcTranslation translate_lxc_keys(const std::string& text) {
  LxcTranslation out;
  std::istringstream in(text);
  std::string line;
  std::string section;          // the section the text itself is in
  bool in_translated = false;   // our own header is in force since a translated key
  while (std::getline(in, line)) {
    std::string t = trim(line);
    if (t.rfind("lxc.", 0) != 0) {
      bool is_key = !t.empty() && t[0] != '#' && t[0] != ';' && t[0] != '[';
      if (!t.empty() && t[0] == '[') {
        section = t.substr(1, t.find(']') - 1);
        in_translated = false;
      }
      // A plain key after our header would land in our section: restore the text's own.
      if (in_translated && is_key) {
        if (!section.empty()) out.text += "[" + section + "]\n";
        in_translated = false;
      }
      out.text += line + "\n";
      continue;
    }
    size_t eq = t.find('=');
    std::string key = trim(t.substr(0, eq));
    std::string value = eq == std::string::npos ? "" : unquote(trim(t.substr(eq + 1)));
    auto it = kMap.find(key);
    if (it == kMap.end() || value.empty()) {
      out.text += "# not translated by cove-create: " + t + "\n";
      out.warnings.push_back("LXC key `" + key + "` has no cove equivalent; commented out in the config");
      continue;
    }
    if (it->second.key == std::string("rootfs")) {
      // "dir:/path" is LXC's directory backend; other backends (btrfs:, lvm:, ...) are not cove's.
      if (value.rfind("dir:", 0) == 0) value = value.substr(4);
      if (value.find(':') != std::string::npos && value[0] != '/') {
        out.text += "# not translated by cove-create: " + t + "\n";
        out.warnings.push_back("LXC rootfs `" + value + "` is not a directory; commented out in the config");
        continue;
      }
    }
    out.text += "# from " + key + ":\n[" + std::string(it->second.section) + "]\n" + it->second.key + " = " + value + "\n";
    in_translated = true;
    ++out.translated;
  }
  if (!text.empty() && text.back() != '\n' && !out.text.empty()) out.text.pop_back();
  return out;
}

}  // namespace cove::config
