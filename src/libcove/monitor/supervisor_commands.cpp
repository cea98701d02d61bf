// The supervisor's command handlers: one per request of monitor/protocol.hpp, registered in
// the CommandServer's table. A handler returns an Error to have it replied; a stop or reboot
// is answered later, when it has ended.
#include <signal.h>
#include <sys/wait.h>

#include "base/log.hpp"
#include "base/strings.hpp"
#include "config/key_table.hpp"
#include "config/keys_network.hpp"
#include "monitor/supervisor.hpp"

namespace cove::monitor {

namespace {
Result<void> reply_done(int fd) {
  CommandServer::reply(fd, encode_reply(Done{}));
  return {};
}
}  // namespace

void Supervisor::serve_commands() {
  server_.on<StateRequest>([this](int fd, const StateRequest& r) { return on_state(fd, r); });
  server_.on<StopRequest>([this](int fd, const StopRequest& r) { return on_stop(fd, r); });
  server_.on<RebootRequest>([this](int fd, const RebootRequest& r) { return on_reboot(fd, r); });
  server_.on<ConsoleRequest>([this](int fd, const ConsoleRequest& r) { return on_console(fd, r); });
  server_.on<CheckpointRequest>([this](int fd, const CheckpointRequest& r) { return on_checkpoint(fd, r); });
  server_.on<FreezeRequest>([this](int fd, const FreezeRequest&) { return on_set_frozen(fd, true); });
  server_.on<ThawRequest>([this](int fd, const ThawRequest&) { return on_set_frozen(fd, false); });
  server_.on<CgroupSetRequest>([this](int fd, const CgroupSetRequest& r) { return on_cgroup_set(fd, r); });
  server_.on<NetSetRequest>([this](int fd, const NetSetRequest& r) { return on_net_set(fd, r); });
  server_.on<NetAttachRequest>([this](int fd, const NetAttachRequest& r) { return on_net_attach(fd, r); });
  server_.on<NetDetachRequest>([this](int fd, const NetDetachRequest& r) { return on_net_detach(fd, r); });
  server_.on<NetStatusRequest>([this](int fd, const NetStatusRequest& r) { return on_net_status(fd, r); });
  server_.on<HoldRequest>([this](int fd, const HoldRequest& r) -> Result<void> {
    COVE_TRY(server_.hold(fd, r.holder));
    return reply_done(fd);
  });
  server_.on_disconnect([this](int fd) {
    console_.give_back(fd);
    stopper_.forget_waiter(fd);
  });
}

Result<void> Supervisor::on_state(int fd, const StateRequest&) {
  CommandServer::reply(fd, encode_reply(StateReply{state_name(state_.state()), init_.pid()}));
  return {};
}

Result<void> Supervisor::on_stop(int fd, const StopRequest& req) {
  if (!init_) return Error(ESRCH, "container is not running");
  stopper_.add_waiter(fd);
  stopper_.mark_stop_requested();
  begin_stop(stopper_.first_signal(req.kill), req.timeout_s.value_or(cfg_.stop_timeout));
  return {};
}

Result<void> Supervisor::on_reboot(int fd, const RebootRequest& req) {
  if (!init_) return Error(ESRCH, "container is not running");
  stopper_.add_waiter(fd);
  stopper_.mark_reboot_requested();
  begin_stop(stopper_.reboot_signal(), req.timeout_s.value_or(cfg_.stop_timeout));
  return {};
}

Result<void> Supervisor::on_console(int fd, const ConsoleRequest& req) {
  if (!init_) return Error(ESRCH, "container is not running");
  auto master = console_.lend(fd, req.tty);
  if (!master) return std::move(master).error();
  CommandServer::reply(fd, encode_reply(ConsoleReply{}), {*master});
  return {};
}

Result<void> Supervisor::on_set_frozen(int fd, bool frozen) {
  COVE_TRY(set_frozen(frozen));
  return reply_done(fd);
}

Result<void> Supervisor::on_cgroup_set(int fd, const CgroupSetRequest& req) {
  COVE_TRY(set_cgroup_key(req.key, req.value));
  return reply_done(fd);
}

// rate.ingress / rate.egress of a running NIC: a rate, or `unlimited` (also empty or 0).
Result<void> Supervisor::on_net_set(int fd, const NetSetRequest& req) {
  if (!init_) return Error(ESRCH, "container is not running");
  if (req.key != "rate.ingress" && req.key != "rate.egress")
    return Error::invalid("`" + req.key + "` cannot be changed live (allowed: rate.ingress, rate.egress)");
  uint64_t rate = 0;
  if (!req.value.empty() && req.value != "unlimited" && req.value != "0") {
    auto r = parse_rate(req.value);
    if (!r) return Error::invalid(req.key + ": `" + req.value + "` is not a rate (allowed: RATE such as 100mbit, or unlimited)");
    rate = *r;
  }
  bool in = req.key == "rate.ingress";
  COVE_TRY(network_.set_rate(req.nic, in ? std::optional<uint64_t>(rate) : std::nullopt,
                             in ? std::nullopt : std::optional<uint64_t>(rate)));
  log::info("NIC `{}`: {} = {}", req.nic, req.key, rate ? format_rate(rate) : "unlimited");
  return reply_done(fd);
}

Result<void> Supervisor::on_net_attach(int fd, const NetAttachRequest& req) {
  if (!init_) return Error(ESRCH, "container is not running");
  config::ContainerConfig current = cfg_;
  current.nics.clear();
  for (const auto& rt : network_.nics()) current.nics.push_back(rt.nic);
  auto nic = config::parse_nic_lines(req.nic, req.lines, current);
  if (!nic) return std::move(nic).error();
  if (!network_.has_netns()) {
    auto ns = network::open_netns_of(init_.pid());
    if (!ns) return std::move(ns).error();
    COVE_TRY(network_.keep_netns(ns->get()));
  }
  auto r = network_.attach(*nic, [this](const std::vector<std::string>& links) {
    state_.set_host_links(links);
    record(state_.state());
  });
  if (!r) return std::move(r).error().context("attach `" + req.nic + "`");
  log::info("NIC `{}` attached", req.nic);
  return reply_done(fd);
}

Result<void> Supervisor::on_net_detach(int fd, const NetDetachRequest& req) {
  if (!init_) return Error(ESRCH, "container is not running");
  COVE_TRY(network_.detach(req.nic));
  log::info("NIC `{}` detached", req.nic);
  return reply_done(fd);
}

Result<void> Supervisor::on_net_status(int fd, const NetStatusRequest&) {
  auto st = network_.status();
  if (!st) return std::move(st).error();
  NetStatusReply reply;
  for (const auto& s : *st) {
    NicReport n;
    n.name = s.name;
    n.type = s.type;
    n.host_ifname = s.host_ifname;
    n.bridge = s.bridge;
    n.mac = s.mac.str();
    for (const auto& a : s.addresses) n.addresses.push_back(a.str());
    n.rate_ingress = s.rate_ingress;
    n.rate_egress = s.rate_egress;
    n.rx_bytes = s.counters.rx_bytes;
    n.tx_bytes = s.counters.tx_bytes;
    n.rx_packets = s.counters.rx_packets;
    n.tx_packets = s.counters.tx_packets;
    n.ingress_drops = s.ingress_shaper.drops;
    n.egress_drops = s.egress_shaper.drops;
    reply.nics.push_back(std::move(n));
  }
  CommandServer::reply(fd, encode_reply(Result<NetStatusReply>(std::move(reply))));
  return {};
}

lifecycle::CheckpointTarget Supervisor::checkpoint_target() {
  lifecycle::CheckpointTarget t;
  t.cfg = &cfg_;
  t.lxcpath = opts_.lxcpath;
  t.runtime_dir = paths_.runtime_dir();
  t.config_path = paths_.config();
  t.init_pid = init_.pid();
  t.cgroups = &*cgroups_;
  t.layout = &layout_;
  t.tty_masters = console_.tty_master_fds();
  return t;
}

// The dump runs here (not in cove-checkpoint) so that init's death after a dump with `stop` is
// an expected end: the container then ends STOPPED, cleaned up, before the reply.
// CHECKPOINTING is recorded for the dump's duration; the monitor serves nothing else meanwhile
// (one thread), and the tools refuse to change a CHECKPOINTING container (busy_error).
Result<void> Supervisor::on_checkpoint(int fd, const CheckpointRequest& req) {
  if (!init_ || !can_checkpoint(state_.state()))
    return Error(EBUSY, std::string("container is ") + state_name(state_.state()));
  ContainerState before = state_.state();
  if (auto w = state_.record(ContainerState::kCheckpointing); !w) return std::move(w).error();
  if (req.stop) start_leaving_monitor_cgroup();
  lifecycle::CheckpointOptions opts;
  opts.images_dir = req.dir;
  opts.stop = req.stop;
  opts.lazy_pages_socket = req.lazy_pages_socket;
  opts.lazy_pages_token = req.lazy_pages_token;
  if (before == ContainerState::kFrozen && !req.stop) opts.before_network_unlock = [this] { return silence_frozen_copy(); };
  auto r = lifecycle::checkpoint_container(checkpoint_target(), opts);
  if (r && r->lazy) {
    // CRIU serves the pages from here, watched by the loop; CHECKPOINTING until it is done.
    lazy_dump_ = std::move(r->lazy);
    before_lazy_dump_ = before;
    server_.set_busy("its CRIU serves its memory to a post-copy migration");
  } else if (!r || !req.stop) {
    record(before);  // a failed dump leaves the container as it was
  }
  if (!r) unsilence_network();
  if (!r && left_monitor_cgroup_) {
    // The container goes on: so does the monitor, in its cgroup again.
    finish_leaving_monitor_cgroup();
    left_monitor_cgroup_ = false;
    if (auto j = cgroups_->attach_monitor(::getpid()); !j) log::warn("rejoin monitor cgroup: {}", j.error().message());
  }
  if (!r) return std::move(r).error();
  CheckpointReply reply{r->images_dir, r->criu_version, r->wall_ms, req.stop, r->stats};
  if (req.stop) {
    checkpointed_ = true;
    end_after_checkpoint(before);
  }
  CommandServer::reply(fd, encode_reply(Result<CheckpointReply>(std::move(reply))));
  return {};
}

// A frozen container dumped to go on elsewhere (cove-migrate: freeze, dump leaving it running,
// then kill or thaw it) must say nothing on the network from the dump on: CRIU unlocks the
// network after a dump that leaves the tree alive, and its kernel would then acknowledge data
// the copy never sees, and send resets when it is killed, breaking the TCP connections the copy
// carries on. Its veths' host ends go down at CRIU's `network-unlock` (after the dump: a link
// without carrier would be dumped with `linkdown` routes, which the kernel refuses to restore)
// and come up again only when it is thawed (or at once when the dump fails), announced anew.
Result<void> Supervisor::silence_frozen_copy() {
  network_silenced_ = true;
  if (auto r = network_.set_host_ends_up(false); !r) return std::move(r).error().context("silence the NICs of the frozen copy");
  return {};
}

void Supervisor::unsilence_network() {
  if (!network_silenced_) return;
  network_silenced_ = false;
  if (auto r = network_.set_host_ends_up(true); !r) log::warn("bring the NICs up again: {}", r.error().message());
  // A destination that restored the copy before the migration failed has announced it there.
  else if (auto a = network_.announce(); !a) log::warn("announce the NICs: {}", a.error().message());
}

// CRIU killed the tree after the dump: reap init now and end as after a stop. Killed tasks of
// a frozen (v1) cgroup die only once thawed.
void Supervisor::end_after_checkpoint(ContainerState before) {
  stopper_.mark_stop_requested();
  if (before == ContainerState::kFrozen)
    if (auto t = cgroups_->set_frozen(false); !t) log::warn("thaw after checkpoint: {}", t.error().message());
  auto status = init_.wait();
  if (!status) log::warn("{}", status.error().message());
  on_init_exit(status ? *status : 0);
}

void Supervisor::end_lazy_dump() {
  auto done = lazy_dump_->finish();
  lazy_dump_.reset();
  server_.set_busy({});
  if (done) log::info("lazy pages: every page transferred");
  else log::warn("lazy pages: {}", done.error().message());
  record(before_lazy_dump_);
}

// RUNNING <-> FROZEN only; the state is recorded once the kernel reports the cgroup settled.
Result<void> Supervisor::set_frozen(bool frozen) {
  ContainerState from = frozen ? ContainerState::kRunning : ContainerState::kFrozen;
  ContainerState to = frozen ? ContainerState::kFrozen : ContainerState::kRunning;
  if (!init_ || !state_.is(from))
    return Error(EBUSY, std::string("container is ") + state_name(state_.state()) + ", not " + state_name(from));
  if (!frozen) unsilence_network();
  if (auto r = cgroups_->set_frozen(frozen); !r) return std::move(r).error();
  return state_.record(to);
}

// A live change: the value is parsed by the key's own parser into a copy of the config, and
// only the controller the key belongs to is written again; the copy replaces the config only
// once the kernel accepted it.
Result<void> Supervisor::set_cgroup_key(const std::string& key, const std::string& value) {
  if (!init_) return Error(ESRCH, "container is not running");
  const config::KeySpec* spec = config::find_key("cgroup", key);
  if (!spec) return Error::invalid("unknown [cgroup] key `" + key + "` (see cove.conf(5))");
  config::ContainerConfig next = cfg_;
  if (spec->repeatable && value.empty()) {
    spec->clear(next);
  } else if (auto r = spec->parse(next, value, config::KeyContext{"cove-cgroup", 0, ""}); !r) {
    return Error::invalid("[cgroup] " + key + ": " + r.error().message() + " (allowed: " + std::string(spec->allowed) +
                          ")");
  }
  if (auto r = apply_limits(next.cgroup.limits, {cgroup::controller_of_key(key)}); !r) return std::move(r).error();
  log::info("cgroup limit changed: {} = {}", key, value);
  cfg_ = std::move(next);
  return {};
}

}  // namespace cove::monitor
