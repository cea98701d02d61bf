#include "criu/checkpoint.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/fs.hpp"
#include "base/log.hpp"
#include "criu/session.hpp"

namespace cove::criu {

namespace {
constexpr const char* kDumpLog = "dump.log";
constexpr int kLogLevel = 4;  // debug: the tail of the log is the best error CRIU gives
constexpr int kDumpTimeoutMs = 5 * 60 * 1000;  // a hung CRIU must not hang the monitor
constexpr int kExitGraceMs = 5000;

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
// CRIU's RPC takes no page-server socket for a lazy dump (`ps.fd` is read only without
// lazy_pages), but its `ps-socket` option works there too: it is given through an RPC config
// file, a memfd that the swrk child opens as /proc/self/fd/N (the fd number is the same there).
Result<UniqueFd> lazy_config(int socket) {
  UniqueFd fd(::memfd_create("cove-criu-lazy.conf", MFD_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "memfd_create");
  std::string text = "ps-socket " + std::to_string(socket) + "\n";
  if (::write(fd.get(), text.data(), text.size()) != ssize_t(text.size())) return Error::from_errno(errno, "write the lazy pages config");
  return fd;
}
}  // namespace

namespace {
// The caller's hook at CRIU's `network-unlock` NOTIFY (none: no handler).
NotifyHandler network_unlock_handler(std::function<Result<void>()> hook) {
  if (!hook) return {};
  return [hook = std::move(hook)](Notify& n) -> Result<void> {
    if (n.script == "network-unlock") return hook();
    return {};
  };
}
}  // namespace

LazyDump::LazyDump(std::unique_ptr<Session> s, std::string log_path, std::function<Result<void>()> on_network_unlock)
    : session_(std::move(s)), log_path_(std::move(log_path)), on_network_unlock_(std::move(on_network_unlock)) {}
LazyDump::~LazyDump() {
  if (session_) {
    session_->client.kill();
    session_->client.finish();
  }
}
int LazyDump::fd() const { return session_ ? session_->client.fd() : -1; }
pid_t LazyDump::criu_pid() const { return session_ ? session_->client.pid() : 0; }

Result<void> LazyDump::finish() {
  if (!session_) return Error(EBADF, "no lazy dump");
  auto resp = session_->client.resume(rpc::DUMP, network_unlock_handler(on_network_unlock_), log_path_, -1);
  session_->client.finish(kExitGraceMs);
  session_.reset();
  if (!resp) return std::move(resp).error().context("serve the lazy pages");
  return {};
}

namespace {
// Up to `status-ready`: the images are written, CRIU serves the pages from now on.
Result<DumpResult> dump_lazily(Session session, const rpc::criu_req& r, DumpResult out,
                               std::function<Result<void>()> on_network_unlock) {
  auto resp = session.client.call_until(r, "status-ready", network_unlock_handler(on_network_unlock), out.log_path,
                                        kDumpTimeoutMs);
  if (!resp && resp.error().code() == ETIMEDOUT) session.client.kill();
  if (!resp) {
    session.client.finish();
    return std::move(resp).error();
  }
  if (*resp) {
    session.client.finish();
    return Error(EPROTO, "criu DUMP: answered before serving the lazy pages");
  }
  out.lazy = std::make_unique<LazyDump>(std::make_unique<Session>(std::move(session)), out.log_path,
                                        std::move(on_network_unlock));
  return out;
}
}  // namespace

Result<DumpResult> dump(DumpRequest req) {
  UniqueFd dir(::open(req.images_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return Error::from_errno(errno, "open image directory `" + req.images_dir + "`");
  SpawnOptions so;
  UniqueFd conf;
  if (req.lazy_pages_socket >= 0) {
    auto c = lazy_config(req.lazy_pages_socket);
    if (!c) return std::move(c).error();
    conf = std::move(*c);
    so.keep_fds = {req.lazy_pages_socket, conf.get()};
  }
  auto session = open_session(so);
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
  o->set_ext_unix_sk(req.ext_unix_sk);
  o->set_orphan_pts_master(req.orphan_pts_master);
  o->set_notify_scripts(true);
  // nftables: no iptables-restore exec per dump.
  o->set_network_lock(req.lock_network ? rpc::NFTABLES : rpc::SKIP);
  for (const auto& [mountpoint, key] : req.external_mounts) o->add_external("mnt[" + mountpoint + "]:" + key);
  for (const auto& e : req.externals) o->add_external(e);
  if (!req.freeze_cgroup.empty()) o->set_freeze_cgroup(req.freeze_cgroup);
  // CRIU keeps them in a list it adds to at the head: sent last to first, searched first to last.
  for (auto p = req.irmap_scan_paths.rbegin(); p != req.irmap_scan_paths.rend(); ++p) o->add_irmap_scan_paths(*p);
  if (!req.cgroup_yard.empty()) o->set_cgroup_yard(req.cgroup_yard);
  for (const auto& cg : req.cgroup_roots) {
    auto* root = o->add_cg_root();
    if (!cg.controller.empty()) root->set_ctrl(cg.controller);
    root->set_path(cg.path);
  }

  if (conf) {
    o->set_lazy_pages(true);
    r.mutable_opts()->set_config_file("/proc/self/fd/" + std::to_string(conf.get()));
  }

  DumpResult out;
  out.criu = session->info;
  out.log_path = req.images_dir + "/" + kDumpLog;
  NotifyHandler on_notify = network_unlock_handler(req.before_network_unlock);
  if (conf) return dump_lazily(std::move(*session), r, std::move(out), req.before_network_unlock);
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
