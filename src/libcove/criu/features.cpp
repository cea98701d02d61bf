#include "criu/features.hpp"

#include <fmt/format.h>

#include "criu/image_meta.hpp"
#include "criu/session.hpp"

namespace cove::criu {

bool available() { return true; }

Error unavailable_error() {
  return Error(ENOTSUP, "cove was built without the CRIU backend");  // not reached in this build
}

rpc::criu_req make_request(rpc::criu_req_type type) {
  rpc::criu_req req;
  req.set_type(type);
  req.mutable_opts()->set_images_dir_fd(-1);
  return req;
}

CriuInfo info_from_version(const rpc::criu_version& v) {
  CriuInfo info;
  info.version = fmt::format("{}.{}.{}", v.major_number(), v.minor_number(), v.sublevel());
  info.orphan_ttys = v.has_name() && v.name().find("+cove.orphan-ttys") != std::string::npos;
  return info;
}

Result<Session> open_session(const SpawnOptions& opts, Ask ask) {
  auto s = spawn_session(opts);
  if (!s) return std::move(s).error();
  COVE_TRY(handshake(*s, ask));
  return s;
}

Result<Session> spawn_session(const SpawnOptions& opts) {
  SpawnOptions o = opts;
  if (o.criu_path.empty()) o.criu_path = find_criu();
  auto client = Client::spawn(o);
  if (!client) return std::move(client).error();
  Session s{std::move(*client), {}};
  s.info.path = o.criu_path;
  return s;
}

Result<void> handshake(Session& s, Ask ask) {
  auto vreq = make_request(rpc::VERSION);
  vreq.set_keep_open(true);
  auto v = s.client.call(vreq, {}, "", 10000);
  if (!v) {
    if (v.error().code() == EPIPE)
      return Error(ENOENT, fmt::format("cannot run `{} swrk` (CRIU >= {} is needed: scripts/install-criu)",
                                       s.info.path, kMinVersion));
    return std::move(v).error();
  }
  const auto& ver = v->version();
  auto known = info_from_version(ver);
  s.info.version = known.version;
  s.info.orphan_ttys = known.orphan_ttys;
  if (compare_versions(s.info.version, kMinVersion) < 0)
    return Error(ENOTSUP, fmt::format("CRIU {} at `{}` is too old: cove needs >= {} (scripts/install-criu)",
                                      s.info.version, s.info.path, kMinVersion));
  if (ask == Ask::kVersion) return {};

  auto freq = make_request(rpc::FEATURE_CHECK);
  freq.set_keep_open(true);
  freq.mutable_features()->set_mem_track(true);
  freq.mutable_features()->set_lazy_pages(true);
  auto f = s.client.call(freq, {}, "", 10000);
  // FEATURE_CHECK answers success=false when a feature is missing; the answer still lists them.
  if (f && f->has_features()) {
    s.info.mem_track = f->features().mem_track();
    s.info.lazy_pages = f->features().lazy_pages();
  }
  return {};
}

Result<CriuInfo> probe() {
  auto s = open_session({}, Ask::kVersionAndFeatures);
  if (!s) return std::move(s).error();
  return s->info;
}

}  // namespace cove::criu
