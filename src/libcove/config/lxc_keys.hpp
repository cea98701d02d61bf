// LXC config keys in a cove config: what an LXC template (e.g. Debian's lxc-templates) appends
// to PATH/NAME/config. cove-create translates the lines it can map to cove's keys and comments
// out the others, naming each in a warning. Pure text in, text out; no kernel calls. Called by
// Container::create after a template ran.
#pragma once

#include <string>
#include <vector>

namespace cove::config {

struct LxcTranslation {
  std::string text;                   // the config with every `lxc.*` line replaced
  std::vector<std::string> warnings;  // one per key that was not translated
  int translated = 0;
};

// Each line `lxc.KEY = VALUE` becomes `[SECTION]` plus the cove key (hostname, rootfs, init,
// init.env, halt/reboot/stop_signal, ttys, [mount] entry), or a comment
// `# not translated by cove-create: lxc.KEY = VALUE`. Other lines are kept as they are; a
// `[container]` header is added after a translated key when a later line is not a section.
LxcTranslation translate_lxc_keys(const std::string& text);

}  // namespace cove::config
