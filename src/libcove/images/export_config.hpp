// What an exported image carries of its container: the config file without what belongs to
// this host (id ranges, MAC addresses, paths on the host), and facts about the rootfs
// (distribution, release) and the host (architecture). Pure text in, text out, except
// read_os_release(), which reads inside a rootfs without leaving it.
#pragma once

#include <string>

#include "base/result.hpp"

namespace cove::images {

// `text` without: `include =` lines (the importing cove-create writes its own include of
// common.conf), [idmap] uid/gid, [network.*] hwaddr, [container] rootfs, console.log and
// log.file, [rootfs] lower; a section left with no key goes too.
std::string exported_config(const std::string& text);

struct OsRelease {
  std::string id, version;       // ID, VERSION_ID (else VERSION_CODENAME); "" when absent
};
OsRelease parse_os_release(const std::string& text);
// /etc/os-release (else /usr/lib/os-release) of the tree at `rootfs`, resolved as inside it
// (openat2 RESOLVE_IN_ROOT: a symlink cannot lead out). Empty fields when there is none.
Result<OsRelease> read_os_release(const std::string& rootfs);

// `uname -m` as Debian names it: x86_64 -> amd64, aarch64 -> arm64, ...
std::string debian_arch(const std::string& machine);
std::string host_arch();

}  // namespace cove::images
