// The monitor's command protocol: one JSON request and one JSON reply per message on a
// SOCK_SEQPACKET unix socket at /run/cove/KEY/command (mode 0600, root only), with fds passed
// by SCM_RIGHTS where a reply carries one (a console master). Replies are
// {"ok": true, ...} or {"ok": false, "error": {"code": ERRNO, "context": [...]}} (base/wire_error.hpp).
// Requests: {"cmd":"state"}, {"cmd":"stop","timeout":S,"kill":B}, {"cmd":"reboot","timeout":S},
// {"cmd":"console","tty":N}, {"cmd":"freeze"}, {"cmd":"thaw"},
// {"cmd":"cgroup-set","key":K,"value":V} (a [cgroup] key, parsed like a config line).
// A stop reply comes only once the container is fully cleaned up.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace cove::monitor {

using Json = nlohmann::json;

struct Reply {
  Json body;
  std::vector<UniqueFd> fds;
};

Result<UniqueFd> connect_socket(const std::string& path);
// Sends `request` and waits up to `timeout_ms` (-1 = forever) for the reply.
Result<Reply> call(int fd, const Json& request, int timeout_ms);
// connect + call; the connection is returned too for requests whose session continues.
Result<Reply> request(const std::string& socket_path, const Json& req, int timeout_ms, UniqueFd* keep = nullptr);

Result<void> send_json(int fd, const Json& body, const std::vector<int>& fds = {});
Json ok_reply();
Json error_reply(const Error& e);

}  // namespace cove::monitor
