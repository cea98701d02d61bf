// Unix stream sockets by path: a listener, a connect, and an accept with a deadline. Used by
// migration's page stream (the ssh forward of CRIU's lazy pages). Every fd is CLOEXEC.
#pragma once

#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace cove {

// Binds and listens on `path` (which must not exist).
Result<UniqueFd> listen_unix(const std::string& path);
Result<UniqueFd> connect_unix(const std::string& path);
// The next connection on `listener`, waiting at most `timeout_ms` (ETIMEDOUT).
Result<UniqueFd> accept_within(int listener, int timeout_ms);

}  // namespace cove
