// One CRIU session as checkpoint and restore use it: start `criu swrk`, ask VERSION and
// FEATURE_CHECK on the same connection (keep_open), refuse a CRIU older than kMinVersion,
// then serve the one DUMP or RESTORE request. Internal to criu/.
#pragma once

#include "criu/features.hpp"
#include "criu/rpc_client.hpp"

namespace cove::criu {

struct Session {
  Client client;
  CriuInfo info;
};

Result<Session> open_session(const SpawnOptions& opts = {});
// Fills the fields every request needs (images_dir_fd is proto2-required: -1 when unused).
rpc::criu_req make_request(rpc::criu_req_type type);

}  // namespace cove::criu
