// cove's own record in a checkpoint's image directory (`cove-image.json`, next to CRIU's
// images): which container was dumped, by which cove and CRIU, in which image format, and what
// a restore needs beyond CRIU's images (the pts index of the console and each tty, the id maps
// of the user namespace, the external mounts by key, pipes to processes outside).
// A restore reads it first and refuses images of another container or of a newer format with
// a clear error, before anything is created. Plain JSON; no CRIU needed (unit-tested).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "ns/idmap.hpp"
#include "criu/stats.hpp"

namespace cove::criu {

inline constexpr int kImageFormat = 1;             // bump on any incompatible change
inline constexpr const char* kMetaFile = "cove-image.json";
// runc's key for a network namespace outside the container (checkpoint.go).
inline constexpr const char* kExternalNetnsKey = "extRootNetNS";

// A bind mount whose source lies outside the container: CRIU dumps it as `mnt[MOUNTPOINT]:KEY`
// and restores it from `mnt[KEY]:SOURCE`.
struct ExternalMount {
  std::string key;
  std::string mountpoint;  // inside the container, e.g. /dev/null or /srv
  std::string source;      // host path at dump time
};

// A pipe shared with a process outside the container (e.g. cove-attach's caller).
struct ExternalPipe {
  uint64_t inode = 0;      // CRIU's key is "pipe:[INODE]"
  bool write_end = false;  // the end the container holds
};

struct ImageMeta {
  int format = kImageFormat;
  std::string cove_version;
  std::string criu_version;
  std::string container;   // name
  std::string lxcpath;
  std::string rootfs;      // at dump time
  std::string config_hash; // FNV-1a of the config text, informational
  bool privileged = false;
  std::vector<ns::IdMapEntry> uid_map, gid_map;
  int console_pts = -1;    // pts index of /dev/console in the container's devpts
  std::vector<int> tty_pts;  // pts index of /dev/tty1..N
  std::vector<ExternalMount> mounts;
  std::vector<ExternalPipe> pipes;
  // Network interfaces of the container's netns at the dump (/proc/PID/net/dev); empty in
  // records written before cove recorded them.
  std::vector<std::string> interfaces;
  // Set when the netns was not the container's own (an OCI container that joined one by path,
  // as CNI hands it): CRIU's key of it, `net[INODE]:KEY` at the dump. Its contents were not
  // dumped; a restore needs a netns passed under KEY (inherit_fd).
  std::string external_netns;
  bool stopped = false;    // dumped with --stop
  bool frozen = false;     // frozen by its user at the dump: restored FROZEN
  int64_t dumped_at_ms = 0;
  DumpStats stats;
};

std::string encode_meta(const ImageMeta& m);
Result<ImageMeta> decode_meta(const std::string& text);
Result<void> write_meta(const std::string& images_dir, const ImageMeta& m);
// Fails with a clear message when DIR is not a cove checkpoint.
Result<ImageMeta> read_meta(const std::string& images_dir);
// Refuses images of another container, of a newer image format, or made by a newer CRIU
// than `criu_version` (the one that will restore). An empty `container` accepts any name.
Result<void> check_restorable(const ImageMeta& m, const std::string& container, const std::string& criu_version);

// Whether the network of a container with these interfaces must be locked while CRIU has it:
// not when it has only a loopback (nothing outside can send to it, everything inside is
// frozen), and always when unknown (an empty list).
bool needs_network_lock(const std::vector<std::string>& interfaces);

// "4.2.1" >= "4.2" etc.; non-numeric parts compare as 0.
int compare_versions(const std::string& a, const std::string& b);
std::string hash_text(const std::string& text);

}  // namespace cove::criu
