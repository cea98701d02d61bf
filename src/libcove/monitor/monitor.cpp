#include "monitor/monitor.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <optional>

#include "base/clock.hpp"
#include "base/fd_passing.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/syscalls.hpp"
#include "base/wire_error.hpp"
#include "config/key_table.hpp"
#include "config/load.hpp"
#include "lifecycle/checkpoint.hpp"
#include "lifecycle/start_sequence.hpp"
#include "ns/idmap.hpp"
#include "monitor/command_server.hpp"
#include "monitor/protocol.hpp"
#include "paths.hpp"
#include "rootfs/host_access.hpp"
#include "state/container_lock.hpp"
#include "state/container_state.hpp"

namespace cove::monitor {

namespace {

int64_t now_ms() { return realtime_ms(); }

void send_reply(int fd, const std::string& text, const std::vector<int>& fds = {}) {
  CommandServer::reply(fd, text, fds);
}

// Joins other containers' namespaces (share.*) for the duration of the clone, then returns.
class SharedNamespaces {
 public:
  Result<void> enter(const config::ContainerConfig& cfg, const std::string& lxcpath) {
    for (const auto& [ns, other] : cfg.share_ns) {
      const char* name = config::namespace_name(ns);
      COVE_TRY(validate_name(other));
      ContainerPaths op(lxcpath, other);
      auto text = read_file(op.state_file());
      if (!text) return Error(ESRCH, "share " + std::string(name) + " with `" + other + "`: it is not running");
      auto st = decode_runtime_state_for(*text, op.dir());
      if (!st || !process_matches(st->init_pid, st->init_starttime))
        return Error(ESRCH, "share " + std::string(name) + " with `" + other + "`: it is not running");
      std::string self_path = std::string("/proc/self/ns/") + name;
      UniqueFd self(::open(self_path.c_str(), O_RDONLY | O_CLOEXEC));
      std::string target_path = "/proc/" + std::to_string(st->init_pid) + "/ns/" + name;
      UniqueFd target(::open(target_path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!self || !target) return Error::from_errno(errno, "open namespace of `" + other + "`");
      if (::setns(target.get(), 0) < 0) return Error::from_errno(errno, "join " + std::string(name) + " of `" + other + "`");
      saved_.push_back(std::move(self));
    }
    return {};
  }
  void leave() {
    for (auto& fd : saved_) (void)::setns(fd.get(), 0);
    saved_.clear();
  }
  ~SharedNamespaces() { leave(); }

 private:
  std::vector<UniqueFd> saved_;
};

class Monitor {
 public:
  Monitor(const MonitorOptions& opts, config::ContainerConfig cfg)
      : opts_(opts), paths_(opts.lxcpath, opts.name), cfg_(std::move(cfg)) {}

  Result<void> start();
  int loop();
  void report_start(const Result<void>& r);
  // What a restore reports with its start status (set by restore_init).
  std::optional<RestoreReply> restored_;
  // A stop has begun: the monitor leaves its cgroup (so that cleanup can remove it) from a
  // child, beside the stop (cgroup::ContainerCgroups::leave_monitor_in_background).
  void start_leaving_monitor_cgroup();
  void finish_leaving_monitor_cgroup();  // waits for that child
  void cleanup();

 private:
  Result<void> write_state(ContainerState s);
  Result<void> launch();
  Result<void> restore_init();
  Result<void> adopt_init(lifecycle::InitProcess init, ContainerState as = ContainerState::kRunning);
  void serve_commands();
  Result<void> on_state(int fd, const StateRequest& req);
  Result<void> on_stop(int fd, const StopRequest& req);
  Result<void> on_reboot(int fd, const RebootRequest& req);
  Result<void> on_console(int fd, const ConsoleRequest& req);
  Result<void> on_checkpoint(int fd, const CheckpointRequest& req);
  Result<void> on_cgroup_set(int fd, const CgroupSetRequest& req);
  void handle_signal();
  void on_init_exit(int status);
  Result<void> set_frozen(bool frozen);
  Result<void> set_cgroup_key(const std::string& key, const std::string& value);
  void begin_stop(int sig, unsigned timeout_s);
  void read_console();
  void arm_timer(unsigned seconds) {
    struct itimerspec its = {};
    its.it_value.tv_sec = seconds;
    its.it_value.tv_nsec = seconds ? 0 : 1;
    ::timerfd_settime(timer_fd_.get(), 0, &its, nullptr);
  }
  void proxy_stdin();
  void on_disconnect(int fd);

  MonitorOptions opts_;
  ContainerPaths paths_;
  config::ContainerConfig cfg_;
  std::optional<cgroup::ContainerCgroups> cgroups_;
  cgroup::Layout layout_;
  lifecycle::InitProcess init_;
  UniqueFd console_hold_;  // a slave fd kept open so the master never reads EIO/HUP
  UniqueFd console_log_;
  UniqueFd sigfd_, timer_fd_;
  CommandServer server_;
  UniqueFd monitor_lock_;  // PATH/NAME/.monitor.lock, held from start to cleanup
  ContainerState state_ = ContainerState::kStopped;
  std::vector<int> stop_waiters_;
  std::map<int, int> pty_sessions_;  // client fd -> tty index (0 = console) lent to it
  bool console_lent_ = false;
  bool reboot_requested_ = false;
  bool stop_requested_ = false;
  bool done_ = false;
  bool escalated_ = false;
  bool created_runtime_dir_ = false;
  bool left_monitor_cgroup_ = false;
  pid_t cgroup_mover_ = -1;
  int exit_status_ = 0;
  bool have_time_ns_ = path_exists("/proc/self/ns/time");
  int64_t started_at_ = now_ms();
};

// Transitions outside the table are bugs; the state file still says what is true.
Result<void> Monitor::write_state(ContainerState s) {
  if (s != state_ && !can_transition(state_, s))
    log::warn("state {} -> {} is not in the transition table", state_name(state_), state_name(s));
  state_ = s;
  RuntimeState rs;
  rs.state = s;
  rs.monitor_pid = ::getpid();
  rs.monitor_starttime = process_starttime(::getpid()).value_or(0);
  rs.init_pid = init_.pid;
  rs.init_starttime = init_.pid ? process_starttime(init_.pid).value_or(0) : 0;
  rs.container = paths_.dir();
  rs.privileged = cfg_.privileged;
  if (!cfg_.privileged) {
    for (const auto& e : cfg_.uid_map) rs.host_uids.emplace_back(e.host_id, e.count);
    for (const auto& e : cfg_.gid_map) rs.host_gids.emplace_back(e.host_id, e.count);
  }
  rs.started_at_ms = started_at_;
  if (cgroups_) {
    rs.payload_cgroups = cgroups_->payload_dirs();
    rs.monitor_cgroups = cgroups_->monitor_dirs();
  }
  return write_file_atomic(paths_.state_file(), encode_runtime_state(rs), 0600, Durability::kVolatile);
}

Result<void> Monitor::launch() {
  lifecycle::PlanOptions po;
  po.init_override = opts_.init_override;
  po.inherit_stdio = opts_.inherit_stdio;
  auto plan = lifecycle::make_launch_plan(cfg_, po, layout_, have_time_ns_);
  if (!plan) return std::move(plan).error();
  log::debug("launch plan: {}", lifecycle::describe(*plan));
  SharedNamespaces shared;
  COVE_TRY(shared.enter(cfg_, opts_.lxcpath));
  auto init = lifecycle::start_init(*plan, *cgroups_);
  shared.leave();
  if (!init) return std::move(init).error();
  return adopt_init(std::move(*init));
}

// The new init (started or restored) is ours: hold its console, record it (RUNNING, or FROZEN
// for a restored frozen container).
Result<void> Monitor::adopt_init(lifecycle::InitProcess init, ContainerState as) {
  init_ = std::move(init);
  int peer = ::ioctl(init_.console_master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (peer >= 0) console_hold_.reset(peer);
  ::fcntl(init_.console_master.get(), F_SETFL, O_NONBLOCK);
  started_at_ = now_ms();
  return write_state(as);
}

// Restore mode: CRIU (our swrk child, rst_sibling) brings init back as our child into the
// cgroups we just made; then the container is ours as after a start. A dump taken while the
// container was frozen is restored frozen (CRIU restores the freezer state).
Result<void> Monitor::restore_init() {
  if (!cfg_.privileged) {
    auto uid = ns::host_id_of(cfg_.uid_map, 0);
    auto gid = ns::host_id_of(cfg_.gid_map, 0);
    if (uid && gid)
      if (auto r = cgroups_->delegate(*uid, *gid); !r) return std::move(r).error().context("delegate cgroup");
  }
  lifecycle::RestoreTarget t;
  t.cfg = &cfg_;
  t.runtime_dir = paths_.runtime_dir();
  t.log_dir = paths_.dir();
  t.timeout_ms = opts_.restore_timeout_s * 1000;
  t.cgroups = &*cgroups_;
  t.layout = &layout_;
  auto r = lifecycle::restore_container(t, opts_.restore_images);
  if (!r) return std::move(r).error().context("restore");
  restored_ = RestoreReply{r->init.pid, r->criu_version, r->wall_ms, r->stats};
  bool frozen = r->frozen;
  return adopt_init(std::move(r->init), frozen ? ContainerState::kFrozen : ContainerState::kRunning);
}

// The dump runs here (not in cove-checkpoint) so that init's death after a dump with `stop` is
// an expected end: the container then ends STOPPED, cleaned up, before the reply.
// CHECKPOINTING is recorded for the dump's duration; the monitor serves nothing else meanwhile
// (one thread), and the tools refuse to change a CHECKPOINTING container (busy_error).
Result<void> Monitor::on_checkpoint(int fd, const CheckpointRequest& req) {
  if (init_.pid <= 0 || !can_checkpoint(state_)) return Error(EBUSY, std::string("container is ") + state_name(state_));
  ContainerState before = state_;
  if (auto w = write_state(ContainerState::kCheckpointing); !w)
    return std::move(w).error().context("record CHECKPOINTING");
  bool stop = req.stop;
  lifecycle::CheckpointTarget t;
  t.cfg = &cfg_;
  t.lxcpath = opts_.lxcpath;
  t.runtime_dir = paths_.runtime_dir();
  t.config_path = paths_.config();
  t.init_pid = init_.pid;
  t.cgroups = &*cgroups_;
  t.layout = &layout_;
  for (const auto& m : init_.tty_masters) t.tty_masters.push_back(m.get());
  lifecycle::CheckpointOptions o;
  o.images_dir = req.dir;
  o.stop = stop;
  if (stop) start_leaving_monitor_cgroup();
  auto r = lifecycle::checkpoint_container(t, o);
  if (!r || !stop) (void)write_state(before);  // a failed dump leaves the container as it was
  if (!r && left_monitor_cgroup_) {
    // The container goes on: so does the monitor, in its cgroup again.
    finish_leaving_monitor_cgroup();
    left_monitor_cgroup_ = false;
    if (auto j = cgroups_->attach_monitor(::getpid()); !j) log::warn("rejoin monitor cgroup: {}", j.error().message());
  }
  if (!r) return std::move(r).error();
  CheckpointReply reply{r->images_dir, r->criu_version, r->wall_ms, stop, r->stats};
  if (stop) {
    // CRIU killed the tree after the dump: reap init now and end as after a stop. Killed tasks
    // of a frozen (v1) cgroup die only once thawed.
    stop_requested_ = true;
    if (before == ContainerState::kFrozen)
      if (auto t2 = cgroups_->set_frozen(false); !t2) log::warn("thaw after checkpoint: {}", t2.error().message());
    int status = 0;
    while (::waitpid(init_.pid, &status, __WALL) < 0 && errno == EINTR) {
    }
    on_init_exit(status);
  }
  send_reply(fd, encode_reply(Result<CheckpointReply>(std::move(reply))));
  return {};
}

// The command table: one handler per request (monitor/protocol.hpp).
void Monitor::serve_commands() {
  server_.on<StateRequest>([this](int fd, const StateRequest& r) { return on_state(fd, r); });
  server_.on<StopRequest>([this](int fd, const StopRequest& r) { return on_stop(fd, r); });
  server_.on<RebootRequest>([this](int fd, const RebootRequest& r) { return on_reboot(fd, r); });
  server_.on<ConsoleRequest>([this](int fd, const ConsoleRequest& r) { return on_console(fd, r); });
  server_.on<CheckpointRequest>([this](int fd, const CheckpointRequest& r) { return on_checkpoint(fd, r); });
  server_.on<FreezeRequest>([this](int fd, const FreezeRequest&) -> Result<void> {
    COVE_TRY(set_frozen(true));
    send_reply(fd, encode_reply(Done{}));
    return {};
  });
  server_.on<ThawRequest>([this](int fd, const ThawRequest&) -> Result<void> {
    COVE_TRY(set_frozen(false));
    send_reply(fd, encode_reply(Done{}));
    return {};
  });
  server_.on<CgroupSetRequest>([this](int fd, const CgroupSetRequest& r) { return on_cgroup_set(fd, r); });
  server_.on_disconnect([this](int fd) { on_disconnect(fd); });
}

Result<void> Monitor::start() {
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) return Error::from_errno(errno, "become child subreaper");
  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT}) sigaddset(&mask, s);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  sigfd_.reset(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd_) return Error::from_errno(errno, "signalfd");
  timer_fd_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));

  // Held until the runtime dir is gone again (cleanup) or the monitor dies: the liveness
  // readers test, and the one claim on the container's directory (a second monitor for it,
  // started through another spelling of its path, stops here).
  auto lock = hold_monitor_lock(paths_.monitor_lock(), opts_.name);
  if (!lock) return std::move(lock).error();
  monitor_lock_ = std::move(*lock);
  COVE_TRY(mkdir_p(kRuntimeBase, 0755));
  if (::mkdir(paths_.runtime_dir().c_str(), 0700) < 0)
    return Error::from_errno(errno, "create runtime dir `" + paths_.runtime_dir() + "`");
  created_runtime_dir_ = true;
  // A restore is RESTORING from its first record to RUNNING/FROZEN (or gone, on failure).
  const ContainerState setting_up = opts_.restore_images.empty() ? ContainerState::kStarting : ContainerState::kRestoring;
  COVE_TRY(write_state(setting_up));
  if (!cfg_.console_log.empty()) {
    // The container's root owns its rootfs: a console log there is opened as the container
    // would resolve it, so a symlink it planted cannot point the monitor at a host file.
    auto fd = rootfs::open_host_append(cfg_.console_log, cfg_.rootfs);
    if (!fd) return std::move(fd).error().context("console log");
    console_log_ = std::move(*fd);
  }
  auto layout = cgroup::detect_layout();
  if (!layout) return std::move(layout).error().context("detect cgroups");
  layout_ = std::move(*layout);
  auto cgs = cgroup::ContainerCgroups::plan(layout_, paths_.key(), ::getpid());
  if (!cgs) return std::move(cgs).error().context("cgroups");
  cgroups_ = std::move(*cgs);
  COVE_TRY(write_state(setting_up));  // records the cgroup dirs before creating them
  if (auto r = cgroups_->create(); !r) return std::move(r).error().context("create cgroups");
  // The monitor leaves its starter's cgroup for its own before anything else (a session being
  // closed must not take the container's monitor with it, and CRIU and init are forked from
  // it). Measured: joining after the start or restore is reported (off the path) made the
  // restore ~10 ms slower, not faster (CRIU's tasks then joined the payload from the starter's
  // cgroup), so it stays here.
  if (auto r = cgroups_->attach_monitor(::getpid()); !r) return std::move(r).error().context("join monitor cgroup");
  // Limits go on before init joins the payload cgroup, so they hold from its first instruction.
  // On v2 this enables controllers in the parent, which the monitor has just left.
  if (auto r = cgroups_->apply(cfg_.cgroup.limits); !r) return std::move(r).error();
  // The socket exists before RUNNING is recorded; requests made meanwhile wait in its backlog.
  serve_commands();
  COVE_TRY(server_.listen(paths_.command_socket()));
  COVE_TRY(opts_.restore_images.empty() ? launch() : restore_init());
  return {};
}

void Monitor::report_start(const Result<void>& r) {
  if (opts_.status_fd >= 0) {
    std::string msg = encode_start_status(r ? StartStatus(restored_) : StartStatus(r.error()));
    ssize_t n = ::write(opts_.status_fd, msg.data(), msg.size());
    (void)n;
    ::close(opts_.status_fd);
    opts_.status_fd = -1;
  }
  if (opts_.lock_fd >= 0) {
    ::close(opts_.lock_fd);
    opts_.lock_fd = -1;
  }
}

void Monitor::start_leaving_monitor_cgroup() {
  if (left_monitor_cgroup_ || !cgroups_) return;
  left_monitor_cgroup_ = true;
  auto mover = cgroups_->leave_monitor_in_background();
  if (mover) cgroup_mover_ = *mover;
  else log::warn("{}", mover.error().message());  // cleanup's destroy() moves the monitor itself
}

void Monitor::finish_leaving_monitor_cgroup() {
  if (cgroup_mover_ <= 0) return;
  while (::waitpid(cgroup_mover_, nullptr, 0) < 0 && errno == EINTR) {
  }
  cgroup_mover_ = -1;
}

void Monitor::cleanup() {
  finish_leaving_monitor_cgroup();
  if (init_.pid > 0) {
    ::kill(init_.pid, SIGKILL);
    ::waitpid(init_.pid, nullptr, __WALL);
    init_.pid = 0;
  }
  if (cgroups_) {
    if (auto r = cgroups_->destroy(); !r) log::warn("remove cgroups: {}", r.error().message());
  }
  server_.stop_listening();
  if (created_runtime_dir_) {
    // Renamed away first, so a reader or a new start never sees a half-removed runtime dir.
    std::string dead = std::string(kRuntimeBase) + "/.dead-" + paths_.key() + "-" + std::to_string(::getpid());
    std::string victim = ::rename(paths_.runtime_dir().c_str(), dead.c_str()) == 0 ? dead : paths_.runtime_dir();
    if (auto r = remove_tree(victim); !r) log::warn("remove runtime dir: {}", r.error().message());
  }
  // Released before any stop waiter hears back, so that a start right after works.
  monitor_lock_.reset();
}

void Monitor::begin_stop(int sig, unsigned timeout_s) {
  if (init_.pid <= 0) return;
  // A frozen init would not see the signal (a v1-frozen task not even SIGKILL) until thawed.
  if (state_ == ContainerState::kFrozen)
    if (auto r = cgroups_->set_frozen(false); !r) log::warn("thaw before stop: {}", r.error().message());
  if (state_ != ContainerState::kStopping) (void)write_state(ContainerState::kStopping);
  start_leaving_monitor_cgroup();
  log::info("sending {} to init (pid {}), timeout {}s", sig, init_.pid, timeout_s);
  sys::pidfd_send_signal(init_.pidfd.get(), sig, nullptr, 0);
  if (sig != SIGKILL) arm_timer(timeout_s);
}

void Monitor::on_init_exit(int status) {
  log::info("init exited with status {:#x}", status);
  // reboot(2) inside a pid namespace ends init with SIGHUP; an application container's
  // command (cove-execute) killed by SIGHUP is just a command that ended.
  bool rebooted = !stop_requested_ && (reboot_requested_ || (!opts_.inherit_stdio && WIFSIGNALED(status) &&
                                                             WTERMSIG(status) == SIGHUP));
  init_.pid = 0;
  init_.pidfd.reset();
  init_.console_master.reset();
  init_.tty_masters.clear();
  console_hold_.reset();
  struct itimerspec off = {};
  ::timerfd_settime(timer_fd_.get(), 0, &off, nullptr);
  escalated_ = false;
  if (rebooted) {
    reboot_requested_ = false;
    (void)write_state(ContainerState::kStarting);
    // Whatever init left behind in the payload cgroup goes before the new init starts.
    for (pid_t p : cgroups_->payload_pids()) ::kill(p, SIGKILL);
    auto r = launch();
    auto waiters = std::exchange(stop_waiters_, {});
    for (int fd : waiters) send_reply(fd, r ? encode_reply(Done{}) : encode_error_reply(r.error()));
    for (int fd : waiters) server_.drop(fd);
    if (r) return;
    log::error("reboot failed: {}", r.error().message());
  }
  if (WIFEXITED(status)) exit_status_ = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    exit_status_ = (stop_requested_ || (WTERMSIG(status) == SIGINT && !opts_.inherit_stdio)) ? 0
                                                                                           : 128 + WTERMSIG(status);
  (void)write_state(ContainerState::kStopping);
  cleanup();
  for (int fd : stop_waiters_) send_reply(fd, encode_reply(Done{}));
  done_ = true;
}

void Monitor::handle_signal() {
  struct signalfd_siginfo si;
  while (::read(sigfd_.get(), &si, sizeof si) == sizeof si) {
    if (si.ssi_signo == SIGCHLD) {
      int status;
      pid_t p;
      while ((p = ::waitpid(-1, &status, WNOHANG | __WALL)) > 0) {
        if (p == cgroup_mover_) cgroup_mover_ = -1;
        if (p == init_.pid) on_init_exit(status);
      }
    } else if (!stop_requested_) {
      // SIGTERM/SIGINT/SIGHUP to the monitor: a clean stop.
      stop_requested_ = true;
      begin_stop(cfg_.halt_signal, cfg_.stop_timeout);
    }
  }
}

void Monitor::on_disconnect(int fd) {
  if (auto it = pty_sessions_.find(fd); it != pty_sessions_.end()) {
    if (it->second == 0) console_lent_ = false;
    pty_sessions_.erase(it);
  }
  std::erase(stop_waiters_, fd);
}

Result<void> Monitor::on_state(int fd, const StateRequest&) {
  send_reply(fd, encode_reply(StateReply{state_name(state_), init_.pid}));
  return {};
}

Result<void> Monitor::on_stop(int fd, const StopRequest& req) {
  if (init_.pid <= 0) return Error(ESRCH, "container is not running");
  stop_waiters_.push_back(fd);
  stop_requested_ = true;
  begin_stop(req.kill ? cfg_.stop_signal : cfg_.halt_signal, req.timeout_s.value_or(cfg_.stop_timeout));
  return {};
}

Result<void> Monitor::on_reboot(int fd, const RebootRequest& req) {
  if (init_.pid <= 0) return Error(ESRCH, "container is not running");
  stop_waiters_.push_back(fd);
  reboot_requested_ = true;
  begin_stop(cfg_.reboot_signal, req.timeout_s.value_or(cfg_.stop_timeout));
  return {};
}

Result<void> Monitor::on_console(int fd, const ConsoleRequest& req) {
  unsigned tty = req.tty;
  if (init_.pid <= 0) return Error(ESRCH, "container is not running");
  if (tty > init_.tty_masters.size())
    return Error(ENOENT, "no tty " + std::to_string(tty) + " (the container has " +
                             std::to_string(init_.tty_masters.size()) + ")");
  for (const auto& [cfd, t] : pty_sessions_)
    if (t == static_cast<int>(tty)) return Error(EBUSY, "tty " + std::to_string(tty) + " is in use by another client");
  int master = tty == 0 ? init_.console_master.get() : init_.tty_masters[tty - 1].get();
  pty_sessions_[fd] = static_cast<int>(tty);
  if (tty == 0) console_lent_ = true;
  send_reply(fd, encode_reply(ConsoleReply{}), {master});
  return {};
}

Result<void> Monitor::on_cgroup_set(int fd, const CgroupSetRequest& req) {
  COVE_TRY(set_cgroup_key(req.key, req.value));
  send_reply(fd, encode_reply(Done{}));
  return {};
}

// RUNNING <-> FROZEN only; the state is recorded once the kernel reports the cgroup settled.
Result<void> Monitor::set_frozen(bool frozen) {
  ContainerState from = frozen ? ContainerState::kRunning : ContainerState::kFrozen;
  ContainerState to = frozen ? ContainerState::kFrozen : ContainerState::kRunning;
  if (init_.pid <= 0 || state_ != from || !can_transition(from, to))
    return Error(EBUSY, std::string("container is ") + state_name(state_) + ", not " + state_name(from));
  if (auto r = cgroups_->set_frozen(frozen); !r) return std::move(r).error();
  return write_state(to);
}

// A live change: the value is parsed by the key's own parser into a copy of the config, and
// only the controller the key belongs to is written again; the copy replaces the config only
// once the kernel accepted it.
Result<void> Monitor::set_cgroup_key(const std::string& key, const std::string& value) {
  if (init_.pid <= 0) return Error(ESRCH, "container is not running");
  const config::KeySpec* spec = config::find_key("cgroup", key);
  if (!spec) return Error::invalid("unknown [cgroup] key `" + key + "` (see cove.conf(5))");
  config::ContainerConfig next = cfg_;
  if (spec->repeatable && value.empty()) {
    spec->clear(next);
  } else if (auto r = spec->parse(next, value, config::KeyContext{"cove-cgroup", 0, ""}); !r) {
    return Error::invalid("[cgroup] " + key + ": " + r.error().message() + " (allowed: " + std::string(spec->allowed) +
                          ")");
  }
  if (auto r = cgroups_->apply(next.cgroup.limits, {cgroup::controller_of_key(key)}); !r) return std::move(r).error();
  log::info("cgroup limit changed: {} = {}", key, value);
  cfg_ = std::move(next);
  return {};
}

void Monitor::read_console() {
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(init_.console_master.get(), buf, sizeof buf);
    if (n <= 0) return;
    if (console_log_) (void)!::write(console_log_.get(), buf, static_cast<size_t>(n));
    if (opts_.foreground && !opts_.inherit_stdio) (void)!::write(1, buf, static_cast<size_t>(n));
  }
}

void Monitor::proxy_stdin() {
  char buf[4096];
  ssize_t n = ::read(0, buf, sizeof buf);
  if (n > 0 && init_.console_master) (void)!::write(init_.console_master.get(), buf, static_cast<size_t>(n));
}

int Monitor::loop() {
  bool stdin_open = opts_.foreground && !opts_.inherit_stdio && ::isatty(0);
  struct termios saved;
  bool restore_tty = false;
  if (stdin_open && ::tcgetattr(0, &saved) == 0) {
    struct termios raw = saved;
    ::cfmakeraw(&raw);
    restore_tty = ::tcsetattr(0, TCSANOW, &raw) == 0;
  }
  while (!done_) {
    std::vector<struct pollfd> pfds;
    pfds.push_back({sigfd_.get(), POLLIN, 0});
    pfds.push_back({server_.listen_fd(), POLLIN, 0});
    pfds.push_back({timer_fd_.get(), POLLIN, 0});
    bool read_console_now = init_.console_master && !console_lent_;
    pfds.push_back({read_console_now ? init_.console_master.get() : -1, POLLIN, 0});
    pfds.push_back({stdin_open && init_.console_master ? 0 : -1, POLLIN, 0});
    size_t first_client = pfds.size();
    std::vector<int> client_fds = server_.client_fds();
    for (int fd : client_fds) pfds.push_back({fd, POLLIN, 0});
    if (::poll(pfds.data(), pfds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      log::error("poll: {}", std::strerror(errno));
      break;
    }
    if (pfds[0].revents) handle_signal();
    if (done_) break;
    if (pfds[1].revents) server_.accept_clients();
    if (pfds[2].revents) {
      uint64_t ticks;
      if (::read(timer_fd_.get(), &ticks, sizeof ticks) > 0 && init_.pid > 0) {
        // First the configured stop_signal; if that does not end init either, SIGKILL.
        int sig = escalated_ || cfg_.stop_signal == SIGKILL ? SIGKILL : cfg_.stop_signal;
        log::info("stop timed out; sending {} to init", sig);
        sys::pidfd_send_signal(init_.pidfd.get(), sig, nullptr, 0);
        if (sig != SIGKILL) {
          escalated_ = true;
          arm_timer(2);
        }
      }
    }
    if (pfds[3].revents && init_.console_master) read_console();
    if (pfds[4].revents) {
      if (pfds[4].revents & (POLLHUP | POLLERR)) stdin_open = false;
      else proxy_stdin();
    }
    for (size_t i = 0; i < client_fds.size(); ++i) {
      auto rev = pfds[first_client + i].revents;
      if (!rev || !server_.has_client(client_fds[i])) continue;
      if (rev & POLLIN) server_.serve(client_fds[i]);
      else if (rev & (POLLHUP | POLLERR)) server_.drop(client_fds[i]);
    }
  }
  if (restore_tty) ::tcsetattr(0, TCSANOW, &saved);
  server_.close();
  return exit_status_;
}

}  // namespace

int run_monitor(const MonitorOptions& opts) {
  if (auto r = validate_name(opts.name); !r) {
    std::fprintf(stderr, "cove-monitor: %s\n", r.error().message().c_str());
    return 2;
  }
  ContainerPaths paths(opts.lxcpath, opts.name);
  config::LoadOptions lo;
  lo.name = opts.name;
  lo.default_rootfs = paths.rootfs();
  auto cfg = config::load_config(paths.config(), lo);
  std::string log_file = !opts.log_file.empty() ? opts.log_file
                         : cfg && !cfg->log_file.empty() ? cfg->log_file
                                                        : paths.default_log();
  // Opened like the console log: a log file inside the rootfs cannot be redirected to a host file.
  if (auto fd = rootfs::open_host_append(log_file, cfg ? cfg->rootfs : paths.rootfs())) log::set_fd(std::move(*fd));
  auto level = log::parse_level(!opts.log_level.empty() ? opts.log_level : cfg ? cfg->log_level : "warn");
  log::set_level(level.value_or(log::Level::kWarn));
  log::set_prefix("cove-monitor " + opts.name);
  if (opts.status_fd >= 0) ::fcntl(opts.status_fd, F_SETFD, FD_CLOEXEC);
  if (opts.lock_fd >= 0) ::fcntl(opts.lock_fd, F_SETFD, FD_CLOEXEC);
  if (!cfg) {
    Monitor m(opts, config::ContainerConfig{});
    m.report_start(cfg.error());
    if (opts.foreground) std::fprintf(stderr, "cove-start: start `%s`: %s\n", opts.name.c_str(), cfg.error().message().c_str());
    return 1;
  }
  if (!opts.foreground) ::setsid();
  Monitor m(opts, std::move(*cfg));
  auto r = m.start();
  if (!r) {
    log::error("start failed: {}", r.error().message());
    m.cleanup();
    m.report_start(r);
    // In the foreground nobody reads a status pipe: the caller's terminal gets the error.
    if (opts.foreground) std::fprintf(stderr, "cove-start: start `%s`: %s\n", opts.name.c_str(), r.error().message().c_str());
    return 1;
  }
  log::info("running");
  m.report_start(r);
  // Setup used the heap far more than the loop will: give it back (monitor memory is per container).
  ::malloc_trim(0);
  return m.loop();
}

}  // namespace cove::monitor
