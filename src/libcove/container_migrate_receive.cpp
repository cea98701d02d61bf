// Container::receive_migration: the destination's side of a migration (`cove migrate
// --receive`, run by the source through ssh), as a list of steps whose rollbacks remove
// everything made here — the container's directory and id range claim, the images, a restored
// container — unless the source commits. See migrate/wire.hpp for the protocol and
// doc/design/migration.md for the states.
#include <fmt/format.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdlib>
#include <string_view>

#include "base/clock.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/step_list.hpp"
#include "base/stream_socket.hpp"
#include "base/strings.hpp"
#include "container.hpp"
#include "container_internal.hpp"
#include "criu/features.hpp"
#include "criu/rpc_client.hpp"
#include "images/image_store.hpp"
#include "storage/backend.hpp"
#include "migrate/channel.hpp"
#include "migrate/host_facts.hpp"
#include "network/managed_network.hpp"
#include "ns/idmap_registry.hpp"
#include "host_config.hpp"
#include "paths.hpp"

namespace cove {

namespace {

constexpr int kOfferTimeoutMs = 60 * 1000;
// Room the rootfs needs beyond its size here (metadata, the restore's log, a loop image's slack).
constexpr uint64_t kDiskMarginBytes = 64ULL << 20;

struct Reception {
  Reception(Container& c, migrate::Channel& channel) : ct(c), p(c.lxcpath(), c.name()), ch(channel) {}
  Container& ct;
  ContainerPaths p;
  migrate::Channel& ch;
  migrate::Offer offer;
  std::string images_dir;
  std::string go_dir;  // holds the final sync's fifo
  bool accepted = false;
  int64_t restore_ms = 0;
  // Post-copy: the page stream's listener (in go_dir), and the `criu lazy-pages` daemon that
  // fills the restored container's memory from it.
  bool post_copy = false;
  UniqueFd pages_listener;
  std::string pages_address, source_address;  // --transport page-server: our end, the source's
  unsigned pages_port = 0;
  std::string pages_token;  // what the source's page stream begins with (64 hex digits)
  process::ChildProcess lazy_daemon;
  int64_t running_at = 0;
  // An overlay's lowers: the source's path of each image, and this host's.
  struct Lower {
    std::string source, here;
  };
  std::vector<Lower> lowers;
};

// The checks, each a named rule adding what it finds to `problems`.
void check_versions(const migrate::Offer& o, std::vector<std::string>& problems) {
  if (o.cove_version != COVE_VERSION)
    problems.push_back(fmt::format("cove {} here, {} at the source", COVE_VERSION, o.cove_version));
  auto criu = criu::probe();
  if (!criu) problems.push_back("CRIU: " + criu.error().message());
  else if (criu->version != o.criu_version)
    problems.push_back(fmt::format("CRIU {} here, {} at the source", criu->version, o.criu_version));
}

void check_name(const Reception& r, std::vector<std::string>& problems) {
  if (r.offer.name != r.ct.name())
    problems.push_back(fmt::format("the offer is for `{}`, not `{}`", r.offer.name, r.ct.name()));
  if (path_exists(r.p.dir()))
    problems.push_back(fmt::format("a container `{}` exists in `{}`", r.ct.name(), r.p.lxcpath()));
  if (!is_directory(r.p.lxcpath())) problems.push_back(fmt::format("no cove path `{}`", r.p.lxcpath()));
}

// CRIU opens each restored task's userfaultfd inside the task, that is inside the container's
// user namespace for an unprivileged container, where the kernel allows it only with
// vm.unprivileged_userfaultfd = 1 (CAP_SYS_PTRACE of the initial namespace otherwise). Host
// policy: named, never changed.
void check_post_copy(const migrate::Offer& o, std::vector<std::string>& problems) {
  if (o.mode != "post-copy") return;
  auto criu = criu::probe();
  if (criu && !criu->lazy_pages)
    problems.push_back("post-copy: CRIU here cannot restore lazily (no userfaultfd with non-cooperative events)");
  bool userns = !o.uids.empty() || !o.gids.empty();
  auto knob = read_file("/proc/sys/vm/unprivileged_userfaultfd");
  if (userns && (!knob || trim(*knob) != "1"))
    problems.push_back("post-copy of a container with a user namespace needs `sysctl vm.unprivileged_userfaultfd=1` "
                       "here (CRIU opens userfaultfd inside the container's user namespace)");
}

// An overlay's lowers are images this host must hold (by content hash): only the upper layer
// comes. Their paths here replace the source's in the config before the restore.
void check_lower_images(Reception& r, std::vector<std::string>& problems) {
  images::ImageStore store(r.p.lxcpath());
  if (r.offer.lower_images.empty()) problems.push_back("an overlay without images as its lowers cannot be received");
  for (const auto& l : r.offer.lower_images) {
    auto img = store.find(l.hash);
    if (!img || img->hash != l.hash) {
      problems.push_back(fmt::format("image {} (the lower `{}` at the source) is not in `{}`: import it here first "
                                     "(cove-image export there, cove-image import here)",
                                     l.hash, l.path, store.root()));
      continue;
    }
    r.lowers.push_back({l.path, img->rootfs()});
  }
}

void check_storage(Reception& r, std::vector<std::string>& problems) {
  const auto& o = r.offer;
  if (o.shared_storage) return;
  if (o.backend == "overlay") return check_lower_images(r, problems);
  // btrfs: the backend's own check (the cove path on btrfs) runs when the subvolume is made,
  // still before anything is accepted.
  if (o.backend != "dir" && o.backend != "loop" && o.backend != "btrfs")
    problems.push_back(fmt::format("storage backend `{}` cannot be received (dir, loop, btrfs and overlay over "
                                   "images can)",
                                   o.backend));
}

void check_links(const migrate::Offer& o, std::vector<std::string>& problems) {
  for (const auto& l : o.links)
    // if_nametoindex asks this network namespace (/sys/class/net shows the mounter's).
    if (!network::is_managed_network(l) && ::if_nametoindex(l.c_str()) == 0)
      problems.push_back(fmt::format("no network or link `{}`", l));
}

void check_resources(const Reception& r, std::vector<std::string>& problems) {
  const auto& o = r.offer;
  if (auto free = migrate::free_bytes(r.p.lxcpath()); free && *free < o.rootfs_bytes + kDiskMarginBytes)
    problems.push_back(fmt::format("{} MiB free in `{}`, the rootfs needs {} MiB", *free >> 20, r.p.lxcpath(),
                                   (o.rootfs_bytes + kDiskMarginBytes) >> 20));
  if (auto mem = migrate::memory_available(); mem && *mem < o.memory_bytes)
    problems.push_back(fmt::format("{} MiB of memory available, the container uses {} MiB", *mem >> 20,
                                   o.memory_bytes >> 20));
  if (auto missing = migrate::missing_flags(o.cpu_flags, migrate::cpu_flags()); !missing.empty())
    problems.push_back("CPU flags missing here: " + join(missing, " "));
}

std::vector<ns::HostRange> host_ranges(const std::vector<migrate::IdRange>& rs) {
  std::vector<ns::HostRange> out;
  for (const auto& r : rs) out.push_back({r.first, r.count});
  return out;
}

template <typename T>
Result<void> ignore_value(Result<T> r) {
  if (!r) return std::move(r).error();
  return {};
}

// Steps ---------------------------------------------------------------------------------------

Result<void> read_offer(Reception& r) {
  auto o = migrate::expect<migrate::Offer>(r.ch, kOfferTimeoutMs);
  if (!o) return std::move(o).error();
  r.offer = std::move(*o);
  r.post_copy = r.offer.mode == "post-copy";
  return {};
}

Result<void> check_offer(Reception& r) {
  std::vector<std::string> problems;
  check_versions(r.offer, problems);
  check_name(r, problems);
  check_storage(r, problems);
  check_post_copy(r.offer, problems);
  check_links(r.offer, problems);
  check_resources(r, problems);
  if (!problems.empty()) return Error(EINVAL, join(problems, "; "));
  return {};
}

// The name and the id ranges are ours from here (a create or another migration meets them).
Result<void> claim_name_and_ids(Reception& r) {
  COVE_TRY(detail::claim_container_dir(r.ct.name(), r.p));
  if (r.offer.uids.empty() && r.offer.gids.empty()) return {};
  if (auto c = ns::registry_claim(r.p.config(), host_ranges(r.offer.uids), host_ranges(r.offer.gids)); !c) {
    (void)remove_tree(r.p.dir());
    return std::move(c).error().context("host ids");
  }
  return {};
}

bool fault_is(std::string_view point);

void remove_container(Reception& r) {
  if (fault_is("refuse-after-claim")) ::sleep(2);
  detail::remove_container_files(r.p);
}

storage::Layout btrfs_layout(const Reception& r, std::optional<uint64_t> size) {
  storage::Layout l;
  l.dir = r.p.dir();
  l.rootfs = r.p.rootfs();
  l.cfg.backend = config::StorageBackend::kBtrfs;
  l.cfg.size = size;
  return l;
}

// A btrfs rootfs arrives by rsync into a subvolume made here (its quota set once the config
// has come, before the restore).
Result<void> make_rootfs_subvolume(Reception& r) {
  if (r.offer.backend != "btrfs" || r.offer.shared_storage) return {};
  auto b = storage::backend_for(config::StorageBackend::kBtrfs);
  if (!b) return std::move(b).error();
  return (*b)->create(btrfs_layout(r, std::nullopt));
}

// Its subvolume goes with it (a subvolume's directory cannot be removed as a tree).
void remove_rootfs_subvolume(Reception& r) {
  if (r.offer.backend != "btrfs" || r.offer.shared_storage || !path_exists(r.p.rootfs())) return;
  if (auto b = storage::backend_for(config::StorageBackend::kBtrfs); b)
    if (auto d = (*b)->destroy(btrfs_layout(r, std::nullopt)); !d)
      log::warn("remove `{}`: {}", r.p.rootfs(), d.error().message());
}

// The images come as a tar stream into this dir (made here, so that a stream that comes late
// after a rollback finds nothing to write into), and go once the restore has read them.
Result<void> make_images_dir(Reception& r) {
  r.images_dir = r.p.dir() + "/.migrate-images";
  if (::mkdir(r.images_dir.c_str(), 0700) < 0) return Error::from_errno(errno, "mkdir `" + r.images_dir + "`");
  return {};
}

// In the host's runtime dir (a tmpfs), named with a dot so that scans of it skip it.
Result<void> make_go_fifo(Reception& r) {
  const std::string& run = host_config().runtime_dir;
  if (auto m = mkdir_p(run, 0755); !m) return std::move(m).error().context("make the runtime dir");
  std::string tmpl = run + "/.migrate-" + r.ct.name() + ".XXXXXX";
  if (!::mkdtemp(tmpl.data())) return Error::from_errno(errno, "make a dir for the final sync's fifo");
  r.go_dir = tmpl;
  if (::mkfifo((r.go_dir + "/go").c_str(), 0600) < 0) return Error::from_errno(errno, "mkfifo");
  return {};
}

// A final sync's `cat FIFO` still waiting is released first (it would wait forever): its
// rsync then meets the closed channel and ends.
void remove_go_dir(Reception& r) {
  if (r.go_dir.empty()) return;
  UniqueFd(::open((r.go_dir + "/go").c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  (void)remove_tree(r.go_dir);
}

// The remote rsync of the final sync waits in `cat FIFO`: opening the fifo for writing and
// closing it lets it run. Its reader may not be there yet (the ssh channel still opening).
constexpr int kGoTimeoutMs = 60 * 1000;
Result<void> release_final_sync(const Reception& r) {
  std::string fifo = r.go_dir + "/go";
  for (int64_t end = monotonic_ms() + kGoTimeoutMs;; ::usleep(5000)) {
    UniqueFd fd(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    if (fd) return {};
    if (errno != ENXIO) return Error::from_errno(errno, "open `" + fifo + "`");
    if (monotonic_ms() > end) return Error(ETIMEDOUT, "the final sync's rsync never came");
  }
}

// 32 random bytes as hex: the page stream's token, sent to the source over ssh (`accepted`).
Result<std::string> random_token() {
  unsigned char b[32];
  if (::getrandom(b, sizeof b, 0) != ssize_t(sizeof b)) return Error::from_errno(errno, "getrandom");
  std::string out;
  for (unsigned char c : b) out += fmt::format("{:02x}", c);
  return out;
}

// Post-copy: the source forwards a socket of its own to this one over its ssh master; its CRIU
// connects before the dump, so the connection waits in the backlog until the restore.
// --transport page-server: a TCP listener on our address of the ssh connection (sshd's
// SSH_CONNECTION: "CLIENT_IP CLIENT_PORT SERVER_IP SERVER_PORT"); only a connection from the
// source's address of it is taken.
Result<void> listen_for_tcp_pages(Reception& r) {
  const char* conn = std::getenv("SSH_CONNECTION");
  auto words = conn ? split(conn, ' ') : std::vector<std::string>{};
  if (words.size() != 4) return Error(EINVAL, "--transport page-server: no SSH_CONNECTION to learn the addresses from");
  r.source_address = words[0];
  r.pages_address = words[2];
  auto l = listen_tcp(r.pages_address);
  if (!l) return std::move(l).error().context("listen for the page stream");
  r.pages_listener = std::move(l->fd);
  r.pages_port = l->port;
  return {};
}

Result<void> listen_for_pages(Reception& r) {
  if (!r.post_copy) return {};
  auto token = random_token();
  if (!token) return std::move(token).error();
  r.pages_token = std::move(*token);
  if (r.offer.transport == "page-server") return listen_for_tcp_pages(r);
  auto l = listen_unix(r.go_dir + "/pages");
  if (!l) return std::move(l).error().context("listen for the page stream");
  r.pages_listener = std::move(*l);
  return {};
}

// `criu lazy-pages` in the restore's work dir (the container's directory), where the restore
// finds its socket; it reads the page maps from the images and pulls the pages from the
// source's CRIU over the page stream, first those the restored tasks fault on, then the rest,
// and exits 0 once it has them all. Ready when it writes its status byte.
constexpr int kPageStreamTimeoutMs = 30 * 1000;
constexpr int kDaemonReadyTimeoutMs = 30 * 1000;

bool same_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// The source's connection: from the source's address (on TCP) and beginning with the token.
// Any other is closed unread: a process on the source host may race the source's CRIU to a
// TCP port, and pages it sent would become the container's memory.
constexpr int kTokenTimeoutMs = 5 * 1000;
constexpr int kPageStreamSilenceS = 15;
Result<UniqueFd> accept_page_stream(Reception& r) {
  for (int64_t end = monotonic_ms() + kPageStreamTimeoutMs;;) {
    auto s = accept_within(r.pages_listener.get(), int(std::max<int64_t>(0, end - monotonic_ms())));
    if (!s) return s;
    auto peer = peer_address(s->get());
    std::string who = peer ? *peer : std::string("?");
    if (!r.source_address.empty() && who != r.source_address) {
      log::warn("page stream: a connection from `{}`, not the source `{}`: closed", who, r.source_address);
      continue;
    }
    auto token = recv_exactly_within(s->get(), r.pages_token.size(), kTokenTimeoutMs);
    if (token && same_secret(*token, r.pages_token)) {
      // `criu lazy-pages` waits on it with no bound: a source gone silent must end it.
      if (!r.source_address.empty()) COVE_TRY(fail_when_peer_silent(s->get(), kPageStreamSilenceS));
      return s;
    }
    log::warn("page stream: a connection from `{}` without the token ({}): closed", who,
              token ? "a wrong one" : token.error().message());
  }
}

Result<void> start_lazy_pages(Reception& r) {
  if (!r.post_copy) return {};
  auto stream = accept_page_stream(r);
  if (!stream) return std::move(stream).error().context("the source's page stream");
  int st[2];
  if (::pipe2(st, O_CLOEXEC) < 0) return Error::from_errno(errno, "pipe");
  UniqueFd ready_r(st[0]), ready_w(st[1]);
  std::vector<std::string> argv = {criu::find_criu(), "lazy-pages", "--page-server", "--ps-socket",
                                   std::to_string(stream->get()), "--status-fd", std::to_string(ready_w.get()),
                                   "-D", r.images_dir, "-W", r.p.dir(), "-o", "lazy-pages.log", "-v4"};
  auto child = process::spawn([&] {
    int null = ::open("/dev/null", O_RDWR);
    if (null < 0 || ::fcntl(stream->get(), F_SETFD, 0) < 0 || ::fcntl(ready_w.get(), F_SETFD, 0) < 0) return 127;
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::setenv("GNUTLS_NO_EXPLICIT_INIT", "1", 1);
    ::setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 1);
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(s.data());
    a.push_back(nullptr);
    ::execv(a[0], a.data());
    return 127;
  });
  if (!child) return std::move(child).error().context("start criu lazy-pages");
  r.lazy_daemon = std::move(*child);
  ready_w.reset();
  struct pollfd p = {ready_r.get(), POLLIN, 0};
  char c;
  if (::poll(&p, 1, kDaemonReadyTimeoutMs) <= 0 || ::read(ready_r.get(), &c, 1) != 1)
    return Error(EIO, "criu lazy-pages did not start: " + criu::last_log_errors(r.p.dir() + "/lazy-pages.log"));
  return {};
}

void stop_lazy_pages(Reception& r) {
  if (r.lazy_daemon) r.lazy_daemon.kill_and_reap();
  ::unlink((r.p.dir() + "/lazy-pages.socket").c_str());
}

void remove_images_dir(Reception& r) {
  if (!r.images_dir.empty()) (void)remove_tree(r.images_dir);
}

Result<void> accept(Reception& r) {
  std::string pages = r.post_copy && r.pages_port == 0 ? r.go_dir + "/pages" : "";
  COVE_TRY(r.ch.send(migrate::Accepted{r.p.dir(), r.images_dir, r.go_dir + "/go", pages, r.pages_address, r.pages_port,
                                       r.pages_token}));
  r.accepted = true;
  return {};
}

// The source copies the files, then asks for the restore; no bound, the copy may be long (an
// end of the connection ends the wait).
Result<void> await_files(Reception& r) {
  COVE_TRY(ignore_value(migrate::expect<migrate::FinalSync>(r.ch, -1)));
  if (fault_is("slow-final-sync")) ::sleep(3);
  COVE_TRY(release_final_sync(r));
  return ignore_value(migrate::expect<migrate::RestoreRequest>(r.ch, -1));
}

// The config came from the source (its final sync included): each `lower = PATH` naming an
// image's base there now names the same image's here.
Result<void> use_local_images(const Reception& r) {
  if (r.lowers.empty()) return {};
  auto text = read_file(r.p.config());
  if (!text) return std::move(text).error();
  auto lines = split(*text, '\n');
  for (auto& l : lines) {
    auto t = trim(l);
    auto eq = t.find('=');
    if (eq == std::string_view::npos || trim(t.substr(0, eq)) != "lower") continue;
    std::string v(trim(t.substr(eq + 1)));
    for (const auto& lw : r.lowers)
      if (v == lw.source) {
        l = "lower = " + lw.here;
        break;
      }
  }
  return write_file_atomic(r.p.config(), join(lines, "\n"), 0644);
}

// The received config made this host's and loaded once: its lowers must be the images offered,
// a btrfs rootfs the subvolume made here, which gets the config's quota.
Result<void> adopt_received_config(Reception& r) {
  COVE_TRY(use_local_images(r));
  auto cfg = detail::load_config_of(r.p);
  if (!cfg) return std::move(cfg).error().context("the received config");
  std::vector<std::string> want;
  for (const auto& lw : r.lowers) want.push_back(lw.here);
  if (!r.lowers.empty() && cfg->storage.lower != want)
    return Error(EINVAL, fmt::format("the received config's lowers are `{}`, not the images offered",
                                     join(cfg->storage.lower, "`, `")));
  if (r.offer.backend != "btrfs" || r.offer.shared_storage) return {};
  if (cfg->storage.backend != config::StorageBackend::kBtrfs || cfg->rootfs != r.p.rootfs())
    return Error(EINVAL, "the received config's rootfs is not the btrfs subvolume offered");
  if (!cfg->storage.size) return {};
  auto b = storage::backend_for(config::StorageBackend::kBtrfs);
  if (!b) return std::move(b).error();
  return (*b)->resize(btrfs_layout(r, cfg->storage.size), *cfg->storage.size, 0);
}

Result<void> restore(Reception& r) {
  RestoreOptions ro;
  ro.images_dir = r.images_dir;
  ro.thaw = true;
  ro.lazy_pages = r.post_copy;
  ro.ids_shared_with = r.offer.source;
  int64_t t0 = monotonic_ms();
  auto rep = r.ct.restore(ro);
  if (!rep) return std::move(rep).error();
  r.restore_ms = monotonic_ms() - t0;
  return {};
}

void stop_restored(Reception& r) {
  StopOptions so;
  so.kill = true;
  if (auto s = r.ct.stop(so); !s) log::warn("stop `{}` after the failed migration: {}", r.ct.name(), s.error().message());
}

// A test's faults, named by COVE_MIGRATE_FAULT in the receiver's environment (ssh SendEnv):
// `after-restore` fails the migration with the container restored here (its rollback must
// remove it); `no-ack` keeps a committed container but never acknowledges the commit (the
// source must stay frozen); `pause-after-restore` waits 3 s before reporting RUNNING, the
// window in which a thaw of the frozen source would run the container twice (the source's
// hold must refuse it).
// source must stay frozen); `lose-pages` kills `criu lazy-pages` right after the restore (a
// post-copy transfer that breaks once the container ran here: it is lost, the source stays
// frozen); `slow-final-sync` holds the final rsync 3 s, the source frozen and the restore not
// yet asked for (a window for a test to cut the link in); `refuse-after-claim` refuses the offer
// once the name and ids are claimed here, and takes 2 s to give them back (the source must
// return only once they are).
bool fault_is(std::string_view point) {
  const char* f = std::getenv("COVE_MIGRATE_FAULT");
  return f && point == f;
}

Result<void> injected_fault(Reception& r) {
  if (fault_is("after-restore")) return Error(EIO, "fault injected after the restore (COVE_MIGRATE_FAULT)");
  if (fault_is("pause-after-restore")) ::sleep(3);
  if (fault_is("lose-pages") && r.lazy_daemon) (void)r.lazy_daemon.signal(SIGKILL);
  return {};
}

Result<void> refusal_fault(Reception&) {
  if (fault_is("refuse-after-claim")) return Error(EIO, "fault injected after the claim (COVE_MIGRATE_FAULT)");
  return {};
}

Result<void> report_running(Reception& r) {
  r.running_at = monotonic_ms();
  return r.ch.send(migrate::Running{r.restore_ms});
}

Result<void> await_commit(Reception& r) { return ignore_value(migrate::expect<migrate::Commit>(r.ch, -1)); }

Result<void> acknowledge_commit(Reception& r) {
  if (fault_is("no-ack")) return {};
  return r.ch.send(migrate::Committed{});
}

// Post-copy, after the commit: the container runs here, and the source's frozen copy holds the
// only copy of the memory not yet pulled. A failed transfer loses the container: it is killed
// here (a task touching a page that never came would read zeros once the daemon is gone).
Result<void> await_pages(Reception& r) {
  if (!r.post_copy) return {};
  auto st = r.lazy_daemon.wait();
  int code = st ? process::exit_code_of(*st) : -1;
  ::unlink((r.p.dir() + "/lazy-pages.socket").c_str());
  if (code == 0) return r.ch.send(migrate::Pages{monotonic_ms() - r.running_at});
  stop_restored(r);
  std::string log = criu::last_log_errors(r.p.dir() + "/lazy-pages.log");
  return Error(EIO, fmt::format("post-copy: the memory transfer failed after `{}` ran here, so it is lost "
                                "(killed here; the rest of its memory was only at the source): criu lazy-pages: "
                                "exit status {}{}",
                                r.ct.name(), code, log.empty() ? "" : ": " + log));
}

constexpr Step<Reception> kReceiveSteps[] = {
    {"read the offer", read_offer},
    {"check the offer", check_offer},
    {"claim the name and the host ids", claim_name_and_ids, remove_container},
    {"check for an injected refusal", refusal_fault},
    {"make the rootfs subvolume", make_rootfs_subvolume, remove_rootfs_subvolume},
    {"make the images dir", make_images_dir, nullptr, remove_images_dir},
    {"make the final sync's fifo", make_go_fifo, nullptr, remove_go_dir},
    {"listen for the page stream", listen_for_pages},
    {"accept", accept},
    {"await the files", await_files},
    {"adopt the received config", adopt_received_config},
    {"start criu lazy-pages", start_lazy_pages, stop_lazy_pages},
    {"restore", restore, stop_restored},
    {"check for an injected fault", injected_fault},
    {"report running", report_running},
    {"await the commit", await_commit},
    {"acknowledge the commit", acknowledge_commit, nullptr, nullptr, StepKind::kPointOfNoReturn},
    {"await the pages", await_pages},
};

}  // namespace

Result<void> Container::receive_migration(int in_fd, int out_fd) {
  COVE_TRY(validate_name(name_));
  migrate::Channel ch{UniqueFd(in_fd), UniqueFd(out_fd)};
  Reception r(*this, ch);
  StepRunner<Reception> steps("receive migration", r);
  auto done = steps.run(kReceiveSteps);
  if (!done) {
    // Said before the rollbacks run: the source waits for the end of the session, which comes
    // once they are done.
    auto e = to_wire(done.error());
    (void)ch.send(r.accepted ? migrate::Message(migrate::Failed{e}) : migrate::Message(migrate::Refused{e}));
    return std::move(done).error();
  }
  steps.commit();
  return {};
}

}  // namespace cove
