#include "build/build_steps.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "base/fs.hpp"
#include "base/interrupt.hpp"
#include "base/scope_exit.hpp"
#include "base/sha256.hpp"
#include "base/syscalls.hpp"
#include "build/copy_step.hpp"
#include "config/edit.hpp"
#include "config/load.hpp"
#include "container.hpp"
#include "images/export_config.hpp"
#include "images/image_store.hpp"
#include "paths.hpp"
#include "storage/backend.hpp"
#include "storage/mount_api.hpp"
#include "templates/template_runner.hpp"

namespace cove::build {

namespace {

// What a build container runs as init: nothing but a wait for its commands (attach).
const std::vector<std::string> kIdleInit = {"/bin/sh", "-c", "while :; do sleep 3600; done"};
constexpr int kStopTimeoutMs = 30000;

Result<config::ContainerConfig> load_of(const ContainerPaths& p) {
  config::LoadOptions lo;
  lo.name = p.name();
  lo.default_rootfs = p.rootfs();
  lo.validate = false;
  return config::load_config(p.config(), lo);
}

// The build container's config: the base's, as an overlay over `below` (top first).
std::string run_config(const std::string& base, const std::vector<Layer>& below) {
  std::string text = config::remove_key_in_text(base, "rootfs", "size");
  text = config::remove_key_in_text(text, "container", "ephemeral");
  text = config::remove_key_in_text(text, "rootfs", "lower");
  text = config::set_key_in_text(text, "rootfs", "backend", "overlay", false);
  // A build container needs no LXCFS view (and warns without one).
  text = config::set_key_in_text(text, "mount", "lxcfs", "off", false);
  for (auto it = below.rbegin(); it != below.rend(); ++it) text = config::set_key_in_text(text, "rootfs", "lower", it->tree, true);
  return text;
}

// Runs `argv` in the running container `ct` from a helper process (it dies with us:
// PR_SET_PDEATHSIG, and holds none of our fds), so that a Ctrl+C can end the command: the
// container is killed, and the helper's attach returns.
Result<int> run_attached(Container& ct, const AttachOptions& ao) {
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return Error::from_errno(errno, "fork");
  if (pid == 0) {
    (void)::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(125);
    ::close_range(3, ~0U, 0);
    auto r = ct.attach(ao);
    if (!r) {
      std::string m = "cove-build: RUN: " + r.error().message() + "\n";
      (void)!::write(2, m.data(), m.size());
      ::_exit(125);
    }
    ::_exit(*r & 0xff);
  }
  UniqueFd pidfd(sys::pidfd_open(pid, 0));
  bool killed = false;
  for (;;) {
    struct pollfd p = {pidfd.get(), POLLIN, 0};
    int n = pidfd ? ::poll(&p, 1, 100) : 0;
    if (n > 0) break;
    if (!pidfd) {  // no pidfd: poll the child instead
      int st;
      if (::waitpid(pid, &st, WNOHANG) == pid) return Error(ECANCELED, "RUN helper reaped early");
      ::usleep(100000);
    }
    if (interrupted() && !killed) {
      StopOptions so;
      so.kill = true;
      (void)ct.stop(so);
      killed = true;
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (interrupted()) return Error(ECANCELED, "interrupted");
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

Result<std::string> read_layer_file(const std::string& dir, const char* name) {
  std::string f = dir + "/" + name;
  if (!path_exists(f)) return std::string();
  return read_file(f);
}

}  // namespace

Result<std::string> Steps::base_key_of(const Step& from) {
  if (from.arg == "image") {
    auto img = images::ImageStore(dirname_of(cache_.root())).find(from.ref);
    if (!img) return std::move(img).error().context("image `" + from.ref + "`");
    return base_key("image", img->hash, {}, img->hash);
  }
  std::string exe = templates::find_template(from.ref);
  auto content = read_file(exe);
  if (!content) return std::move(content).error().context("template `" + from.ref + "`");
  return base_key("template", from.ref, from.args, sha256_hex(*content));
}

Result<std::optional<Layer>> Steps::find(const Step& s, const std::string& key) {
  Layer l{key, cache_.tree(key), "", ""};
  if (s.kind == StepKind::kFrom && s.arg == "image") {
    images::ImageStore store(dirname_of(cache_.root()));
    auto img = store.find(s.ref);
    if (!img) return std::move(img).error().context("image `" + s.ref + "`");
    auto text = store.config_text(*img);
    if (!text) return std::move(text).error();
    l.tree = img->rootfs();
    l.config = *text;
    l.source = img->metadata.source;
  } else if (!cache_.has(key)) {
    return std::optional<Layer>();
  } else if (s.kind == StepKind::kFrom) {
    auto config = read_layer_file(cache_.layer_dir(key), "config");
    auto source = read_layer_file(cache_.layer_dir(key), "source");
    if (!config || !source) return Error(EIO, "layer `" + key + "` has no readable config or source");
    l.config = *config;
    l.source = *source;
  }
  if (s.kind == StepKind::kFrom) base_config_ = l.config;
  return std::optional<Layer>(std::move(l));
}

// A container made by the template (backend dir: its rootfs holds container ids), whose rootfs
// and config become the base layer.
Result<Layer> Steps::make_base(const Step& from, const std::string& key) {
  Container ct(cache_.containers_dir(), scratch_.container_name());
  CreateOptions co;
  co.template_name = from.ref;
  co.template_args = from.args;
  COVE_TRY(ct.create(co));
  ScopeExit destroy([&] { (void)ct.destroy(true); });
  ContainerPaths p(ct.lxcpath(), ct.name());
  auto cfg = load_of(p);
  if (!cfg) return std::move(cfg).error();
  if (cfg->storage.backend != config::StorageBackend::kDir || cfg->rootfs != p.rootfs())
    return Error::invalid("the default config's rootfs is not a `dir` backend in the container's directory");
  auto text = read_file(p.config());
  if (!text) return std::move(text).error();
  Layer l{key, cache_.tree(key), images::exported_config(*text), ct.name()};
  COVE_TRY(cache_.commit(scratch_, key, p.rootfs(), {{"step", from.text + "\n"}, {"config", l.config}, {"source", l.source}}));
  base_config_ = l.config;
  return l;
}

Result<Layer> Steps::run(const Step& s, const std::string& key, const std::vector<Layer>& below,
                         const std::vector<std::string>& env) {
  std::string conf = scratch_.dir + "/build.conf";
  COVE_TRY(write_file(conf, run_config(base_config_, below), 0600));
  Container ct(cache_.containers_dir(), scratch_.container_name());
  CreateOptions co;
  co.config_file = conf;
  if (auto r = ct.create(co); !r) return std::move(r).error().context("build container");
  ScopeExit destroy([&] { (void)ct.destroy(true); });
  StartOptions so;
  so.init_override = kIdleInit;
  if (auto r = ct.start(so); !r) return std::move(r).error().context("start the build container");
  AttachOptions ao;
  ao.argv = {"/bin/sh", "-c", s.arg};
  ao.set_env = env;
  ao.pty = false;
  auto status = run_attached(ct, ao);
  StopOptions stop;
  stop.kill = true;
  (void)ct.stop(stop);
  if (!status) return std::move(status).error();
  if (*status != 0) return Error(ECHILD, fmt::format("the command exited with status {}", *status));
  COVE_TRY(ct.wait(ContainerState::kStopped, kStopTimeoutMs));
  // The upper layer holds host ids (overlay_backend.cpp): back to the container's own.
  ContainerPaths p(ct.lxcpath(), ct.name());
  auto cfg = load_of(p);
  if (!cfg) return std::move(cfg).error();
  auto layout = storage::layout_of(p.dir(), *cfg);
  std::string upper = layout.overlay_dir() + "/upper";
  if (!layout.maps.empty()) COVE_TRY(storage::reshift_tree(upper, layout.maps, storage::IdMaps{}));
  COVE_TRY(cache_.commit(scratch_, key, upper, {{"step", s.text + "\n"}}));
  return Layer{key, cache_.tree(key), "", ""};
}

Result<Layer> Steps::copy(const Step& s, const std::string& key, const std::vector<Layer>& below) {
  std::string upper = scratch_.dir + "/upper", work = scratch_.dir + "/work";
  for (const auto& d : {upper, work})
    if (is_directory(d)) COVE_TRY(remove_tree(d));
  // The upper's root takes the mode of the top layer's root (overlayfs shows the upper's).
  struct stat top;
  if (::stat(below.back().tree.c_str(), &top) < 0) return Error::from_errno(errno, "stat `" + below.back().tree + "`");
  if (::mkdir(upper.c_str(), top.st_mode & 07777) < 0 || ::chown(upper.c_str(), top.st_uid, top.st_gid) < 0 ||
      ::chmod(upper.c_str(), top.st_mode & 07777) < 0)
    return Error::from_errno(errno, "make `" + upper + "`");
  if (::mkdir(work.c_str(), 0700) < 0) return Error::from_errno(errno, "make `" + work + "`");
  {
    std::vector<UniqueFd> fds;
    storage::OverlayLayers ol;
    for (auto it = below.rbegin(); it != below.rend(); ++it) {
      auto t = storage::clone_path(it->tree);
      if (!t) return std::move(t).error().context("layer `" + it->key + "`");
      ol.lowers.push_back(t->get());
      fds.push_back(std::move(*t));
    }
    UniqueFd up(::open(upper.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)), wk(::open(work.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!up || !wk) return Error::from_errno(errno, "open the COPY layer");
    ol.upper = up.get();
    ol.work = wk.get();
    auto m = storage::mount_overlay(ol);
    if (!m) return std::move(m).error().context("mount the layers for COPY");
    COVE_TRY(copy_into_root(recipe_dir_, s.arg, m->get(), s.ref));
  }  // the detached overlay is unmounted here, with its last fd
  COVE_TRY(remove_tree(work));
  COVE_TRY(cache_.commit(scratch_, key, upper, {{"step", s.text + "\n"}}));
  return Layer{key, cache_.tree(key), "", ""};
}

}  // namespace cove::build
