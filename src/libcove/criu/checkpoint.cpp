#include "criu/checkpoint.hpp"

#include <fcntl.h>

#include "base/fs.hpp"
#include "base/log.hpp"
#include "criu/session.hpp"

namespace cove::criu {

namespace {
constexpr const char* kDumpLog = "dump.log";
constexpr int kLogLevel = 4;  // debug: the tail of the log is the best error CRIU gives
constexpr int kDumpTimeoutMs = 5 * 60 * 1000;  // a hung CRIU must not hang the monitor

// CRIU writes the freezer state it found into cgroup.img as the v1 `freezer.state` property of
// the freezer controller's head (cgroup_prop_entry {name = 1, value = 2}); a restore writes it
// back. The property is serialised as exactly these bytes; "THAWED" has the same length as
// "FROZEN", so no enclosing length changes. Absent on cgroup v2 (CRIU records no freezer state
// there).
Result<void> record_freezer_thawed(const std::string& images_dir) {
  static const std::string kFrozen("\x0a\x0d" "freezer.state" "\x12\x06" "FROZEN", 23);
  std::string path = images_dir + "/cgroup.img";
  auto bytes = read_file(path);
  if (!bytes) return std::move(bytes).error();
  bool changed = false;
  for (auto pos = bytes->find(kFrozen); pos != std::string::npos; pos = bytes->find(kFrozen, pos + kFrozen.size())) {
    bytes->replace(pos + kFrozen.size() - 6, 6, "THAWED");
    changed = true;
  }
  if (!changed) return {};
  return write_file_atomic(path, *bytes, 0644);
}
}  // namespace

Result<DumpResult> dump(DumpRequest req) {
  UniqueFd dir(::open(req.images_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return Error::from_errno(errno, "open image directory `" + req.images_dir + "`");
  auto session = open_session();
  if (!session) return std::move(session).error();
  if (req.before_dump) COVE_TRY(req.before_dump(session->info, req));

  auto r = make_request(rpc::DUMP);
  auto* o = r.mutable_opts();
  // CRIU opens it as /proc/<our pid>/fd/N (it learns our pid from SO_PEERCRED).
  o->set_images_dir_fd(dir.get());
  o->set_pid(req.pid);
  o->set_log_file(kDumpLog);
  o->set_log_level(kLogLevel);
  o->set_leave_running(req.leave_running);
  o->set_tcp_established(req.tcp_established);
  o->set_file_locks(req.file_locks);
  o->set_orphan_pts_master(req.orphan_pts_master);
  o->set_notify_scripts(true);
  // nftables: no iptables-restore exec per dump.
  o->set_network_lock(req.lock_network ? rpc::NFTABLES : rpc::SKIP);
  for (const auto& [mountpoint, key] : req.external_mounts) o->add_external("mnt[" + mountpoint + "]:" + key);
  if (!req.freeze_cgroup.empty()) o->set_freeze_cgroup(req.freeze_cgroup);
  if (!req.cgroup_yard.empty()) o->set_cgroup_yard(req.cgroup_yard);
  for (const auto& cg : req.cgroup_roots) {
    auto* root = o->add_cg_root();
    if (!cg.controller.empty()) root->set_ctrl(cg.controller);
    root->set_path(cg.path);
  }

  DumpResult out;
  out.criu = session->info;
  out.log_path = req.images_dir + "/" + kDumpLog;
  auto on_notify = [&req](Notify& n) -> Result<void> {
    if (n.script == "network-unlock" && req.before_network_unlock) return req.before_network_unlock();
    return {};
  };
  auto resp = session->client.call(r, on_notify, out.log_path, kDumpTimeoutMs);
  if (!resp && resp.error().code() == ETIMEDOUT) session->client.kill();  // through its pidfd
  session->client.finish();
  if (!resp) return std::move(resp).error();
  if (req.frozen_for_dump)
    if (auto r = record_freezer_thawed(req.images_dir); !r) return std::move(r).error().context("record the freezer state");
  if (auto s = read_dump_stats(req.images_dir)) out.stats = *s;
  else log::warn("checkpoint statistics: {}", s.error().message());
  return out;
}

}  // namespace cove::criu
