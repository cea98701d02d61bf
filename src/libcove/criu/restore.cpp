#include "criu/restore.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cctype>
#include <cstring>

#include "base/clock.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "criu/image_meta.hpp"
#include "criu/session.hpp"

namespace cove::criu {

namespace {
constexpr int kLogLevel = 4;
// After its answer (or once told to stop) CRIU exits at once; one that lingers is killed.
constexpr int kExitGraceMs = 5000;

rpc::criu_req restore_request(const RestoreRequest& req, int images_fd, int work_fd) {
  auto r = make_request(rpc::RESTORE);
  auto* o = r.mutable_opts();
  o->set_images_dir_fd(images_fd);
  o->set_work_dir_fd(work_fd);
  o->set_log_file(kRestoreLog);
  o->set_log_level(kLogLevel);
  o->set_root(req.root);
  // The restored init becomes our child (CLONE_PARENT), not criu's: we stay its parent and reaper.
  o->set_rst_sibling(true);
  if (req.lazy_pages) o->set_lazy_pages(true);
  o->set_tcp_established(req.tcp_established);
  o->set_file_locks(req.file_locks);
  o->set_ext_unix_sk(req.ext_unix_sk);
  o->set_orphan_pts_master(true);
  o->set_notify_scripts(true);
  o->set_network_lock(req.lock_network ? rpc::NFTABLES : rpc::SKIP);
  // FULL: the properties recorded at dump (limits) are written into our pre-created cgroups too.
  o->set_manage_cgroups(true);
  if (!req.cgroup_yard.empty()) o->set_cgroup_yard(req.cgroup_yard);
  o->set_manage_cgroups_mode(req.restore_cgroup_properties ? rpc::FULL : rpc::SOFT);
  for (const auto& [key, path] : req.external_mounts) o->add_external("mnt[" + key + "]:" + path);
  for (const auto& e : req.externals) o->add_external(e);
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
  return r;
}

// CRIU makes its mount-namespace staging directory with mkdtemp("/tmp/.criu.mntns.XXXXXX")
// and removes it at the end of a restore, also a failed one, but not when it is killed. Its log
// names it; only that exact name is removed, and only when empty.
void remove_mount_roots(const std::string& log_path) {
  auto text = read_file(log_path);
  if (!text) return;
  const std::string prefix = "/tmp/.criu.mntns.";
  auto at = text->find(prefix);
  if (at == std::string::npos || text->size() - at < prefix.size() + 6) return;
  std::string dir = text->substr(at, prefix.size() + 6);
  for (size_t i = prefix.size(); i < dir.size(); ++i)
    if (!std::isalnum(static_cast<unsigned char>(dir[i]))) return;
  // EINVAL: not a mount point (CRIU got as far as unmounting it); ENOENT: already gone.
  if (::umount2(dir.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
    log::warn("unmount CRIU's `{}` after its restore was killed: {}", dir, std::strerror(errno));
  if (::rmdir(dir.c_str()) == 0) log::debug("removed CRIU's `{}`", dir);
}

// Removes `name` of the work dir, left by an earlier run. A failure is logged with the file's
// path (the restore goes on: that log line explains a stale file read later).
void remove_stale(int work_fd, const std::string& work_dir, const char* name) {
  if (::unlinkat(work_fd, name, 0) < 0 && errno != ENOENT)
    log::warn("remove the stale `{}/{}`: {}", work_dir, name, std::strerror(errno));
}

// VERSION, then RESTORE on a started session.
Result<rpc::criu_resp> run_restore(Session& session, RestoreRequest& req, int images_fd, int work_fd,
                                   RestoreResult& out) {
  if (req.while_criu_starts) COVE_TRY(req.while_criu_starts(req));
  COVE_TRY(handshake(session));
  out.criu = session.info;
  if (!req.images_criu_version.empty() && compare_versions(req.images_criu_version, session.info.version) > 0)
    return Error(ENOTSUP, "the checkpoint was made by CRIU " + req.images_criu_version + ", newer than CRIU " +
                              session.info.version + " here");
  pid_t root_pid = 0;
  auto on_notify = [&](Notify& n) -> Result<void> {
    log::debug("criu restore: notify `{}` pid {}", n.script, n.pid);
    if (n.script == "orphan-pts-master") {
      if (n.fds.empty()) return Error(EPROTO, "orphan-pts-master came without a pty master");
      for (auto& fd : n.fds) out.pts_masters.push_back(std::move(fd));
    }
    // `setup-namespaces` names the root task; `post-setup-namespaces` comes without a pid.
    if (n.script == "setup-namespaces") root_pid = n.pid;
    if (n.script == "post-setup-namespaces" && req.on_namespaces_ready) {
      if (root_pid <= 0) return Error(EPROTO, "post-setup-namespaces before setup-namespaces named the root task");
      return req.on_namespaces_ready(root_pid);
    }
    return {};
  };
  return session.client.call(restore_request(req, images_fd, work_fd), on_notify, out.log_path);
}

}  // namespace

Result<RestoreResult> restore(RestoreRequest req) {
  if (req.work_dir.empty()) return Error(EINVAL, "criu restore: no work directory");
  UniqueFd dir(::open(req.images_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return Error::from_errno(errno, "open image directory `" + req.images_dir + "`");
  UniqueFd work_fd(::open(req.work_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!work_fd) return Error::from_errno(errno, "open work directory `" + req.work_dir + "`");
  // A log of an earlier attempt must not be read as this one's.
  remove_stale(work_fd.get(), req.work_dir, kRestoreLog);
  remove_stale(work_fd.get(), req.work_dir, "stats-restore");

  SpawnOptions so;
  for (const auto& [key, fd] : req.inherit_fds) so.keep_fds.push_back(fd);
  auto session = spawn_session(so);
  if (!session) return std::move(session).error();
  int64_t deadline = req.timeout_ms > 0 ? monotonic_ms() + req.timeout_ms : 0;
  session->client.set_deadline(deadline);

  RestoreResult out;
  out.log_path = req.work_dir + "/" + kRestoreLog;
  auto resp = run_restore(*session, req, dir.get(), work_fd.get(), out);
  if (!resp && resp.error().code() == ETIMEDOUT) session->client.kill();
  session->client.finish(kExitGraceMs);
  if (session->client.was_killed()) remove_mount_roots(out.log_path);
  if (!resp && resp.error().code() == ETIMEDOUT && deadline && monotonic_ms() >= deadline)
    return Error(ETIMEDOUT, fmt::format("criu RESTORE did not finish within {} s (a larger container may need a "
                                        "longer cove-restore --timeout); CRIU was killed (see `{}`)",
                                        (req.timeout_ms + 999) / 1000, out.log_path));
  if (!resp) return std::move(resp).error();
  if (!resp->has_restore()) return Error(EPROTO, "criu RESTORE: the answer carries no pid");
  out.pid = resp->restore().pid();
  if (auto s = read_restore_stats(req.work_dir)) out.stats = *s;
  else log::warn("restore statistics: {}", s.error().message());
  remove_stale(work_fd.get(), req.work_dir, "stats-restore");
  return out;
}

}  // namespace cove::criu
