// The monitor's command protocol, defined once: one typed request per command, the reply each
// gets, and the only encoder and decoder of both. The transport is a SOCK_SEQPACKET unix socket
// at /run/cove/KEY/command (mode 0600, root only): one JSON message per request and per reply,
// with fds passed by SCM_RIGHTS where a reply carries one (a console master).
//   request: {"version": 1, "cmd": NAME, ...the command's fields}
//   reply:   {"version": 1, "ok": true, ...the reply's fields}
//         or {"version": 1, "ok": false, "error": {"code": ERRNO, "context": [...]}}
// The decoders never throw: a message that is not JSON, too large, cut short, of another
// version, naming an unknown command or field, or with a field of the wrong type is an EPROTO
// (E2BIG, EPROTONOSUPPORT) error saying which. See doc/design/protocol.md.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.hpp"
#include "criu/stats.hpp"
#include "monitor/nic_report.hpp"
#include "security/exec_restrictions.hpp"

namespace cove::monitor {

using Json = nlohmann::json;

// Raised when a message changes meaning (a field's type, a command's effect); a monitor
// refuses a request of another version rather than guess.
inline constexpr int kProtocolVersion = 1;
// The largest message either side sends or accepts.
inline constexpr size_t kMaxMessageBytes = 64 * 1024;

// Replies -------------------------------------------------------------------------------------

struct Done {};  // "ok", nothing more

struct StateReply {
  std::string state;  // state_name()
  pid_t init_pid = 0;
};

struct ConsoleReply {};  // the master comes with the reply (SCM_RIGHTS)

struct CheckpointReply {
  std::string images_dir;
  std::string criu_version;
  int64_t wall_ms = 0;
  bool stopped = false;
  criu::DumpStats stats;
};

struct NetStatusReply {
  std::vector<NicReport> nics;
};

// Not a reply to a request: what a restore reports on the start status (see StartStatus).
struct RestoreReply {
  pid_t init_pid = 0;
  std::string criu_version;
  int64_t wall_ms = 0;
  criu::RestoreStats stats;
};

// Requests ------------------------------------------------------------------------------------

struct StateRequest {
  using Reply = StateReply;
};
// Stops the container and answers once it is fully cleaned up. `kill`: the stop signal at once
// instead of the halt signal first. No timeout: the config's stop_timeout.
struct StopRequest {
  using Reply = Done;
  std::optional<uint32_t> timeout_s;
  bool kill = false;
};
// Ends init with the reboot signal and starts it again; answers once the new init runs.
struct RebootRequest {
  using Reply = Done;
  std::optional<uint32_t> timeout_s;
};
// Lends the master of tty `tty` (0: the console) for as long as the connection stays open.
struct ConsoleRequest {
  using Reply = ConsoleReply;
  uint32_t tty = 0;
};
struct CheckpointRequest {
  using Reply = CheckpointReply;
  std::string dir;
  bool stop = false;
  // Post-copy migration: the unix socket of the page stream. The reply comes once the images
  // are written; CRIU then serves the pages and the container stays CHECKPOINTING (frozen)
  // until it is done.
  std::string lazy_pages_socket;
  // Written first on the page stream, before CRIU gets it: the receiver's secret (64 hex
  // digits), which it checks before it trusts the stream.
  std::string lazy_pages_token;
};
struct FreezeRequest {
  using Reply = Done;
};
struct ThawRequest {
  using Reply = Done;
};
// A live change of one [cgroup] key, parsed like a config line.
struct CgroupSetRequest {
  using Reply = Done;
  std::string key;
  std::string value;
};

// A live change of one key of a running NIC ([network.NIC]): rate.ingress, rate.egress.
struct NetSetRequest {
  using Reply = Done;
  std::string nic;
  std::string key;
  std::string value;
};
// Hot plug: a new NIC `nic` made from `lines` ("key = value", as in a [network.NIC] section).
struct NetAttachRequest {
  using Reply = Done;
  std::string nic;
  std::vector<std::string> lines;
};
struct NetDetachRequest {
  using Reply = Done;
  std::string nic;
};
struct NetStatusRequest {
  using Reply = NetStatusReply;
};
// Holds the container for this connection: until the connection closes, every request that
// changes the container (all but the read-only ones below) is refused on any other connection
// with EBUSY naming `holder`. cove-migrate holds its source for the whole migration, so a
// cove-stop, cove-unfreeze or second migration from another shell cannot cut into it; a
// holder that dies drops its connection and with it the hold.
struct HoldRequest {
  using Reply = Done;
  std::string holder;  // who, for the refusal's text (at most kMaxHolderBytes)
};
inline constexpr size_t kMaxHolderBytes = 256;

using Request = std::variant<StateRequest, StopRequest, RebootRequest, ConsoleRequest, CheckpointRequest,
                             FreezeRequest, ThawRequest, CgroupSetRequest, NetSetRequest, NetAttachRequest,
                             NetDetachRequest, NetStatusRequest, HoldRequest>;

// True for the requests that leave the container as it is (state, console, net-status): a hold
// does not refuse them.
bool is_read_only(const Request& req);

// The position of `Req` in Request: the key of the command server's handler table.
template <typename Req, typename... Ts>
constexpr size_t index_in(const std::variant<Ts...>*) {
  constexpr bool same[] = {std::is_same_v<Req, Ts>...};
  for (size_t i = 0; i < sizeof...(Ts); ++i)
    if (same[i]) return i;
  return sizeof...(Ts);
}
template <typename Req>
inline constexpr size_t kRequestIndex = index_in<Req>(static_cast<const Request*>(nullptr));

// The command's name on the wire ("state", "stop", ..., "cgroup-set").
const char* command_name(const Request& req);

std::string encode_request(const Request& req);
Result<Request> decode_request(std::string_view text);

// A reply: encode_reply(Result) for any of the reply types; decode_reply<R> checks the envelope
// (version, ok), turns a failure into the sender's Error and decodes R's fields.
std::string encode_reply(const Result<Done>& r);
std::string encode_reply(const Result<StateReply>& r);
std::string encode_reply(const Result<ConsoleReply>& r);
std::string encode_reply(const Result<CheckpointReply>& r);
std::string encode_reply(const Result<RestoreReply>& r);
std::string encode_reply(const Result<NetStatusReply>& r);
std::string encode_error_reply(const Error& e);

template <typename R>
Result<R> decode_reply(std::string_view text);

// The start status a monitor writes once on its status pipe: a reply with nothing (start) or
// a RestoreReply (restore) on success, the start's error otherwise.
using StartStatus = Result<std::optional<RestoreReply>>;
std::string encode_start_status(const StartStatus& s);
StartStatus decode_start_status(std::string_view text);

// What cove-start tells the monitor it spawned, on the monitor's starter socket, in this
// order (monitor/launch.hpp, DetachedStart):
//   {"version": 1, "go": true}: its own checks passed; the monitor may start (reads the config).
//   CgroupsMade: the cgroups it made for it while the monitor started up, as it planned them
//   (ContainerCgroups::plan from its own cgroup):
//   {"version": 1, "payload_dirs": [...], "monitor_dirs": [...]}.
//   ExecMade (a plain start, not a restore): init's restrictions, which cove-start computed
//   from the config it checked (its seccomp policy compiled) while the monitor made its
//   runtime dir and recorded its state: {"version": 1, "exec_record": "<exec record>"}, the
//   record as lifecycle/exec_record.hpp writes it (with no environment), or without
//   `exec_record` when cove-start has none for it (the monitor then computes them itself).
// Closing the socket instead of any of them means: stop here (before `go`), none made (after).
std::string encode_go();
Result<void> decode_go(std::string_view text);
struct CgroupsMade {
  std::vector<std::string> payload_dirs, monitor_dirs;
};
std::string encode_cgroups_made(const CgroupsMade& m);
Result<CgroupsMade> decode_cgroups_made(std::string_view text);
struct ExecMade {
  std::optional<security::ExecRestrictions> restrictions;
};
std::string encode_exec_made(const ExecMade& m);
Result<ExecMade> decode_exec_made(std::string_view text);

}  // namespace cove::monitor
