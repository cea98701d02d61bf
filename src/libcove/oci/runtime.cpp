#include "oci/runtime.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/fd_passing.hpp"
#include "base/fs.hpp"
#include "base/list_dir.hpp"
#include "base/log.hpp"
#include "base/proc_stat.hpp"
#include "base/scope_exit.hpp"
#include "base/signals.hpp"
#include "base/strings.hpp"
#include "base/syscalls.hpp"
#include "base/clock.hpp"
#include "cgroup/cgroup.hpp"
#include "lifecycle/attach.hpp"
#include "lifecycle/start_sequence.hpp"
#include "oci/hooks.hpp"
#include "oci/runtime_internal.hpp"
#include "oci/spec.hpp"
#include "oci/translate.hpp"
#include "process/child_process.hpp"
#include "state/container_state.hpp"

namespace cove::oci {

using Json = nlohmann::json;
using namespace detail;

const char* status_name(Status s) {
  switch (s) {
    case Status::kCreating: return "creating";
    case Status::kCreated: return "created";
    case Status::kRunning: return "running";
    case Status::kPaused: return "paused";
    case Status::kStopped: return "stopped";
  }
  return "unknown";
}

Result<void> check_id(const std::string& id) {
  bool ok = !id.empty() && id.size() <= 1024 && id[0] != '.';
  for (char c : id) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '+' || c == '-' || c == '.');
  if (!ok) return Error::invalid("invalid container id `" + id + "` (letters, digits, `_+-.`, not starting with `.`)");
  return {};
}

Result<int> parse_signal(const std::string& text) {
  auto s = cove::parse_signal(text);
  if (!s || *s <= 0 || *s >= NSIG) return Error::invalid("unknown signal `" + text + "`");
  return *s;
}

namespace detail {

constexpr const char* kStateFile = "state.json";
constexpr const char* kGate = "exec.fifo";

std::string encode(const Record& r) {
  Json j = {{"id", r.id},         {"bundle", r.bundle},   {"rootfs", r.rootfs},         {"created", r.created},
            {"pid", r.pid},       {"start_time", r.start_time}, {"started", r.started}, {"hooks", r.hooks},
            {"annotations", r.annotations}, {"cgroup_dirs", r.cgroup_dirs}};
  return j.dump() + "\n";
}

Result<Record> decode(const std::string& text, const std::string& file) {
  try {
    Json j = Json::parse(text);
    Record r;
    r.id = j.at("id").get<std::string>();
    r.bundle = j.at("bundle").get<std::string>();
    r.rootfs = j.at("rootfs").get<std::string>();
    r.created = j.at("created").get<std::string>();
    r.pid = j.at("pid").get<pid_t>();
    r.start_time = j.at("start_time").get<uint64_t>();
    r.started = j.at("started").get<bool>();
    r.hooks = j.value("hooks", false);
    r.annotations = j.at("annotations").get<std::map<std::string, std::string>>();
    r.cgroup_dirs = j.at("cgroup_dirs").get<std::vector<std::string>>();
    return r;
  } catch (const std::exception& e) {
    return Error(EIO, "`" + file + "`: damaged state: " + e.what());
  }
}

// Init's start time, 0 when it is gone or a zombie (dead, its status not yet reaped by the
// engine): a pid with another start time is another process.
uint64_t start_time_of(pid_t pid) {
  auto st = process_starttime(pid);
  if (!st || proc::state_of(pid) == 'Z') return 0;
  return *st;
}

std::string rfc3339_now() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  ::gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:09d}Z", buf, ts.tv_nsec);
}

// The container's directory, locked (flock on the directory itself: a delete that removes it
// leaves later holders a lock on a dead directory, whose missing state says "does not exist").
Result<UniqueFd> lock_dir(const std::string& dir, const std::string& id) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd && errno == ENOENT) return Error(ENOENT, "container `" + id + "` does not exist");
  if (!fd) return Error::from_errno(errno, "open `" + dir + "`");
  if (::flock(fd.get(), LOCK_EX) < 0) return Error::from_errno(errno, "lock `" + dir + "`");
  return fd;
}

Result<Record> load(const std::string& dir, const std::string& id) {
  auto text = read_file(dir + "/" + kStateFile);
  if (!text && text.error().code() == ENOENT) return Error(ENOENT, "container `" + id + "` does not exist");
  if (!text) return std::move(text).error();
  return decode(*text, dir + "/" + kStateFile);
}

Result<void> save(const std::string& dir, const Record& r) {
  return write_file_atomic(dir + "/" + kStateFile, encode(r), 0600, Durability::kVolatile);
}

bool frozen(const std::vector<std::string>& dirs) {
  for (const auto& d : dirs) {
    if (auto s = read_file(d + "/freezer.state"); s && trim(*s) == "FROZEN") return true;
    if (auto s = read_file(d + "/cgroup.freeze"); s && trim(*s) == "1") return true;
  }
  return false;
}

// What a record says of itself (status and pid are the caller's to fill).
ContainerInfo recorded_info(const Record& r) {
  ContainerInfo i;
  i.id = r.id;
  i.bundle = r.bundle;
  i.rootfs = r.rootfs;
  i.created = r.created;
  i.annotations = r.annotations;
  i.cgroup_dirs = r.cgroup_dirs;
  return i;
}

ContainerInfo info_of(const Record& r, const std::string& dir) {
  ContainerInfo i = recorded_info(r);
  bool alive = r.pid > 0 && start_time_of(r.pid) == r.start_time;
  if (r.pid == 0) i.status = Status::kStopped;
  else if (!alive) i.status = Status::kStopped;
  else if (!r.started && path_exists(dir + "/" + kGate)) i.status = Status::kCreated;
  else i.status = frozen(r.cgroup_dirs) ? Status::kPaused : Status::kRunning;
  i.pid = i.status == Status::kStopped ? 0 : r.pid;
  return i;
}

// A pidfd of the container's init, checked against the recorded start time after opening (so
// a pid reused between the check and the open is never signalled). "container not running" is
// the wording containerd's shim maps to "process already finished" (kill of a dead task).
Result<UniqueFd> open_init(const Record& r) {
  UniqueFd fd(sys::pidfd_open(r.pid, 0));
  if (!fd || start_time_of(r.pid) != r.start_time) return Error(ESRCH, "container not running: `" + r.id + "`");
  return fd;
}

// --- create -----------------------------------------------------------------------------------

Result<Spec> load_bundle(const std::string& bundle) {
  std::string file = bundle + "/config.json";
  auto text = read_regular_file(file, 16 << 20);
  if (!text) return std::move(text).error().context("bundle `" + bundle + "`");
  return parse_spec(*text, file);
}

Result<void> enter_namespaces(const std::vector<JoinedNamespace>& joined) {
  for (const auto& j : joined) {
    UniqueFd fd(::open(j.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return Error::from_errno(errno, "open namespace `" + j.path + "`");
    if (::setns(fd.get(), j.clone_flag) < 0) return Error::from_errno(errno, "join namespace `" + j.path + "`");
  }
  return {};
}

Result<void> send_console(const std::string& socket_path, const UniqueFd& master,
                          const std::optional<std::pair<unsigned, unsigned>>& size) {
  if (size) {
    struct winsize ws = {};
    ws.ws_row = static_cast<unsigned short>(size->first);
    ws.ws_col = static_cast<unsigned short>(size->second);
    if (::ioctl(master.get(), TIOCSWINSZ, &ws) < 0) return Error::from_errno(errno, "set console size");
  }
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) return Error::from_errno(errno, "socket");
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) return Error::invalid("console socket path too long");
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size());
  if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
    return Error::from_errno(errno, "connect to console socket `" + socket_path + "`");
  // The name travels with the fd, as runc sends it.
  return send_with_fds(sock.get(), "/dev/ptmx", {master.get()});
}

Result<void> prepare(CreateJob& job) {
  job.record.bundle = absolute_path(job.opts.bundle);
  auto spec = load_bundle(job.record.bundle);
  if (!spec) return std::move(spec).error();
  auto layout = cgroup::detect_layout();
  if (!layout) return std::move(layout).error().context("detect cgroups");
  job.layout = std::move(*layout);
  TranslateContext ctx{job.record.bundle, job.id, &job.layout, kernel_has_time_ns()};
  auto launch = translate(*spec, ctx);
  if (!launch) return std::move(launch).error().context(job.record.bundle + "/config.json");
  job.launch = std::move(*launch);
  if (job.launch.terminal && job.opts.console_socket.empty())
    return Error::invalid("`process.terminal` is true: --console-socket is required");
  job.record.id = job.id;
  job.record.rootfs = job.launch.plan.rootfs;
  job.record.created = rfc3339_now();
  job.record.annotations = spec->annotations;
  if (spec->hooks) job.hooks = *spec->hooks;
  const auto& h = job.hooks;
  job.record.hooks = !(h.prestart.empty() && h.create_runtime.empty() && h.create_container.empty() &&
                       h.start_container.empty() && h.poststart.empty() && h.poststop.empty());
  job.userns = job.launch.plan.userns;
  return {};
}

std::string hook_state(const Record& r, Status status, pid_t pid) {
  ContainerInfo i = recorded_info(r);
  i.pid = pid;
  i.status = status;
  return Runtime::state_json(i);
}

// prestart, createRuntime and createContainer: the container's namespaces exist, nothing is
// mounted in them yet.
Result<void> creation_hooks(const CreateJob& job, pid_t pid) {
  std::string state = hook_state(job.record, Status::kCreating, pid);
  COVE_TRY(run_hooks(job.hooks.prestart, "prestart", state));
  COVE_TRY(run_hooks(job.hooks.create_runtime, "createRuntime", state));
  return run_hooks_in(job.hooks.create_container, "createContainer", state, pid, job.userns);
}

Result<void> make_gate(CreateJob& job) {
  std::string path = job.dir + "/" + kGate;
  if (::mkfifo(path.c_str(), 0600) < 0) return Error::from_errno(errno, "create `" + path + "`");
  job.gate.reset(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!job.gate) return Error::from_errno(errno, "open `" + path + "`");
  job.launch.plan.start_gate_fd = job.gate.get();
  job.launch.plan.preserve_fds = job.opts.preserve_fds;
  return {};
}

Result<void> make_cgroups(CreateJob& job) {
  auto cgs = cgroup::ContainerCgroups::plan_at(job.layout, job.launch.cgroups_path, ::getpid());
  if (!cgs) return std::move(cgs).error();
  job.cgroups = std::move(*cgs);
  job.record.cgroup_dirs = job.cgroups->payload_dirs();
  COVE_TRY(save(job.dir, job.record));  // recorded before they exist: a crash leaves them findable
  if (auto r = job.cgroups->create(); !r) {
    // create() removed what it made; what it refused (another container's cgroups, with
    // processes in them) is not ours to destroy in the undo.
    job.cgroups.reset();
    return std::move(r).error().context("create cgroups");
  }
  return job.cgroups->apply(job.launch.limits);
}

Result<lifecycle::InitProcess> launch_init(CreateJob& job) {
  COVE_TRY(enter_namespaces(job.launch.joined));
  lifecycle::StartHooks hooks;
  hooks.namespaces_ready = [&](pid_t pid) { return creation_hooks(job, pid); };
  auto init = lifecycle::start_init(job.launch.plan, *job.cgroups, nullptr, nullptr, hooks);
  if (!init) return std::move(init).error();
  if (job.launch.oom_score_adj) {
    auto r = write_existing(fmt::format("/proc/{}/oom_score_adj", init->pid), std::to_string(*job.launch.oom_score_adj));
    if (!r) return std::move(r).error().context("process.oomScoreAdj");
  }
  if (job.launch.terminal) COVE_TRY(send_console(job.opts.console_socket, init->console_master, job.launch.console_size));
  job.record.pid = init->pid;
  job.record.start_time = start_time_of(init->pid);
  COVE_TRY(save(job.dir, job.record));
  COVE_TRY(write_pid_file(job.opts.pid_file, init->pid));
  return init;
}

Result<void> write_pid_file(const std::string& path, pid_t pid) {
  if (path.empty()) return {};
  auto r = write_file_atomic(absolute_path(path), std::to_string(pid), 0644, Durability::kVolatile);
  if (!r) return std::move(r).error().context("--pid-file");
  return {};
}

Result<UniqueFd> make_container_dir(const std::string& root, CreateJob& job) {
  COVE_TRY(mkdir_p(root, 0700));
  if (::mkdir(job.dir.c_str(), 0700) < 0) {
    if (errno == EEXIST) return Error(EEXIST, "container with id `" + job.id + "` already exists");
    return Error::from_errno(errno, "create `" + job.dir + "`");
  }
  return lock_dir(job.dir, job.id);
}

void undo_create(CreateJob& job) {
  if (job.cgroups)
    if (auto r = job.cgroups->destroy(); !r) log::warn("undo create of `{}`: {}", job.id, r.error().message());
  if (auto r = remove_tree(job.dir); !r) log::warn("undo create of `{}`: {}", job.id, r.error().message());
}

}  // namespace detail

static Result<lifecycle::InitProcess> create_container(const std::string& root, const std::string& id,
                                                       const CreateOptions& opts) {
  COVE_TRY(check_id(id));
  CreateJob job;
  job.id = id;
  job.dir = root + "/" + id;
  job.opts = opts;
  COVE_TRY(prepare(job));
  auto lock = make_container_dir(root, job);
  if (!lock) return std::move(lock).error();
  ScopeExit undo([&] { undo_create(job); });
  COVE_TRY(make_gate(job));
  COVE_TRY(make_cgroups(job));
  auto init = launch_init(job);
  if (!init) return std::move(init).error();
  undo.dismiss();
  // Init holds a copy of the lock's fd until it execs: unlock the shared open file itself.
  ::flock(lock->get(), LOCK_UN);
  return init;
}

Result<void> Runtime::create(const std::string& id, const CreateOptions& opts) {
  auto init = create_container(root_, id, opts);
  if (!init) return std::move(init).error();
  return {};
}

namespace detail {

Result<Locked> lock_and_load(const std::string& dir, const std::string& id) {
  COVE_TRY(check_id(id));
  auto lock = lock_dir(dir, id);
  if (!lock) return std::move(lock).error();
  auto rec = load(dir, id);
  if (!rec) return std::move(rec).error();
  auto info = info_of(*rec, dir);
  return Locked{std::move(*lock), std::move(*rec), std::move(info)};
}

}  // namespace detail

Result<void> Runtime::start(const std::string& id) {
  auto locked = lock_and_load(dir_of(id), id);
  if (!locked) return std::move(locked).error();
  auto& rec = locked->rec;
  auto& info = locked->info;
  if (info.status != Status::kCreated)
    return Error(EINVAL, fmt::format("cannot start a container that is {}", status_name(info.status)));
  std::optional<Spec> spec;
  if (rec.hooks) {
    auto s = load_bundle(rec.bundle);
    if (!s) return std::move(s).error();
    spec = std::move(*s);
  }
  std::string gate = dir_of(id) + "/" + kGate;
  UniqueFd fd(::open(gate.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "container `" + id + "` is not running (start gate)");
  // The state goes through the gate: init hands it to the startContainer hooks.
  std::string state = hook_state(rec, Status::kCreated, rec.pid);
  if (::write(fd.get(), state.data(), state.size()) != static_cast<ssize_t>(state.size()))
    return Error::from_errno(errno, "write the start gate");
  fd.reset();
  rec.started = true;
  COVE_TRY(save(dir_of(id), rec));
  ::unlink(gate.c_str());
  if (spec && spec->hooks)
    if (auto r = run_hooks(spec->hooks->poststart, "poststart", hook_state(rec, Status::kRunning, rec.pid)); !r)
      log::warn("{}", r.error().message());
  return {};
}

Result<int> Runtime::run(const std::string& id, const CreateOptions& opts, bool detach) {
  auto init = create_container(root_, id, opts);
  if (!init) return std::move(init).error();
  if (auto r = start(id); !r) {
    (void)remove(id, true);
    return std::move(r).error();
  }
  if (detach) return 0;
  return wait_and_remove(id, init->pidfd);
}

Result<int> Runtime::wait_and_remove(const std::string& id, const UniqueFd& pidfd) {
  siginfo_t si = {};
  while (::waitid(P_PIDFD, static_cast<id_t>(pidfd.get()), &si, WEXITED) < 0)
    if (errno != EINTR) return Error::from_errno(errno, "wait for the container");
  COVE_TRY(remove(id, true));
  return si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
}

namespace {

// The process `exec` runs: the file's, or the container's own with the command line's changes.
Result<Process> exec_process(const Spec& spec, const ExecOptions& o) {
  if (!o.process_file.empty()) {
    auto text = read_regular_file(o.process_file, 1 << 20);
    if (!text) return std::move(text).error().context("--process");
    return parse_process(*text, o.process_file);
  }
  if (o.args.empty()) return Error::invalid("exec: no command (give --process FILE or ARGS)");
  Process p = *spec.process;
  p.args = o.args;
  p.terminal = o.tty;
  if (!o.cwd.empty()) p.cwd = o.cwd;
  for (const auto& kv : o.env) {
    std::string key = kv.substr(0, kv.find('='));
    std::erase_if(p.env, [&](const std::string& e) { return e.substr(0, e.find('=')) == key; });
    p.env.push_back(kv);
  }
  if (!o.user.empty()) {
    auto parts = split(o.user, ':');
    auto uid = parse_uint(parts[0]);
    auto gid = parts.size() > 1 ? parse_uint(parts[1]) : std::optional<uint64_t>(0);
    if (!uid || !gid || parts.size() > 2 || *uid > 0xffffffffULL || *gid > 0xffffffffULL)
      return Error::invalid("--user: `" + o.user + "` (UID[:GID], numbers)");
    p.user.uid = static_cast<uint32_t>(*uid);
    p.user.gid = static_cast<uint32_t>(*gid);
    p.user.additional_gids.clear();
  }
  return p;
}

}  // namespace

Result<int> Runtime::exec(const std::string& id, const ExecOptions& o) {
  COVE_TRY(check_id(id));
  auto rec = load(dir_of(id), id);
  if (!rec) return std::move(rec).error();
  auto info = info_of(*rec, dir_of(id));
  if (info.status != Status::kRunning) return Error(EINVAL, fmt::format("cannot exec in a {} container", status_name(info.status)));
  auto spec = load_bundle(rec->bundle);
  if (!spec) return std::move(spec).error();
  auto process = exec_process(*spec, o);
  if (!process) return std::move(process).error();
  if (process->terminal && o.console_socket.empty()) return Error::invalid("exec with a terminal needs --console-socket");
  auto layout = cgroup::detect_layout();
  if (!layout) return std::move(layout).error();
  TranslateContext ctx{rec->bundle, id, &*layout, true};
  auto restr = process_restrictions(*spec, *process, ctx);
  if (!restr) return std::move(restr).error();
  RuntimeState rs;
  rs.init_pid = rec->pid;
  rs.init_starttime = rec->start_time;
  rs.privileged = std::none_of(spec->linux->namespaces.begin(), spec->linux->namespaces.end(),
                               [](const Namespace& n) { return n.type == "user"; });
  rs.payload_cgroups = rec->cgroup_dirs;
  lifecycle::AttachRequest req;
  req.argv = process->args;
  req.exact_env = true;
  req.set_env = process->env;
  req.cwd = process->cwd;
  req.pty = process->terminal;
  req.preserve_fds = o.preserve_fds;
  if (!o.detach && !process->terminal) return lifecycle::attach_to(rs, req, *restr);
  // The command stays ours until we exit (its entering parent exits first): the engine's
  // subreaper gets it only after our own exit, as runc's exec process. Reparented to the shim
  // earlier, a command that ends at once was reaped before the shim knew its pid (our pid
  // file), and containerd's `task exec` waited forever for its exit.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  auto cmd = lifecycle::attach_detached(rs, req, *restr);
  if (!cmd) return std::move(cmd).error();
  if (process->terminal) COVE_TRY(send_console(o.console_socket, cmd->pty_master, process->console_size));
  COVE_TRY(write_pid_file(o.pid_file, cmd->pid));
  if (o.detach) return 0;
  // A terminal without --detach: the engine has the pty; we wait for the command (our child:
  // its entering parent has exited) and return its status, as runc does.
  int st = 0;
  while (::waitpid(cmd->pid, &st, 0) < 0)
    if (errno != EINTR) return Error::from_errno(errno, "wait for the command");
  return process::exit_code_of(st);
}

Result<ContainerInfo> Runtime::state(const std::string& id) {
  COVE_TRY(check_id(id));
  auto rec = load(dir_of(id), id);
  if (!rec) return std::move(rec).error();
  return info_of(*rec, dir_of(id));
}

std::string Runtime::state_json(const ContainerInfo& i) {
  Json j = {{"ociVersion", "1.1.0"}, {"id", i.id},         {"status", status_name(i.status)},
            {"pid", i.pid},          {"bundle", i.bundle}, {"rootfs", i.rootfs},
            {"created", i.created},  {"owner", ""}};
  if (!i.annotations.empty()) j["annotations"] = i.annotations;
  return j.dump(2) + "\n";
}

Result<void> Runtime::kill(const std::string& id, int signal, bool all) {
  COVE_TRY(check_id(id));
  auto rec = load(dir_of(id), id);
  if (!rec) return std::move(rec).error();
  if (all) {
    auto cgs = cgroup::ContainerCgroups::from_recorded_explicit(rec->cgroup_dirs);
    for (pid_t p : cgs.payload_pids()) ::kill(p, signal);
    return {};
  }
  auto fd = open_init(*rec);
  if (!fd) return std::move(fd).error();
  if (sys::pidfd_send_signal(fd->get(), signal, nullptr, 0) < 0) {
    if (errno == ESRCH) return Error(ESRCH, "container not running: `" + id + "`");
    return Error::from_errno(errno, "signal container `" + id + "`");
  }
  return {};
}

Result<void> Runtime::remove(const std::string& id, bool force) {
  auto locked = lock_and_load(dir_of(id), id);
  if (!locked) return std::move(locked).error();
  auto& rec = locked->rec;
  auto& info = locked->info;
  if ((info.status == Status::kRunning || info.status == Status::kPaused) && !force)
    return Error(EBUSY, fmt::format("cannot delete container `{}` that is not stopped: {}", id, status_name(info.status)));
  // destroy() thaws, kills what is left in the cgroups and waits for them to empty.
  auto cgs = cgroup::ContainerCgroups::from_recorded_explicit(rec.cgroup_dirs);
  if (auto r = cgs.destroy(); !r) return std::move(r).error().context("delete `" + id + "`");
  COVE_TRY(remove_tree(dir_of(id)));
  if (rec.hooks) {
    auto spec = load_bundle(rec.bundle);
    auto r = !spec ? Result<void>(spec.error())
             : spec->hooks ? run_hooks(spec->hooks->poststop, "poststop", hook_state(rec, Status::kStopped, 0))
                           : Result<void>();
    if (!r) log::warn("{}", r.error().message());
  }
  return {};
}

Result<std::vector<ContainerInfo>> Runtime::list() {
  std::vector<ContainerInfo> out;
  auto names = list_dir(root_);
  if (!names && names.error().code() == ENOENT) return out;
  if (!names) return std::move(names).error();
  for (const auto& name : *names) {
    auto rec = load(dir_of(name), name);
    if (rec) out.push_back(info_of(*rec, dir_of(name)));
  }
  return out;
}

Result<std::vector<pid_t>> Runtime::processes(const std::string& id) {
  auto rec = load(dir_of(id), id);
  if (!rec) return std::move(rec).error();
  return cgroup::ContainerCgroups::from_recorded_explicit(rec->cgroup_dirs).payload_pids();
}

Result<void> Runtime::update(const std::string& id, const Resources& resources) {
  auto locked = lock_and_load(dir_of(id), id);
  if (!locked) return std::move(locked).error();
  if (locked->info.status == Status::kStopped) return Error(EINVAL, fmt::format("container `{}` is not running", id));
  auto layout = cgroup::detect_layout();
  if (!layout) return std::move(layout).error();
  auto limits = translate_resources(resources, "resources", &*layout);
  if (!limits) return std::move(limits).error();
  // The recorded dirs are the container's: planned again from its cgroups path, which they end in.
  auto spec = load_bundle(locked->rec.bundle);
  if (!spec) return std::move(spec).error();
  std::string path = spec->linux && !spec->linux->cgroups_path.empty() ? spec->linux->cgroups_path : "/cove-oci/" + id;
  auto cgs = cgroup::ContainerCgroups::plan_at(*layout, path, ::getpid());
  if (!cgs) return std::move(cgs).error();
  if (cgs->payload_dirs() != locked->rec.cgroup_dirs)
    return Error(EINVAL, "update: the bundle's cgroupsPath no longer names the container's cgroups");
  // Device rules are replaced only when the update names some (runc's behaviour).
  std::vector<std::string> only;
  for (const auto& c : cgroup::needed_controllers(*limits))
    if (c != "devices" || !resources.devices.empty()) only.push_back(c);
  if (!limits->raw_v1.empty() || !limits->raw_v2.empty()) only.push_back("raw");
  if (only.empty()) return {};
  return cgs->apply(*limits, only);
}

namespace {

// runc's stats event of the container's cgroup statistics, one line.
std::string stats_event(const std::string& id, const cgroup::Stats& s) {
  Json data = Json::object();
  if (s.cpu_usage_ns) data["cpu"] = {{"usage", {{"total", *s.cpu_usage_ns}}}};
  Json mem = Json::object();
  if (s.memory_current) mem["usage"] = {{"usage", *s.memory_current}};
  if (s.memory_peak) mem["usage"]["max"] = *s.memory_peak;
  if (s.oom_kills) mem["oom_kill"] = *s.oom_kills;
  if (!mem.empty()) data["memory"] = mem;
  if (s.pids_current) data["pids"] = {{"current", *s.pids_current}};
  Json io = Json::object();
  if (s.io_read_bytes) io["read_bytes"] = *s.io_read_bytes;
  if (s.io_write_bytes) io["write_bytes"] = *s.io_write_bytes;
  if (!io.empty()) data["blkio"] = io;
  Json ev = {{"type", "stats"}, {"id", id}, {"data", data}};
  return ev.dump() + "\n";
}

}  // namespace

Result<std::string> Runtime::stats_json(const std::string& id) {
  auto info = state(id);
  if (!info) return std::move(info).error();
  if (info->status == Status::kStopped) return Error(EINVAL, fmt::format("container `{}` is not running", id));
  auto st = cgroup::ContainerCgroups::from_recorded_explicit(info->cgroup_dirs).stats();
  if (!st) return std::move(st).error();
  return stats_event(id, *st);
}

Result<void> Runtime::events(const std::string& id, int64_t interval_ms,
                             const std::function<void(const std::string&)>& emit) {
  if (auto first = state(id); !first) return std::move(first).error();
  int64_t next_stats = 0;
  std::optional<uint64_t> ooms;
  for (;; ::usleep(100 * 1000)) {
    auto info = state(id);
    if (!info || info->status == Status::kStopped) return {};
    auto st = cgroup::ContainerCgroups::from_recorded_explicit(info->cgroup_dirs).stats();
    if (!st) {
      auto again = state(id);
      if (!again || again->status == Status::kStopped) return {};  // stopped in between
      return std::move(st).error();
    }
    uint64_t now_ooms = st->oom_kills.value_or(0);
    if (ooms && now_ooms > *ooms) emit(Json{{"type", "oom"}, {"id", id}}.dump() + "\n");
    ooms = now_ooms;
    if (monotonic_ms() >= next_stats) {
      emit(stats_event(id, *st));
      next_stats = monotonic_ms() + interval_ms;
    }
  }
}

Result<void> Runtime::pause(const std::string& id) {
  auto info = state(id);
  if (!info) return std::move(info).error();
  if (info->status != Status::kRunning) return Error(EINVAL, fmt::format("container `{}` is not running", id));
  return cgroup::ContainerCgroups::from_recorded_explicit(info->cgroup_dirs).set_frozen(true);
}

Result<void> Runtime::resume(const std::string& id) {
  auto info = state(id);
  if (!info) return std::move(info).error();
  if (info->status != Status::kPaused) return Error(EINVAL, fmt::format("container `{}` is not paused", id));
  return cgroup::ContainerCgroups::from_recorded_explicit(info->cgroup_dirs).set_frozen(false);
}

}  // namespace cove::oci
