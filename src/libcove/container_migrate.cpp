// Container::migrate: the source's side of a migration, as a list of steps (base/step_list.hpp)
// whose rollbacks keep the container running here when anything fails before the destination
// reports RUNNING. The destination's side is container_migrate_receive.cpp; the protocol
// between them is migrate/wire.hpp; the states and guarantees are in doc/design/migration.md.
#include <fmt/format.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>

#include "base/clock.hpp"
#include "base/fs.hpp"
#include "base/interrupt.hpp"
#include "base/list_dir.hpp"
#include "base/log.hpp"
#include "base/run_program.hpp"
#include "base/step_list.hpp"
#include "base/strings.hpp"
#include "container.hpp"
#include "container_internal.hpp"
#include "criu/features.hpp"
#include "images/image_store.hpp"
#include "lifecycle/checkpoint.hpp"
#include "migrate/channel.hpp"
#include "migrate/host_facts.hpp"
#include "migrate/ssh_link.hpp"
#include "monitor/command_client.hpp"
#include "paths.hpp"

namespace cove {

namespace {

constexpr int kOfferTimeoutMs = 60 * 1000;           // the destination's checks (a CRIU probe)
constexpr int kRestoreTimeoutMs = 10 * 60 * 1000;    // the destination's restore
constexpr int kCommitTimeoutMs = 30 * 1000;
constexpr int kSessionEndTimeoutMs = 60 * 1000;      // the destination removing what it made
constexpr const char* kImagesDirName = ".migrate-images";
// CRIU's page server grows a pipe to 4 MiB for each batch of lazy pages; without
// CAP_SYS_RESOURCE the kernel caps that at fs.pipe-max-size, and CRIU then fails mid-transfer
// ("splice: -1: Bad file descriptor"), after the destination ran: checked before anything moves.
constexpr uint64_t kLazyPipeBytes = 4ULL << 20;
constexpr const char* kPipeMaxSize = "/proc/sys/fs/pipe-max-size";
constexpr int kLazyDumpEndTimeoutMs = 60 * 1000;  // the source's CRIU ending after the page stream

struct Migration {
  Migration(Container& c, const MigrateOptions& o) : ct(c), opts(o), p(c.lxcpath(), c.name()) {}
  Container& ct;
  const MigrateOptions& opts;
  ContainerPaths p;
  config::ContainerConfig cfg;
  migrate::Destination dest;
  // The source's monitor, held for the whole migration: this process's requests (freeze,
  // checkpoint, thaw, stop) go over the holding connection; everybody else's are refused.
  std::unique_ptr<monitor::Hold> hold;
  std::unique_ptr<migrate::SshLink> link;
  std::optional<migrate::RemoteCommand> session;
  std::optional<migrate::Channel> channel;
  migrate::Accepted accepted;
  std::string images_dir;  // local, in the runtime dir (tmpfs)
  std::optional<criu::CriuInfo> criu;  // probed once: version and features
  std::vector<migrate::LowerImage> lowers;  // an overlay's lowers: images the destination holds
  bool post_copy = false;
  std::string pages_socket;  // post-copy: the ssh forward to the receiver's page stream (or ADDR:PORT)
  int64_t running_at = 0;
  bool restore_requested = false;  // from here the destination may have run the container
  bool session_ended_cleanly = false;
  process::ChildProcess final_rsync;  // started before the freeze, waiting for `final-sync`
  std::string final_rsync_err;
  std::optional<migrate::RemoteCommand> images_stream;  // `tar -x` into the destination's images dir
  MigrateReport rep;
  std::string stage;
  int64_t stage_t0 = 0, frozen_at = 0;

  // Ctrl+C (base/interrupt.hpp) stops the migration at the next stage, with its rollbacks;
  // once the commit is sent it is too late, and the stages after it do not look.
  Result<void> begin(const std::string& name) {
    if (interrupted()) return Error(EINTR, "interrupted");
    stage = name;
    stage_t0 = monotonic_ms();
    if (opts.on_stage_start) opts.on_stage_start(name);
    return {};
  }
  void end() {
    int64_t ms = monotonic_ms() - stage_t0;
    rep.stages.push_back({stage, ms});
    if (opts.on_stage_end) opts.on_stage_end(stage, ms);
  }
};

// Local checks ---------------------------------------------------------------------------------

// Why post-copy cannot run here ("" when it can): CRIU's lazy pages, and pipes big enough for
// its page server (not needed with CAP_SYS_RESOURCE, which lifts the cap). The sysctl is host
// policy: cove names it and never changes it. The capability that counts is the monitor's (it
// runs the dump's CRIU), which may have been started otherwise than this tool.
std::string post_copy_blocker(const std::optional<criu::CriuInfo>& info, pid_t monitor_pid) {
  if (!info || !info->lazy_pages) return "CRIU cannot dump lazily here (no userfaultfd with non-cooperative events)";
  if (monitor_pid > 0 && lifecycle::has_cap_sys_resource(monitor_pid)) return "";
  auto text = read_file(kPipeMaxSize);
  uint64_t max = text ? std::strtoull(text->c_str(), nullptr, 10) : 0;
  if (max >= kLazyPipeBytes) return "";
  return fmt::format("fs.pipe-max-size is {} (at least {} is needed without CAP_SYS_RESOURCE: CRIU's page server "
                     "would fail mid-transfer); raise it with `sysctl fs.pipe-max-size={}`",
                     max, kLazyPipeBytes, kLazyPipeBytes);
}

Result<void> check_mode(Migration& m) {
  if (auto p = criu::probe()) m.criu = *p;
  const auto& info = m.criu;
  std::string blocker = post_copy_blocker(info, m.ct.state().runtime.monitor_pid);
  if (m.opts.page_server_transport && m.opts.mode != MigrateMode::kPostCopy)
    return Error::invalid("--transport page-server carries post-copy's pages: it needs --mode post-copy");
  if (m.opts.mode == MigrateMode::kPostCopy) {
    if (!blocker.empty()) return Error(ENOTSUP, "post-copy: " + blocker);
    m.post_copy = true;
    m.rep.mode = migrate_mode_name(MigrateMode::kPostCopy);
    return {};
  }
  m.rep.mode = migrate_mode_name(MigrateMode::kStopAndCopy);
  if (m.opts.mode == MigrateMode::kAuto) {
    bool track = info && info->mem_track;
    std::string pre = track ? "iterative pre-copy is not implemented yet"
                            : "this kernel has no memory dirty tracking (soft-dirty): no pre-copy";
    std::string post = blocker.empty() ? "post-copy is available (--mode post-copy)" : "no post-copy: " + blocker;
    m.rep.mode_note = pre + "; " + post + "; stop-and-copy";
  }
  return {};
}

// An overlay's lowers must each be an image of this cove path's store: the destination holds
// the same image (by content hash) and only the upper layer travels.
Result<std::vector<migrate::LowerImage>> lower_images(const Migration& m) {
  images::ImageStore store(m.ct.lxcpath());
  std::vector<migrate::LowerImage> out;
  for (const auto& l : m.cfg.storage.lower) {
    std::string hash = store.image_of_rootfs(l);
    if (hash.empty())
      return Error(ENOTSUP, fmt::format("the overlay's lower `{}` is not an image of `{}`: only the upper layer is "
                                        "copied, over the same images on the destination; with --shared-storage "
                                        "nothing is copied",
                                        l, store.root()));
    out.push_back({l, hash});
  }
  return out;
}

Result<void> check_storage(Migration& m) {
  auto b = m.cfg.storage.backend;
  if (m.opts.shared_storage) {
    if (m.cfg.rootfs.starts_with(m.p.dir() + "/"))
      return Error::invalid(fmt::format("--shared-storage: the rootfs `{}` is inside the container's directory, "
                                        "which is not shared", m.cfg.rootfs));
    return {};
  }
  if (!m.cfg.rootfs.starts_with(m.p.dir() + "/"))
    return Error::invalid(fmt::format("the rootfs `{}` is outside the container's directory, which is all that is "
                                      "copied: with --shared-storage, the destination uses the same path",
                                      m.cfg.rootfs));
  if (b == config::StorageBackend::kOverlay) {
    auto l = lower_images(m);
    if (!l) return std::move(l).error();
    m.lowers = std::move(*l);
    return {};
  }
  // A btrfs rootfs is copied into a subvolume the destination makes; its snapshots are
  // read-only subvolumes that rsync would turn into plain directories.
  if (b == config::StorageBackend::kBtrfs && is_directory(m.p.dir() + "/snapshots")) {
    auto snaps = list_dir(m.p.dir() + "/snapshots");
    if (snaps && !snaps->empty())
      return Error(ENOTSUP, fmt::format("`{}` has btrfs snapshots ({}), which cannot be copied: delete them "
                                        "(cove-snapshot -d) or use --shared-storage",
                                        m.ct.name(), join(*snaps, ", ")));
  }
  return {};
}

std::vector<migrate::IdRange> ranges_of(const std::vector<config::IdMapEntry>& map) {
  std::vector<migrate::IdRange> out;
  for (const auto& e : map) out.push_back({e.host_id, e.count});
  return out;
}

migrate::Offer make_offer(const Migration& m, const ContainerInfo& info, uint64_t rootfs_bytes) {
  migrate::Offer o;
  o.name = m.ct.name();
  o.source = m.p.dir();
  o.cove_version = COVE_VERSION;
  if (m.criu) o.criu_version = m.criu->version;
  o.backend = config::storage_backend_name(m.cfg.storage.backend);
  o.shared_storage = m.opts.shared_storage;
  o.lower_images = m.lowers;
  if (!m.cfg.privileged) {
    o.uids = ranges_of(m.cfg.uid_map);
    o.gids = ranges_of(m.cfg.gid_map);
  }
  for (const auto& n : m.cfg.nics)
    if (!n.link.empty()) o.links.push_back(n.link);
  o.rootfs_bytes = m.opts.shared_storage ? 0 : rootfs_bytes;
  o.memory_bytes = info.memory_current.value_or(0);
  o.cpu_flags = migrate::cpu_flags();
  o.mode = m.post_copy ? "post-copy" : "stop-and-copy";
  o.transport = m.opts.page_server_transport ? "page-server" : "ssh";
  return o;
}

// The session with `cove migrate --receive` on the destination.
Result<void> open_session(Migration& m) {
  auto link = migrate::SshLink::connect(m.dest, m.opts.ssh_opts, m.opts.connect_timeout_s);
  if (!link) return std::move(link).error();
  m.link = std::move(*link);
  std::vector<std::string> argv = {m.opts.remote_cove, "migrate", "--receive", "-n", m.ct.name()};
  if (!m.dest.path.empty()) argv.insert(argv.end(), {"-P", m.dest.path});
  auto s = m.link->start(argv);
  if (!s) return std::move(s).error();
  m.channel.emplace(std::move(s->from), std::move(s->to));
  m.session = std::move(*s);
  return {};
}

// What the receiver said on stderr, for an error that ends the session.
std::string session_stderr(const Migration& m) {
  if (!m.session) return "";
  auto t = read_file(m.session->err_file);
  return t ? std::string(trim(*t)) : "";
}

Error with_remote_stderr(Error e, const Migration& m) {
  if (e.code() != ECONNRESET) return e;
  std::string said = session_stderr(m);
  return said.empty() ? e : std::move(e).context("destination said: " + said);
}

// Steps -----------------------------------------------------------------------------------------

Result<void> validate(Migration& m) {
  COVE_TRY(m.begin("validate"));
  auto st = m.ct.state();
  if (st.state != ContainerState::kRunning)
    return Error(ESRCH, fmt::format("`{}` is not running (state {})", m.ct.name(), state_name(st.state)));
  auto hold = monitor::Hold::take(m.p.command_socket(),
                                  fmt::format("cove-migrate (pid {}) to {}", ::getpid(), m.dest.url()));
  if (!hold) return std::move(hold).error().context(fmt::format("`{}`", m.ct.name()));
  m.hold = std::move(*hold);
  auto cfg = detail::load_config_of(m.p);
  if (!cfg) return std::move(cfg).error();
  m.cfg = std::move(*cfg);
  COVE_TRY(check_mode(m));
  COVE_TRY(check_storage(m));
  auto info = m.ct.info();
  if (!info) return std::move(info).error();
  auto storage = m.ct.storage_info();
  uint64_t rootfs_bytes = storage ? storage->used_bytes : 0;
  m.rep.rootfs_bytes = rootfs_bytes;
  m.rep.memory_bytes = info->memory_current.value_or(0);
  COVE_TRY(open_session(m));
  COVE_TRY(m.channel->send(make_offer(m, *info, rootfs_bytes)));
  auto acc = migrate::expect<migrate::Accepted>(*m.channel, kOfferTimeoutMs);
  if (!acc) return with_remote_stderr(std::move(acc).error(), m).context("destination");
  m.accepted = std::move(*acc);
  m.end();
  return {};
}

// Ends the session without a commit: the receiver removes what it made; waits for that.
// True when the receiver ended its side itself (its own exit status came back through ssh),
// so it has undone what it made; false when the session did not end in time or ssh itself
// failed (255: the link or the destination's sshd gone, and with it any word of a rollback).
bool end_session(Migration& m) {
  if (!m.session) return m.session_ended_cleanly;
  m.channel->close_out();
  auto done = m.session->ssh.wait_exited(kSessionEndTimeoutMs);
  bool clean = false;
  if (done && *done) {
    auto st = m.session->ssh.wait();
    clean = st && process::exit_code_of(*st) != 255;
  } else {
    log::warn("the destination did not end its side of the migration in time");
  }
  m.session->ssh.kill_and_reap();
  m.session.reset();
  m.session_ended_cleanly = clean;
  return clean;
}

void close_session(Migration& m) { (void)end_session(m); }

// A loop rootfs, or an overlay's upper layer with a quota: an ext4 image file, mounted in the
// container, whose size never changes.
bool has_image_file(const config::ContainerConfig& cfg) {
  auto b = cfg.storage.backend;
  return b == config::StorageBackend::kLoop || (b == config::StorageBackend::kOverlay && cfg.storage.size);
}

// The container's directory (rootfs and config) into the destination's. The images go their
// own way (images_stream) into the destination's `.migrate-images`, which --delete must spare.
std::vector<std::string> rsync_argv(const Migration& m) {
  // --modify-window=-1: times compared to the nanosecond. rsync's default compares whole
  // seconds, so a file rewritten at its old size within the second of the first pass (a loop
  // image's size never changes) would be skipped by the final sync, and its change lost.
  std::vector<std::string> argv = {"rsync",   "-aHAX", "--numeric-ids", "--delete", "--sparse", "--modify-window=-1",
                                   "-e",      m.link->rsync_shell()};
  if (has_image_file(m.cfg)) argv.push_back("--inplace");
  // What only this host's runs made: locks, logs, the create marker.
  for (const char* x : {"/.lock", "/.monitor.lock", "/partial", "/*.log", "/.migrate-images"})
    argv.push_back(std::string("--exclude=") + x);
  if (m.opts.shared_storage) argv.push_back("--exclude=/rootfs");
  argv.push_back(m.p.dir() + "/");
  argv.push_back(m.link->remote_path(m.accepted.container_dir + "/"));
  return argv;
}

// While the container runs, files come and go under rsync: status 24 ("some files vanished
// before they could be transferred") is the expected outcome then, and the final sync, with the
// container frozen, catches up (--delete included).
constexpr int kRsyncVanished = 24;

Result<void> rsync_container(const Migration& m) {
  auto r = run_checked_program(rsync_argv(m), {kRsyncVanished});
  if (!r) return std::move(r).error();
  return {};
}

Result<void> sync_rootfs(Migration& m) {
  COVE_TRY(m.begin("sync rootfs"));
  if (m.accepted.images_dir != m.accepted.container_dir + "/" + kImagesDirName)
    return Error(EPROTO, fmt::format("the destination wants the images in `{}`", m.accepted.images_dir));
  COVE_TRY(rsync_container(m));
  m.end();
  return {};
}

// Made on the destination by the final rsync's remote command once it waits on the go fifo,
// beside it (the receiver's private dir, removed with it).
std::string rsync_ready_marker(const Migration& m) {
  return m.accepted.go_fifo.substr(0, m.accepted.go_fifo.rfind('/') + 1) + "rsync-ready";
}

// The final sync's rsync is started now, while the container runs: its ssh channel (~0.15 s)
// opens outside the downtime, and its remote side waits on the destination's fifo (`cat` in
// rsync's remote command) until `final-sync`, sent right after the freeze: the rootfs delta
// is copied while CRIU dumps. Its client reads no file before the server answers, so it
// copies the frozen tree.
Result<void> open_final_sync(Migration& m) {
  m.images_dir = m.p.runtime_dir() + "/" + kImagesDirName;
  if (m.accepted.go_fifo.find_first_of(" '\"\\$`;&|<>") != std::string::npos)
    return Error(EPROTO, fmt::format("the destination's fifo `{}` is not a plain path", m.accepted.go_fifo));
  auto argv = rsync_argv(m);
  argv.insert(argv.begin() + 1,
              "--rsync-path=: >" + rsync_ready_marker(m) + " && cat " + m.accepted.go_fifo + " >/dev/null && rsync");
  m.final_rsync_err = m.link->temp_dir() + "/final-rsync.err";
  auto child = process::spawn([&] {
    int null = ::open("/dev/null", O_RDWR);
    int err = ::open(m.final_rsync_err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (null < 0 || err < 0) return 127;
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(err, 2);
    ::signal(SIGPIPE, SIG_DFL);
    migrate::exec_argv(argv);
  });
  if (!child) return std::move(child).error().context("start rsync");
  m.final_rsync = std::move(*child);
  return {};
}

void stop_final_sync(Migration& m) {
  if (m.final_rsync) m.final_rsync.kill_and_reap();
}

// Post-copy: where the monitor's CRIU connects before the dump, and serves the pages after.
// --transport page-server: the receiver's TCP listener, reached directly ("ADDR:PORT").
Result<void> open_page_stream(Migration& m) {
  if (!m.post_copy) return {};
  if (m.opts.page_server_transport) {
    const auto& a = m.accepted;
    if (a.pages_port == 0 || a.pages_address.empty() ||
        a.pages_address.find_first_not_of("0123456789abcdefABCDEF.:") != std::string::npos)
      return Error(EPROTO, fmt::format("the destination's page server `{}` port {} is not a numeric address",
                                       a.pages_address, a.pages_port));
    // Only the host we reached over ssh: a destination may not send this host's root CRIU (and
    // the container's memory) to another address (its own loopback would be this host's).
    if (!migrate::may_be_address_of(m.dest.host, a.pages_address))
      return Error(EPROTO, fmt::format("the destination's page server `{}` is not an address of `{}`",
                                       a.pages_address, m.dest.host));
    m.pages_socket = fmt::format("{}:{}", a.pages_address, a.pages_port);
    return {};
  }
  const std::string& remote = m.accepted.pages_socket;
  if (remote.empty() || remote[0] != '/' || remote.find_first_of(" :'\"\\$`;&|<>\n") != std::string::npos)
    return Error(EPROTO, fmt::format("the destination's page stream `{}` is not a plain path", remote));
  m.pages_socket = m.link->temp_dir() + "/pages";
  return m.link->forward_unix(m.pages_socket, remote);
}

// The images' channel, opened (like the final rsync's) before the freeze: a `tar -x` into the
// images dir the destination made, waiting on its stdin until the dump is done. Its `ready`
// line is awaited before the freeze: a channel costs ~0.1 s to open (the remote user's shell
// starts), which would otherwise fall into the downtime. It says ready once the final rsync's
// remote side waits too (its marker; bounded to 30 s, so nothing stays behind there).
constexpr int kChannelReadyTimeoutMs = 30 * 1000;
bool says_ready(int fd) {
  std::string got;
  for (int64_t end = monotonic_ms() + kChannelReadyTimeoutMs; got.size() < 6;) {
    pollfd p = {fd, POLLIN, 0};
    int left = int(end - monotonic_ms());
    if (left <= 0 || ::poll(&p, 1, left) <= 0) return false;
    char c[8];
    ssize_t n = ::read(fd, c, 6 - got.size());
    if (n <= 0) return false;
    got.append(c, size_t(n));
  }
  return got == "ready\n";
}

Result<void> open_images_stream(Migration& m) {
  const char* script =
      "i=0; while [ ! -e \"$2\" ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done; "
      "[ -e \"$2\" ] && echo ready && exec tar -x -B -b 256 -f - -C \"$1\"";
  auto s = m.link->start({"sh", "-c", script, "sh", m.accepted.images_dir, rsync_ready_marker(m)});
  if (!s) return std::move(s).error().context("open the images' channel");
  m.images_stream = std::move(*s);
  if (!says_ready(m.images_stream->from.get())) {
    auto said = read_file(m.images_stream->err_file);
    return Error(EIO, "the images' channel did not open: " + (said ? std::string(trim(*said)) : ""));
  }
  return {};
}

void close_images_stream(Migration& m) {
  if (m.images_stream) m.images_stream->ssh.kill_and_reap();
}

// An image file's filesystem (mounted in the container) is flushed into the file before the
// copy: syncfs through the container's root (an overlay's syncs its upper layer). A dir rootfs
// or upper layer needs nothing (rsync reads the page cache).
Result<void> flush_rootfs(const Migration& m) {
  if (!has_image_file(m.cfg) || m.opts.shared_storage) return {};
  std::string root = fmt::format("/proc/{}/root", m.ct.state().runtime.init_pid);
  UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || ::syncfs(fd.get()) < 0) return Error::from_errno(errno, "flush the rootfs (syncfs `" + root + "`)");
  return {};
}

// Frozen, nothing in the container writes any more: the rootfs delta goes now, beside the dump.
Result<void> freeze(Migration& m) {
  COVE_TRY(m.begin("freeze/dump"));
  m.frozen_at = monotonic_ms();
  return m.ct.freeze();
}

Result<void> start_final_sync(Migration& m) {
  COVE_TRY(flush_rootfs(m));
  return m.channel->send(migrate::FinalSync{});
}

// Post-copy: the monitor's CRIU serves pages until the page stream ends, and the container is
// CHECKPOINTING (frozen) until then.
Result<void> await_lazy_dump_end(Migration& m) {
  for (int64_t end = monotonic_ms() + kLazyDumpEndTimeoutMs;; ::usleep(20 * 1000)) {
    if (m.ct.state().state != ContainerState::kCheckpointing) return {};
    if (monotonic_ms() > end) return Error(ETIMEDOUT, "the monitor's CRIU still serves pages");
  }
}

// Before the commit. The session is ended first and its end awaited: the destination may have
// restored (and run) the container, and only once the receiver has undone that may this copy
// run again. When that cannot be known (the restore was asked for and the session did not end
// on the receiver's own word) the container stays FROZEN here: never on two hosts at once. In
// post-copy the source's CRIU serves pages until the page stream ends (the receiver's
// rollback closes it), and the container is thawed once CRIU has let it go.
void thaw(Migration& m) {
  if (!end_session(m) && m.restore_requested) {
    log::warn("`{}` stays FROZEN here: the destination {} may have run it and did not confirm that it undid that; "
              "check there, then cove-unfreeze it here (or cove-destroy -f it)",
              m.ct.name(), m.dest.url());
    return;
  }
  if (m.post_copy)
    if (auto w = await_lazy_dump_end(m); !w) log::warn("thaw `{}`: {}", m.ct.name(), w.error().message());
  if (auto r = m.ct.unfreeze(); !r) log::warn("thaw `{}` after the failed migration: {}", m.ct.name(), r.error().message());
}

// Leave-running, while frozen: the container stays frozen here (dump_freeze keeps a freeze it
// found), ready to be thawed if anything later fails.
Result<void> dump(Migration& m) {
  (void)remove_tree(m.images_dir);
  CheckpointOptions co;
  co.images_dir = m.images_dir;
  co.lazy_pages_socket = m.pages_socket;
  co.lazy_pages_token = m.accepted.pages_token;
  auto r = m.ct.checkpoint(co);
  if (!r) return std::move(r).error();
  m.end();
  return {};
}

void remove_images(Migration& m) {
  if (!m.images_dir.empty()) (void)remove_tree(m.images_dir);
}

// The images as one tar stream into the channel opened before the freeze; done when the
// destination's tar has written them.
Result<void> send_images(Migration& m) {
  int to = m.images_stream->to.get();
  std::vector<std::string> argv = {"tar", "-c", "-b", "256", "-f", "-", "-C", m.images_dir, "."};
  auto tar = process::spawn([&]() -> int {
    ::dup2(to, 1);
    ::signal(SIGPIPE, SIG_DFL);
    migrate::exec_argv(argv);
  });
  m.images_stream->to.reset();
  if (!tar) return std::move(tar).error().context("start tar");
  auto sent = tar->wait();
  auto got = m.images_stream->ssh.wait();
  if (!sent || process::exit_code_of(*sent) != 0) return Error(EIO, "tar of the images failed");
  if (!got || process::exit_code_of(*got) != 0) {
    auto said = read_file(m.images_stream->err_file);
    return Error(EIO, "the destination's tar of the images failed: " + (said ? std::string(trim(*said)) : ""));
  }
  return {};
}

Result<void> final_sync(Migration& m) {
  COVE_TRY(m.begin("final sync"));
  COVE_TRY(send_images(m));
  auto st = m.final_rsync.wait();
  if (!st) return std::move(st).error();
  if (int code = process::exit_code_of(*st); code != 0) {
    auto said = read_file(m.final_rsync_err);
    return Error(EIO, fmt::format("rsync: exit status {}: {}", code, said ? std::string(trim(*said)) : ""));
  }
  m.end();
  return {};
}

Result<void> restore(Migration& m) {
  COVE_TRY(m.begin("restore"));
  m.restore_requested = true;
  COVE_TRY(m.channel->send(migrate::RestoreRequest{}));
  auto r = migrate::expect<migrate::Running>(*m.channel, kRestoreTimeoutMs);
  if (!r) return with_remote_stderr(std::move(r).error(), m).context("destination");
  m.rep.restore_ms = r->restore_ms;
  m.running_at = monotonic_ms();
  m.rep.downtime_ms = m.running_at - m.frozen_at;
  m.end();
  return {};
}

// A commit that could not be written never reached the destination: the rollbacks still apply.
Result<void> send_commit(Migration& m) {
  COVE_TRY(m.begin("resume"));
  return m.channel->send(migrate::Commit{});
}

// From here the destination may own the container: this side never thaws it again.
Result<void> await_commit_ack(Migration& m) {
  auto r = migrate::expect<migrate::Committed>(*m.channel, kCommitTimeoutMs);
  if (!r)
    return std::move(r).error().context(fmt::format(
        "no answer to the commit: `{}` may run on {} now; it stays FROZEN here (check the destination, then "
        "cove-destroy -f or cove-unfreeze it here)",
        m.ct.name(), m.dest.url()));
  m.end();
  return {};
}

// Post-copy: the container runs on the destination and pulls its memory from the frozen copy
// here. That copy is never thawed again; if the transfer fails the container is lost (the
// destination kills it) and this copy stays FROZEN as it was at the freeze.
Result<void> await_pages(Migration& m) {
  if (!m.post_copy) return {};
  m.stage = "pages";
  m.stage_t0 = m.running_at;
  if (m.opts.on_stage_start) m.opts.on_stage_start(m.stage);
  // Only the destination's own `failed` says the container is lost; a session that ends
  // without a word leaves it unknown (the pages may all have arrived: it may run there).
  auto msg = m.channel->receive(-1);
  if (msg && std::holds_alternative<migrate::Failed>(*msg))
    return from_wire(std::get<migrate::Failed>(*msg).error)
        .context(fmt::format("post-copy: `{}` ran on {} but its memory did not all arrive: it is lost there; its "
                             "copy here stays FROZEN as of the freeze (what ran there since is gone): cove-destroy -f "
                             "it, or cove-unfreeze it to go back to that state",
                             m.ct.name(), m.dest.url()));
  std::string unknown = fmt::format("post-copy: `{}` runs on {}, and whether all its memory arrived is unknown; its "
                                    "copy here stays FROZEN: check the destination before anything here (do not "
                                    "cove-unfreeze it while it may run there)",
                                    m.ct.name(), m.dest.url());
  if (!msg) return with_remote_stderr(std::move(msg).error(), m).context(unknown);
  if (!std::holds_alternative<migrate::Pages>(*msg))
    return Error(EPROTO, fmt::format("expected `pages`, got `{}`", migrate::message_name(*msg))).context(unknown);
  if (auto w = await_lazy_dump_end(m); !w)
    return std::move(w).error().context(fmt::format(
        "every page arrived on {} and `{}` runs there; its copy here stays FROZEN: cove-destroy -f it", m.dest.url(),
        m.ct.name()));
  m.end();
  return {};
}

Result<void> clean_up_source(Migration& m) {
  // No interrupt check: the container runs on the destination, this copy must go.
  m.stage = "clean up source";
  m.stage_t0 = monotonic_ms();
  if (m.opts.on_stage_start) m.opts.on_stage_start(m.stage);
  remove_images(m);
  (void)end_session(m);
  StopOptions so;
  so.kill = true;
  std::string runs_there = fmt::format("`{}` runs on {}; its copy here", m.ct.name(), m.dest.url());
  if (auto r = m.ct.stop(so); !r) return std::move(r).error().context(runs_there + " (FROZEN) was not stopped");
  if (!m.opts.keep_source)
    if (auto r = m.ct.destroy(false); !r) return std::move(r).error().context(runs_there + " was not removed");
  m.rep.source_kept = m.opts.keep_source;
  m.end();
  return {};
}

constexpr Step<Migration> kMigrationSteps[] = {
    // A cleanup, not a rollback: it also runs when validate itself fails (the destination
    // refused the offer), so that the source returns only once the destination has undone its
    // claims (a rollback runs only for a step that succeeded).
    {"validate", validate, nullptr, close_session},
    {"sync rootfs", sync_rootfs},
    {"open the final sync", open_final_sync, stop_final_sync},
    {"open the images' channel", open_images_stream, close_images_stream},
    {"open the page stream", open_page_stream},
    {"freeze", freeze, thaw},
    {"start the final sync", start_final_sync},
    {"dump", dump, nullptr, remove_images},
    {"final sync", final_sync},
    {"restore", restore},
    {"commit", send_commit},
    {"await the commit's answer", await_commit_ack, nullptr, nullptr, StepKind::kPointOfNoReturn},
    {"await the pages", await_pages},
    {"clean up the source", clean_up_source},
};

}  // namespace

const char* migrate_mode_name(MigrateMode m) {
  switch (m) {
    case MigrateMode::kAuto: return "auto";
    case MigrateMode::kStopAndCopy: return "stop-and-copy";
    case MigrateMode::kPostCopy: return "post-copy";
  }
  return "?";
}

Result<MigrateReport> Container::migrate(const MigrateOptions& opts) {
  COVE_TRY(validate_name(name_));
  if (!criu::available()) return criu::unavailable_error();
  auto dest = migrate::parse_destination(opts.destination);
  if (!dest) return std::move(dest).error();
  Migration m(*this, opts);
  m.dest = std::move(*dest);
  m.rep.destination = m.dest.url();
  int64_t t0 = monotonic_ms();
  StepRunner<Migration> steps("migrate", m);
  COVE_TRY(steps.run(kMigrationSteps));
  steps.commit();
  m.rep.total_ms = monotonic_ms() - t0;
  return std::move(m.rep);
}

}  // namespace cove
