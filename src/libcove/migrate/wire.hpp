// The migration's control protocol between `cove-migrate` (the source) and
// `cove migrate --receive` (the destination, run through ssh): one typed message per line of
// JSON on the receiver's stdin and stdout, `{"version": 1, "msg": NAME, ...fields}`. Files
// never travel here: the rootfs and the images go by rsync over the same ssh connection.
//   source                          destination
//   offer        ->                          checks, makes PATH/NAME and an images dir
//                <-   accepted | refused
//   (rsync rootfs and config; the final rsync's channel opened, its server waiting on go_fifo)
//   final-sync   ->                          opens go_fifo: the final rsync runs
//   restore      ->                          cove-restore --thaw of the images
//                <-   running | failed
//   commit       ->                          the container is the destination's now
//                <-   committed
//                <-   pages | failed             post-copy: every page arrived (or the container
//                                                is lost: the transfer failed after it ran here)
// A receiver whose stdin ends before `commit` removes everything it made (doc/design/migration.md).
// The decoder never throws: a line that is not JSON, of another version, naming an unknown
// message or with a field of the wrong type is an EPROTO error saying which.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.hpp"
#include "base/wire_error.hpp"

namespace cove::migrate {

inline constexpr int kWireVersion = 1;
inline constexpr size_t kMaxLineBytes = 1024 * 1024;

struct IdRange {
  uint64_t first = 0, count = 0;
  bool operator==(const IdRange&) const = default;
};

// An overlay container's lower layer that is an image of the source's store (images/image_store.hpp):
// its path there and its content hash. The destination uses its own copy of the same image.
struct LowerImage {
  std::string path;  // PATH/.images/sha256/HASH/rootfs on the source
  std::string hash;  // 64 hex digits
  bool operator==(const LowerImage&) const = default;
};

// What the source asks of the destination: everything the destination checks before anything moves.
struct Offer {
  std::string name;
  std::string source;              // the source's PATH/NAME (host_ids.hpp: two hosts on one machine)
  std::string cove_version, criu_version;
  std::string backend;             // storage backend: "dir", "loop", ...
  bool shared_storage = false;     // the rootfs is already there (same path on both hosts)
  // backend "overlay" without shared storage: its lowers, each an image the destination must
  // hold; only the upper layer travels.
  std::vector<LowerImage> lower_images;
  std::vector<IdRange> uids, gids; // host ids of an unprivileged container (empty: privileged)
  std::vector<std::string> links;  // the NICs' links (managed networks or host bridges)
  uint64_t rootfs_bytes = 0, memory_bytes = 0;
  std::vector<std::string> cpu_flags;
  // "stop-and-copy" or "post-copy" (the memory follows the restore through `criu lazy-pages`).
  std::string mode = "stop-and-copy";
  // Post-copy's page stream: "ssh" (a unix socket forwarded by the ssh master) or
  // "page-server" (direct TCP from the source to the receiver's listener).
  std::string transport = "ssh";
  bool operator==(const Offer&) const = default;
};
struct Accepted {
  std::string container_dir;  // PATH/NAME on the destination: the rsync target
  std::string images_dir;     // where the images go (inside container_dir)
  // A fifo the final sync's remote rsync waits on before it starts: the source opens that ssh
  // channel before the freeze, and says `final-sync` once the images are written.
  std::string go_fifo;
  // Post-copy: a unix socket the receiver listens on for the page stream (the source forwards
  // a socket of its own to it over the ssh master); empty otherwise.
  std::string pages_socket;
  // Post-copy over `page-server`: where the receiver listens (its address on the ssh
  // connection, a port the kernel chose); it takes only a connection from the source's address.
  std::string pages_address;
  uint32_t pages_port = 0;
  // Post-copy: 64 hex digits the page stream must begin with; a connection that does not is
  // closed unread (another process on the source host may race the source's CRIU to the port).
  std::string pages_token;
  bool operator==(const Accepted&) const = default;
};
struct FinalSync {
  bool operator==(const FinalSync&) const = default;
};
struct Refused {
  WireError error;
};
struct RestoreRequest {
  bool operator==(const RestoreRequest&) const = default;
};
struct Running {
  int64_t restore_ms = 0;  // cove-restore on the destination, as it measured it
  bool operator==(const Running&) const = default;
};
struct Failed {
  WireError error;
};
struct Commit {
  bool operator==(const Commit&) const = default;
};
struct Committed {
  bool operator==(const Committed&) const = default;
};
// Post-copy: the lazy-pages daemon got every page; the source's frozen copy may go.
struct Pages {
  int64_t ms = 0;  // from RUNNING to the last page, as the destination measured it
  bool operator==(const Pages&) const = default;
};

using Message =
    std::variant<Offer, Accepted, Refused, FinalSync, RestoreRequest, Running, Failed, Commit, Committed, Pages>;

// "offer", "accepted", ...
const char* message_name(const Message& m);
// One line, newline included.
std::string encode(const Message& m);
// One line (without its newline).
Result<Message> decode(std::string_view line);

}  // namespace cove::migrate
