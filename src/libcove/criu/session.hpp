// One CRIU session as checkpoint and restore use it: start `criu swrk`, ask VERSION on the same
// connection (keep_open), refuse a CRIU older than kMinVersion, then serve the one DUMP or
// RESTORE request. FEATURE_CHECK is asked only when the caller wants the features (`probe`):
// CRIU answers it from a forked child that runs its whole kernel probe (kerndat: several
// iptables execs, 30-50 ms where /run is not a tmpfs and CRIU cannot cache it), and a dump or
// restore does not depend on its answer. Internal to criu/.
#pragma once

#include "criu/features.hpp"
#include "criu/rpc_client.hpp"

namespace cove::criu {

struct Session {
  Client client;
  CriuInfo info;
};

enum class Ask { kVersion, kVersionAndFeatures };

Result<Session> open_session(const SpawnOptions& opts = {}, Ask ask = Ask::kVersion);
// The two halves of open_session: start `criu swrk` (returns at once, CRIU loads meanwhile), and
// ask VERSION (and FEATURE_CHECK) on it, which waits for CRIU to be up.
Result<Session> spawn_session(const SpawnOptions& opts = {});
Result<void> handshake(Session& s, Ask ask = Ask::kVersion);
// What a VERSION answer tells: "MAJOR.MINOR.SUBLEVEL" and whether the build carries cove's
// patch for several orphan pts masters (VERSION's `name` contains "+cove.orphan-ttys").
CriuInfo info_from_version(const rpc::criu_version& version);
// Fills the fields every request needs (images_dir_fd is proto2-required: -1 when unused).
rpc::criu_req make_request(rpc::criu_req_type type);

}  // namespace cove::criu
