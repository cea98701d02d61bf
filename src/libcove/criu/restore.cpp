#include "criu/restore.hpp"

#include <fcntl.h>
#include <signal.h>

#include "base/log.hpp"
#include "criu/image_meta.hpp"
#include "criu/session.hpp"

namespace cove::criu {

namespace {
constexpr const char* kRestoreLog = "restore.log";
constexpr int kLogLevel = 4;
}  // namespace

Result<RestoreResult> restore(RestoreRequest req) {
  UniqueFd dir(::open(req.images_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return Error::from_errno(errno, "open image directory `" + req.images_dir + "`");
  std::string work = req.work_dir.empty() ? req.images_dir : req.work_dir;
  UniqueFd work_fd(::open(work.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!work_fd) return Error::from_errno(errno, "open work directory `" + work + "`");

  SpawnOptions so;
  for (const auto& [key, fd] : req.inherit_fds) so.keep_fds.push_back(fd);
  auto session = spawn_session(so);
  if (!session) return std::move(session).error();
  if (req.while_criu_starts) COVE_TRY(req.while_criu_starts(req));
  COVE_TRY(handshake(*session));
  if (!req.images_criu_version.empty() && compare_versions(req.images_criu_version, session->info.version) > 0)
    return Error(ENOTSUP, "the checkpoint was made by CRIU " + req.images_criu_version + ", newer than CRIU " +
                              session->info.version + " here");

  auto r = make_request(rpc::RESTORE);
  auto* o = r.mutable_opts();
  o->set_images_dir_fd(dir.get());
  o->set_work_dir_fd(work_fd.get());
  o->set_log_file(kRestoreLog);
  o->set_log_level(kLogLevel);
  o->set_root(req.root);
  // The restored init becomes our child (CLONE_PARENT), not criu's: we stay its parent and reaper.
  o->set_rst_sibling(true);
  o->set_tcp_established(req.tcp_established);
  o->set_file_locks(req.file_locks);
  o->set_orphan_pts_master(true);
  o->set_notify_scripts(true);
  o->set_network_lock(req.lock_network ? rpc::NFTABLES : rpc::SKIP);
  // FULL: the properties recorded at dump (limits) are written into our pre-created cgroups too.
  o->set_manage_cgroups(true);
  if (!req.cgroup_yard.empty()) o->set_cgroup_yard(req.cgroup_yard);
  o->set_manage_cgroups_mode(req.restore_cgroup_properties ? rpc::FULL : rpc::SOFT);
  for (const auto& [key, path] : req.external_mounts) o->add_external("mnt[" + key + "]:" + path);
  for (const auto& [key, fd] : req.inherit_fds) {
    auto* in = o->add_inherit_fd();
    in->set_key(key);
    in->set_fd(fd);
  }
  for (const auto& cg : req.cgroup_roots) {
    auto* root = o->add_cg_root();
    if (!cg.controller.empty()) root->set_ctrl(cg.controller);
    root->set_path(cg.path);
  }

  RestoreResult out;
  out.criu = session->info;
  out.log_path = work + "/" + kRestoreLog;
  auto on_notify = [&](Notify& n) -> Result<void> {
    log::debug("criu restore: notify `{}` pid {}", n.script, n.pid);
    if (n.script == "orphan-pts-master") {
      if (n.fds.empty()) return Error(EPROTO, "orphan-pts-master came without a pty master");
      for (auto& fd : n.fds) out.pts_masters.push_back(std::move(fd));
    }
    return {};
  };
  auto resp = session->client.call(r, on_notify, out.log_path, 5 * 60 * 1000);
  if (!resp && resp.error().code() == ETIMEDOUT) ::kill(session->client.pid(), SIGKILL);
  session->client.finish();
  if (!resp) return std::move(resp).error();
  if (!resp->has_restore()) return Error(EPROTO, "criu RESTORE: the answer carries no pid");
  out.pid = resp->restore().pid();
  if (auto s = read_restore_stats(work)) out.stats = *s;
  else if (auto s2 = read_restore_stats(req.images_dir)) out.stats = *s2;
  else log::warn("restore statistics: {}", s.error().message());
  return out;
}

}  // namespace cove::criu
