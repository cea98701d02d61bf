#include "monitor/supervisor.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "base/clock.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/memory.hpp"
#include "base/signals.hpp"
#include "base/strings.hpp"
#include "base/syscalls.hpp"
#include "host_config.hpp"
#include "host_ids.hpp"
#include "lifecycle/exec_record.hpp"
#include "lifecycle/lxcfs.hpp"
#include "lifecycle/rootfs_disk.hpp"
#include "monitor/launch.hpp"
#include "ns/idmap.hpp"
#include "rootfs/host_access.hpp"
#include "state/container_lock.hpp"

namespace cove::monitor {

namespace {

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

// What the state file says for the monitor's whole life.
RuntimeState base_state(const ContainerPaths& paths, const config::ContainerConfig& cfg) {
  RuntimeState rs;
  rs.monitor_pid = ::getpid();
  rs.monitor_starttime = process_starttime(::getpid()).value_or(0);
  rs.container = paths.dir();
  rs.privileged = cfg.privileged;
  if (!cfg.privileged) {
    for (const auto& e : cfg.uid_map) rs.host_uids.emplace_back(e.host_id, e.count);
    for (const auto& e : cfg.gid_map) rs.host_gids.emplace_back(e.host_id, e.count);
  }
  rs.started_at_ms = realtime_ms();
  return rs;
}

}  // namespace

Supervisor::Supervisor(const MonitorOptions& opts, config::ContainerConfig cfg)
    : opts_(opts),
      paths_(opts.lxcpath, opts.name),
      cfg_(std::move(cfg)),
      stopper_(StopSignals{cfg_.halt_signal, cfg_.stop_signal, cfg_.reboot_signal}),
      state_(paths_.state_file(), base_state(paths_, cfg_)),
      have_time_ns_(kernel_has_time_ns()) {
  rootfs_disk_ = opts.rootfs_disk;
}

void Supervisor::record(ContainerState s) {
  if (auto r = state_.record(s); !r) log::error("state file: {}", r.error().message());
}

Result<void> Supervisor::watch_signals() {
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) return Error::from_errno(errno, "become child subreaper");
  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT}) sigaddset(&mask, s);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  sigfd_.reset(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd_) return Error::from_errno(errno, "signalfd");
  return stopper_.open_timer();
}

// Held until the runtime dir is gone again (cleanup) or the monitor dies: the liveness readers
// test, and the one claim on the container's directory (a second monitor for it, started
// through another spelling of its path, stops here).
Result<void> Supervisor::claim_runtime_dir() {
  auto lock = hold_monitor_lock(paths_.monitor_lock(), opts_.name);
  if (!lock) return std::move(lock).error();
  monitor_lock_ = std::move(*lock);
  COVE_TRY(mkdir_p(host_config().runtime_dir, 0755));
  if (::mkdir(paths_.runtime_dir().c_str(), 0700) < 0)
    return Error::from_errno(errno, "create runtime dir `" + paths_.runtime_dir() + "`");
  created_runtime_dir_ = true;
  return {};
}

// The container's root owns its rootfs: a console log there is opened as the container would
// resolve it, so a symlink it planted cannot point the monitor at a host file.
Result<void> Supervisor::open_console_log() {
  UniqueFd log;
  if (!cfg_.console_log.empty()) {
    auto fd = rootfs::open_host_append(cfg_.console_log, cfg_.rootfs);
    if (!fd) return std::move(fd).error().context("console log");
    log = std::move(*fd);
  }
  console_.set_sinks(std::move(log), opts_.foreground && !opts_.inherit_stdio);
  return {};
}

// Detached, cove-start makes them while this monitor execs and starts up (launch.cpp): it
// says which it made once they exist, or closes the socket without a word if it made none.
Result<void> Supervisor::create_cgroups() {
  if (opts_.starter_fd < 0) return cgroups_->create();
  auto made = monitor::receive_cgroups_made(opts_.starter_fd);
  // Init's restrictions come next, for a plain start that had its cgroups made (launch).
  if (!made || !*made || !opts_.restore_images.empty()) close_starter();
  if (!made) return std::move(made).error().context("cove-start's cgroups");
  if (!*made) return cgroups_->create();
  if ((*made)->payload_dirs != cgroups_->payload_dirs() || (*made)->monitor_dirs != cgroups_->monitor_dirs())
    return Error(EPROTO, fmt::format("cove-start made the cgroups {} and {}, the monitor planned {} and {}",
                                     join((*made)->payload_dirs, " "), join((*made)->monitor_dirs, " "),
                                     join(cgroups_->payload_dirs(), " "), join(cgroups_->monitor_dirs(), " ")));
  return {};
}

// Init's restrictions as cove-start computed them from the config it checked (launch.cpp),
// read once: nullopt in the foreground, on a reboot's launch, or when it sent none.
Result<std::optional<security::ExecRestrictions>> Supervisor::starter_restrictions() {
  if (opts_.starter_fd < 0) return std::optional<security::ExecRestrictions>();
  auto r = monitor::receive_exec_made(opts_.starter_fd);
  close_starter();
  if (!r) return std::move(r).error().context("cove-start's restrictions");
  return r;
}

void Supervisor::close_starter() {
  if (opts_.starter_fd >= 0) ::close(opts_.starter_fd);
  opts_.starter_fd = -1;
}

Result<void> Supervisor::make_cgroups() {
  auto layout = cgroup::detect_layout();
  if (!layout) return std::move(layout).error().context("detect cgroups");
  layout_ = std::move(*layout);
  auto cgs = cgroup::ContainerCgroups::plan(layout_, paths_.key(), ::getpid());
  if (!cgs) return std::move(cgs).error().context("cgroups");
  cgroups_ = std::move(*cgs);
  state_.set_cgroups(cgroups_->payload_dirs(), cgroups_->monitor_dirs());
  COVE_TRY(state_.record(state_.state()));  // records the cgroup dirs before using them
  if (auto r = create_cgroups(); !r) return std::move(r).error().context("create cgroups");
  // The monitor leaves its starter's cgroup for its own before anything else (a session being
  // closed must not take the container's monitor with it, and CRIU and init are forked from
  // it). Measured: joining after the start or restore is reported (off the path) made the
  // restore ~10 ms slower, not faster (CRIU's tasks then joined the payload from the starter's
  // cgroup), so it stays here.
  if (auto r = cgroups_->attach_monitor(::getpid()); !r) return std::move(r).error().context("join monitor cgroup");
  // Limits go on before init joins the payload cgroup, so they hold from its first instruction.
  // On v2 this enables controllers in the parent, which the monitor has just left.
  return apply_limits(cfg_.cgroup.limits);
}

Result<void> Supervisor::apply_limits(const cgroup::ResourceLimits& limits, const std::vector<std::string>& only) {
  auto bound = lifecycle::bind_rootfs_io(limits, rootfs_disk_, cfg_.rootfs);
  if (!bound) return std::move(bound).error().context("apply limits");
  return cgroups_->apply(*bound, only);
}

// The storage's host side first: its disk is what `io.max = rootfs` names.
Result<void> Supervisor::prepare_rootfs() {
  auto backend = storage::backend_for(cfg_.storage.backend);
  if (!backend) return std::move(backend).error();
  auto p = (*backend)->prepare(storage::layout_of(paths_.dir(), cfg_));
  if (!p) return std::move(p).error().context(std::string("prepare rootfs: backend `") + (*backend)->name() + "`");
  rootfs_ = std::move(*p);
  if (rootfs_disk_ == 0) rootfs_disk_ = rootfs_.disk;
  return {};
}

Result<void> Supervisor::start() {
  COVE_TRY(watch_signals());
  COVE_TRY(claim_runtime_dir());
  // A restore is RESTORING from its first record to RUNNING/FROZEN (or gone, on failure).
  COVE_TRY(state_.record(opts_.restore_images.empty() ? ContainerState::kStarting : ContainerState::kRestoring));
  COVE_TRY(open_console_log());
  COVE_TRY(prepare_rootfs());
  COVE_TRY(make_cgroups());
  // The socket exists before RUNNING is recorded; requests made meanwhile wait in its backlog.
  serve_commands();
  COVE_TRY(server_.listen(paths_.command_socket()));
  return opts_.restore_images.empty() ? launch() : restore_init();
}

Result<void> Supervisor::launch() {
  lifecycle::PlanOptions po;
  po.init_override = opts_.init_override;
  po.inherit_stdio = opts_.inherit_stdio;
  auto exec = starter_restrictions();
  if (!exec) return std::move(exec).error();
  po.exec = std::move(*exec);
  auto plan = lifecycle::make_launch_plan(cfg_, po, layout_, have_time_ns_);
  if (!plan) return std::move(plan).error();
  plan->storage.dir = paths_.dir();
  auto views = lifecycle::plan_lxcfs_views(cfg_);
  if (!views) return std::move(views).error();
  plan->lxcfs_views = std::move(*views);
  log::debug("launch plan: {}", lifecycle::describe(*plan));
  COVE_TRY(plan_network());
  plan->resolv_conf = network_.resolv_conf();
  SharedNamespaces shared;
  COVE_TRY(shared.enter(cfg_, opts_.lxcpath));
  // The exec record, before RUNNING is recorded: an attach (RUNNING only) always finds it.
  // Written while init's last steps run (restrictions, exec), after its set-up rather than
  // before the clone: there its allocations left a page of the monitor's heap in use for good
  // (4 KiB of USS, measured). Runtime state: no fsync (it means nothing after a reboot; /run
  // may be a disk, where the sync cost a start ~0.6 ms).
  lifecycle::StartHooks hooks;
  hooks.released = [&](pid_t) {
    return write_file_atomic(paths_.exec_record(), lifecycle::encode_exec_record({plan->exec, cfg_.init_env}), 0600,
                             Durability::kVolatile);
  };
  auto init = lifecycle::start_init(*plan, *cgroups_, &network_, &rootfs_, hooks);
  shared.leave();
  if (!init) return std::move(init).error();
  return adopt_init(std::move(*init));
}

// The host-side names of the NICs are chosen and recorded before anything is made.
Result<void> Supervisor::plan_network() {
  network_.teardown();
  network_ = network::ContainerNetwork(cfg_.nics, paths_.key(), cfg_.hostname);
  if (network_.empty()) return {};
  state_.set_host_links(network_.host_links());
  COVE_TRY(state_.record(state_.state()));
  return network_.prepare();
}

// The new init (started or restored) is ours: its console goes to the broker, and it is
// recorded (RUNNING, or FROZEN for a restored frozen container).
Result<void> Supervisor::adopt_init(lifecycle::InitProcess init, ContainerState as) {
  console_.adopt(std::move(init.console_master), std::move(init.tty_masters));
  init_ = process::ChildProcess(init.pid, std::move(init.pidfd));
  state_.set_init(init_.pid());
  state_.set_started_at(realtime_ms());
  return state_.record(as);
}

// Restore mode: CRIU (our swrk child, rst_sibling) brings init back as our child into the
// cgroups we just made; then the container is ours as after a start. A dump taken while the
// container was frozen is restored frozen (CRIU restores the freezer state).
Result<void> Supervisor::restore_init() {
  if (!cfg_.privileged) {
    auto uid = ns::host_id_of(cfg_.uid_map, 0);
    auto gid = ns::host_id_of(cfg_.gid_map, 0);
    if (uid && gid)
      if (auto r = cgroups_->delegate(*uid, *gid); !r) return std::move(r).error().context("delegate cgroup");
  }
  COVE_TRY(plan_network());
  lifecycle::RestoreTarget t;
  t.cfg = &cfg_;
  t.network = &network_;
  t.runtime_dir = paths_.runtime_dir();
  t.log_dir = paths_.dir();
  t.container_dir = paths_.dir();
  t.rootfs = &rootfs_;
  t.timeout_ms = opts_.restore_timeout_s * 1000;
  t.thaw = opts_.restore_thaw;
  t.lazy_pages = opts_.restore_lazy_pages;
  t.cgroups = &*cgroups_;
  t.layout = &layout_;
  auto r = lifecycle::restore_container(t, opts_.restore_images);
  if (!r) return std::move(r).error().context("restore");
  restored_ = RestoreReply{r->init.pid, r->criu_version, r->wall_ms, r->stats};
  COVE_TRY(adopt_init(std::move(r->init), r->frozen ? ContainerState::kFrozen : ContainerState::kRunning));
  // CRIU has unlocked the network: the segment learns the NICs' new place (in the background).
  if (auto a = network_.announce(); !a) log::warn("announce the NICs: {}", a.error().message());
  return {};
}

void Supervisor::report_start(const Result<void>& r) {
  if (opts_.status_fd >= 0) {
    std::string msg = encode_start_status(r ? StartStatus(restored_) : StartStatus(r.error()));
    if (::write(opts_.status_fd, msg.data(), msg.size()) < 0)
      log::warn("write start status: {}", std::strerror(errno));  // the starter is gone
    ::close(opts_.status_fd);
    opts_.status_fd = -1;
  }
  if (opts_.lock_fd >= 0) {
    ::close(opts_.lock_fd);
    opts_.lock_fd = -1;
  }
}

void Supervisor::start_leaving_monitor_cgroup() {
  if (left_monitor_cgroup_ || !cgroups_) return;
  left_monitor_cgroup_ = true;
  auto mover = cgroups_->leave_monitor_in_background();
  if (mover) cgroup_mover_ = std::move(*mover);
  else log::warn("{}", mover.error().message());  // cleanup's destroy() moves the monitor itself
}

void Supervisor::finish_leaving_monitor_cgroup() {
  if (!cgroup_mover_) return;
  if (auto r = cgroup_mover_.wait(); !r) log::warn("{}", r.error().message());
}

void Supervisor::cleanup() {
  finish_leaving_monitor_cgroup();
  lazy_dump_.reset();  // a CRIU still serving pages goes before the tree it serves
  // Signalled through its pidfd; handle_signal releases init_ when its waitpid(-1) reaps init.
  if (init_) init_.kill_and_reap();
  network_.teardown(/*keep_leases=*/checkpointed_);
  if (cgroups_) {
    if (auto r = cgroups_->destroy(); !r) log::warn("remove cgroups: {}", r.error().message());
  }
  server_.stop_listening();
  if (created_runtime_dir_) {
    // Renamed away first, so a reader or a new start never sees a half-removed runtime dir.
    std::string dead = host_config().runtime_dir + "/.dead-" + paths_.key() + "-" + std::to_string(::getpid());
    std::string victim = ::rename(paths_.runtime_dir().c_str(), dead.c_str()) == 0 ? dead : paths_.runtime_dir();
    if (auto r = remove_tree(victim); !r) log::warn("remove runtime dir: {}", r.error().message());
  }
  if (!cfg_.privileged) release_host_ids(paths_);  // its host ids leave the index of running ones
  // Released before any stop waiter hears back, so that a start right after works.
  monitor_lock_.reset();
}

void Supervisor::begin_stop(int sig, unsigned timeout_s) {
  if (!init_) return;
  // A kill (cove-stop -k) pulls the plug: the veths' host ends go down first, so the dying
  // sockets send no reset or FIN. The copy killed may live on elsewhere with the same
  // connections: a migration's source after the commit, a destination undoing a restore.
  if (sig == SIGKILL)
    if (auto r = network_.set_host_ends_up(false); !r) log::warn("NICs down before the kill: {}", r.error().message());
  // A frozen init would not see the signal (a v1-frozen task not even SIGKILL) until thawed.
  // A kill is sent to every task while still frozen (a frozen task cannot exit, so its pid is
  // its own): on the thaw each dies before it runs user code again. A migrated container is
  // frozen here while it already runs on its destination; it must not run on both for a moment.
  if (state_.is(ContainerState::kFrozen)) {
    if (sig == SIGKILL)
      for (pid_t pid : cgroups_->payload_pids()) ::kill(pid, SIGKILL);
    if (auto r = cgroups_->set_frozen(false); !r) log::warn("thaw before stop: {}", r.error().message());
  }
  if (!state_.is(ContainerState::kStopping)) record(ContainerState::kStopping);
  start_leaving_monitor_cgroup();
  stopper_.signal(init_.pidfd(), sig, timeout_s);
}

// After a reboot's end: whatever init left behind goes (its processes, and the cgroups and
// controllers it made below the container's), and a new init starts; the reboot's waiters hear
// how that went. False when the new init did not start.
bool Supervisor::reboot() {
  record(ContainerState::kStarting);
  network_.teardown();
  Result<void> r = cgroups_->reset_payload();
  if (r) r = launch();
  auto waiters = stopper_.take_waiters();
  for (int fd : waiters) CommandServer::reply(fd, r ? encode_reply(Done{}) : encode_error_reply(r.error()));
  for (int fd : waiters) server_.drop(fd);
  if (!r) log::error("reboot failed: {}", r.error().message());
  return r.has_value();
}

// How PID 1 ended, in words: reboot(2) in a PID namespace ends init with SIGINT for a power-off
// or halt and SIGHUP for a restart (what systemd and busybox init do last).
static std::string describe_init_end(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (!WIFSIGNALED(status)) return fmt::format("status {:#x}", status);
  int sig = WTERMSIG(status);
  std::string what = "killed by " + signal_name(sig);
  if (sig == SIGINT) what += " (power-off or halt through reboot(2))";
  if (sig == SIGHUP) what += " (restart through reboot(2))";
  return what;
}

void Supervisor::on_init_exit(int status) {
  log::info("init ended: {}", describe_init_end(status));
  // An application container's command (cove-execute) killed by SIGHUP is just a command that
  // ended, not a reboot.
  bool rebooted = stopper_.init_exited(status, opts_.inherit_stdio);
  (void)init_.release();  // reaped already (handle_signal, end_after_checkpoint)
  state_.set_init(0);
  console_.release_all();
  if (rebooted && reboot()) return;
  finish(status);
}

// The container has ended: the exit status, STOPPING, cleanup, then the stop's waiters hear.
void Supervisor::finish(int status) {
  if (WIFEXITED(status)) exit_status_ = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    exit_status_ = (stopper_.stop_requested() || (WTERMSIG(status) == SIGINT && !opts_.inherit_stdio))
                       ? 0
                       : 128 + WTERMSIG(status);
  record(ContainerState::kStopping);
  cleanup();
  for (int fd : stopper_.take_waiters()) CommandServer::reply(fd, encode_reply(Done{}));
  done_ = true;
}

void Supervisor::handle_signal() {
  struct signalfd_siginfo si;
  while (::read(sigfd_.get(), &si, sizeof si) == sizeof si) {
    if (si.ssi_signo == SIGCHLD) {
      int status;
      pid_t p;
      // waitpid(-1), not each owner's own wait: the monitor is a subreaper, and orphans of the
      // container (a restore's, a double-forked helper's) are reparented to it and reaped here.
      // An owned child reaped here is released from its owner, which would wait for it again.
      while ((p = ::waitpid(-1, &status, WNOHANG | __WALL)) > 0) {
        if (cgroup_mover_ && p == cgroup_mover_.pid()) (void)cgroup_mover_.release();
        if (init_ && p == init_.pid()) on_init_exit(status);
      }
    } else if (!stopper_.stop_requested()) {
      // SIGTERM/SIGINT/SIGHUP to the monitor: a clean stop.
      stopper_.mark_stop_requested();
      begin_stop(cfg_.halt_signal, cfg_.stop_timeout);
    }
  }
}

void Supervisor::proxy_stdin() {
  char buf[4096];
  ssize_t n = ::read(0, buf, sizeof buf);
  if (n > 0) console_.write_input(buf, static_cast<size_t>(n));
}

void Supervisor::serve_clients(const std::vector<struct pollfd>& pfds, size_t first, const std::vector<int>& fds) {
  for (size_t i = 0; i < fds.size(); ++i) {
    auto rev = pfds[first + i].revents;
    if (!rev || !server_.has_client(fds[i])) continue;
    if (rev & POLLIN) server_.serve(fds[i]);
    else if (rev & (POLLHUP | POLLERR)) server_.drop(fds[i]);
  }
}

int Supervisor::loop() {
  stdin_open_ = opts_.foreground && !opts_.inherit_stdio && ::isatty(0);
  struct termios saved;
  bool restore_tty = false;
  if (stdin_open_ && ::tcgetattr(0, &saved) == 0) {
    struct termios raw = saved;
    ::cfmakeraw(&raw);
    restore_tty = ::tcsetattr(0, TCSANOW, &raw) == 0;
  }
  bool after_setup = true;
  while (!done_) {
    // Memory is per container: what the setup or the last event used (the heap after the setup
    // or a change, the stack after anything), the idle monitor does not keep.
    if (std::exchange(after_setup, false) || server_.take_memory_to_give_back()) give_back_memory();
    else give_back_stack();
    std::vector<struct pollfd> pfds = {{sigfd_.get(), POLLIN, 0},
                                       {server_.listen_fd(), POLLIN, 0},
                                       {stopper_.timer_fd(), POLLIN, 0},
                                       {console_.output_fd(), POLLIN, 0},
                                       {stdin_open_ && console_.has_console() ? 0 : -1, POLLIN, 0},
                                       {lazy_dump_ ? lazy_dump_->fd() : -1, POLLIN, 0}};
    std::vector<int> clients = server_.client_fds();
    for (int fd : clients) pfds.push_back({fd, POLLIN, 0});
    if (::poll(pfds.data(), pfds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      log::error("poll: {}", std::strerror(errno));
      break;
    }
    if (pfds[0].revents) handle_signal();
    if (done_) break;
    if (pfds[1].revents) server_.accept_clients();
    if (pfds[2].revents) stopper_.escalate(init_ ? init_.pidfd() : -1);
    if (pfds[3].revents && console_.has_console()) console_.copy_output();
    if (pfds[4].revents & (POLLHUP | POLLERR)) stdin_open_ = false;
    else if (pfds[4].revents) proxy_stdin();
    if (pfds[5].revents && lazy_dump_) end_lazy_dump();
    serve_clients(pfds, 6, clients);
  }
  if (restore_tty) ::tcsetattr(0, TCSANOW, &saved);
  server_.close();
  return exit_status_;
}

}  // namespace cove::monitor
