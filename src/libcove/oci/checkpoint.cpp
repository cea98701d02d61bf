// `cove-oci checkpoint` and `restore`: the OCI container described to libcove's checkpoint and
// restore (lifecycle/checkpoint.hpp) exactly as a cove container is, from the ContainerConfig
// its bundle translates to. What is OCI's own: the caller's stdio replaces the checkpointed
// init's (descriptors.json, as runc records it), the rootfs is the bundle's as it is, a restore
// may take another id, and CRIU runs in this process, so the restored init is the caller's
// child's child: ours while we run, the caller's subreaper's once we exit (as after a create).
#include <fcntl.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/mountinfo.hpp"
#include "base/scope_exit.hpp"
#include "lifecycle/checkpoint.hpp"
#include "lifecycle/proc_scan.hpp"
#include "oci/hooks.hpp"
#include "oci/runtime.hpp"
#include "oci/runtime_internal.hpp"
#include "rootfs/mount.hpp"

namespace cove::oci {

using namespace detail;
using Json = nlohmann::json;

namespace {

// runc's name: what init's fds 0-2 were (readlink of /proc/PID/fd/N), for the restore to give
// the caller's new stdio in their place.
constexpr const char* kDescriptors = "descriptors.json";

// A network namespace joined by path (CNI's) stays outside the images, as with runc: named at
// the dump, the restore bundle's one joined. Other namespaces joined by path (a pod's ipc, uts
// or pid) would be dumped as the container's own and restored unshared: refused.
Result<void> refuse_joined_namespaces(const Launch& launch) {
  for (const auto& j : launch.joined)
    if (j.clone_flag != CLONE_NEWNET)
      return Error(ENOTSUP, "checkpoint/restore of a container that joins a namespace other than the network's by path "
                            "(`linux.namespaces[].path`: " + j.path + ") is not supported yet");
  return {};
}

const JoinedNamespace* joined_netns(const Launch& launch) {
  for (const auto& j : launch.joined)
    if (j.clone_flag == CLONE_NEWNET) return &j;
  return nullptr;
}

Result<Launch> translate_bundle(const Spec& spec, const std::string& bundle, const std::string& id,
                                const cgroup::Layout& layout) {
  TranslateContext ctx{bundle, id, &layout, kernel_has_time_ns()};
  auto launch = translate(spec, ctx);
  if (!launch) return std::move(launch).error().context(bundle + "/config.json");
  COVE_TRY(refuse_joined_namespaces(*launch));
  return launch;
}

// What init's stdio are, by CRIU's keys: "pipe:[INODE]" for a pipe; "file[MNT_ID:INODE]" (hex)
// for a file on a mount outside the container (the caller's /dev/null, a log), which CRIU is
// told is external; "" for the rest (the container's own files, its console).
struct Stdio {
  Json keys = {"", "", ""};
  std::vector<std::string> external_files;
};

Result<Stdio> stdio_of(pid_t pid) {
  auto mounts = read_mountinfo(pid);
  if (!mounts) return std::move(mounts).error().context("the container's mounts");
  Stdio out;
  for (const auto& f : lifecycle::open_files(pid)) {
    if (f.fd < 0 || f.fd > 2) continue;
    if (f.target.starts_with("pipe:[")) {
      out.keys[size_t(f.fd)] = f.target;
      continue;
    }
    struct stat st;
    if (!f.target.starts_with("/") || f.mnt_id < 0 || ::stat(fmt::format("/proc/{}/fd/{}", pid, f.fd).c_str(), &st) < 0)
      continue;
    bool inside = std::any_of(mounts->begin(), mounts->end(), [&](const MountInfo& m) { return m.id == f.mnt_id; });
    if (inside) continue;
    std::string key = fmt::format("file[{:x}:{:x}]", f.mnt_id, uint64_t(st.st_ino));
    out.keys[size_t(f.fd)] = key;
    out.external_files.push_back(key);
  }
  return out;
}

// CRIU's log of the dump stays in the image directory; a copy goes to the work path, where the
// engines look for it.
void copy_log(const std::string& from_dir, const std::string& work_path, const char* name) {
  if (work_path.empty() || absolute_path(work_path) == absolute_path(from_dir)) return;
  auto text = read_file(from_dir + "/" + name);
  if (!text) return;
  if (auto r = mkdir_p(work_path, 0700); !r) return;
  if (auto r = write_file_atomic(work_path + "/" + name, *text, 0600, Durability::kVolatile); !r)
    log::warn("copy {} to `{}`: {}", name, work_path, r.error().message());
}

// The caller's fd N for each of init's stdio that was a pipe or an outside file: dup'ed above 2 (CRIU's own
// stdio are not the caller's).
Result<std::vector<std::pair<std::string, int>>> stdio_for_restore(const std::string& images_dir,
                                                                    std::vector<UniqueFd>& keep) {
  std::vector<std::pair<std::string, int>> out;
  auto text = read_file(images_dir + "/" + kDescriptors);
  if (!text) return out;  // not made by cove-oci: the pipes' record alone
  Json j = Json::parse(*text, nullptr, false);
  if (!j.is_array()) return Error(EINVAL, "`" + images_dir + "/" + kDescriptors + "`: not a JSON array");
  for (int fd = 0; fd < 3 && fd < int(j.size()); ++fd) {
    if (!j[fd].is_string()) continue;
    std::string key = j[fd].get<std::string>();
    if (!key.starts_with("pipe:[") && !key.starts_with("file[")) continue;
    // CRIU puts a file's offset back on what it is given: a pipe cannot take one.
    struct stat st;
    if (key.starts_with("file[") && ::fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
      return Error::invalid(fmt::format("fd {} of the checkpointed process was a file; give restore a file (or "
                                        "/dev/null) as fd {} too, not a pipe or socket",
                                        fd, fd));
    UniqueFd copy(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
    if (!copy) return Error::from_errno(errno, fmt::format("stdio {} for the restored init", fd));
    out.emplace_back(key, copy.get());
    keep.push_back(std::move(copy));
  }
  return out;
}

// CRIU mounts onto mountpoints it finds in the root: those the container's setup made in the
// rootfs (/run for a tmpfs, a bind's target) are made again as the setup makes them, for a
// rootfs that never ran the container (containerd restores into a fresh snapshot).
Result<void> make_mountpoints(const config::ContainerConfig& cfg) {
  UniqueFd root(::open(cfg.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Error::from_errno(errno, "open `" + cfg.rootfs + "`");
  auto make = [&](const std::string& target, rootfs::Create create) -> Result<void> {
    if (auto fd = rootfs::open_in_root(root.get(), target, create); !fd)
      return std::move(fd).error().context("mountpoint `/" + target + "` for the restore");
    return {};
  };
  for (const char* d : {"proc", "sys", "dev"}) COVE_TRY(make(d, rootfs::Create::kDir));
  for (const auto& m : cfg.mounts) {
    auto create = m.create_dir ? rootfs::Create::kDir : m.create_file ? rootfs::Create::kFile : rootfs::Create::kNone;
    if (create != rootfs::Create::kNone) COVE_TRY(make(m.target, create));
  }
  return {};
}

}  // namespace

Result<void> Runtime::checkpoint(const std::string& id, const CheckpointOptions& o) {
  auto locked = lock_and_load(dir_of(id), id);
  if (!locked) return std::move(locked).error();
  auto& rec = locked->rec;
  if (locked->info.status != Status::kRunning && locked->info.status != Status::kPaused)
    return Error(EINVAL, fmt::format("container `{}` is not running: {}", id, status_name(locked->info.status)));
  auto spec = load_bundle(rec.bundle);
  if (!spec) return std::move(spec).error();
  auto layout = cgroup::detect_layout();
  if (!layout) return std::move(layout).error().context("detect cgroups");
  auto launch = translate_bundle(*spec, rec.bundle, id, *layout);
  if (!launch) return std::move(launch).error();
  auto cgs = cgroup::ContainerCgroups::from_recorded_explicit(rec.cgroup_dirs);
  auto stdio = stdio_of(rec.pid);
  if (!stdio) return std::move(stdio).error();
  lifecycle::CheckpointTarget t;
  t.cfg = &launch->config;
  t.lxcpath = root_;
  t.runtime_dir = dir_of(id);
  t.config_path = rec.bundle + "/config.json";
  t.init_pid = rec.pid;
  t.cgroups = &cgs;
  t.layout = &*layout;
  t.has_console = launch->terminal;
  lifecycle::CheckpointOptions co;
  co.images_dir = o.image_path;
  co.stop = !o.leave_running;
  co.external_files = stdio->external_files;
  co.external_netns = joined_netns(*launch) != nullptr;
  co.external_unix_sockets = o.ext_unix_sk;
  auto rep = lifecycle::checkpoint_container(t, co);
  copy_log(absolute_path(o.image_path), o.work_path, "dump.log");
  if (!rep) return std::move(rep).error().context("checkpoint `" + id + "`");
  COVE_TRY(write_file_atomic(rep->images_dir + "/" + kDescriptors, stdio->keys.dump() + "\n", 0600, Durability::kVolatile));
  if (o.leave_running) return {};
  // CRIU ended the container after the dump: it is gone, as runc leaves it.
  if (auto r = cgs.destroy(); !r) log::warn("checkpoint `{}`: {}", id, r.error().message());
  return remove_tree(dir_of(id));
}

Result<int> Runtime::restore(const std::string& id, const RestoreOptions& o) {
  COVE_TRY(check_id(id));
  CreateJob job;
  job.id = id;
  job.dir = dir_of(id);
  job.opts = o.create;
  COVE_TRY(prepare(job));
  COVE_TRY(refuse_joined_namespaces(job.launch));
  std::string images = absolute_path(o.image_path);
  if (!path_exists(images + "/inventory.img"))
    return Error(ENOENT, "--image-path `" + images + "` holds no checkpoint (no inventory.img)");
  auto lock = make_container_dir(root_, job);
  if (!lock) return std::move(lock).error();
  ScopeExit undo([&] { undo_create(job); });
  COVE_TRY(make_cgroups(job));
  COVE_TRY(make_mountpoints(job.launch.config));
  std::vector<UniqueFd> stdio;
  auto inherit = stdio_for_restore(images, stdio);
  if (!inherit) return std::move(inherit).error();
  UniqueFd netns;
  if (const auto* j = joined_netns(job.launch)) {
    netns.reset(::open(j->path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!netns) return Error::from_errno(errno, "open the network namespace `" + j->path + "` to restore into");
    inherit->emplace_back(criu::kExternalNetnsKey, netns.get());
  }
  // CRIU's helpers are reparented to us when it ends (the restore reaps them).
  if (!o.no_subreaper) ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  std::string work = o.work_path.empty() ? job.dir : absolute_path(o.work_path);
  COVE_TRY(mkdir_p(work, 0700));
  lifecycle::RestoreTarget t;
  t.cfg = &job.launch.config;
  t.runtime_dir = job.dir;
  t.log_dir = work;
  t.container_dir = job.dir;
  t.cgroups = &*job.cgroups;
  t.layout = &job.layout;
  t.inherit_fds = std::move(*inherit);
  t.rootfs_as_is = true;
  t.any_container = true;
  // Engines pause a container for its checkpoint (containerd does, always): it comes back
  // running, as a restored task must.
  t.thaw = true;
  t.external_unix_sockets = o.ext_unix_sk;
  // runc runs the prestart and createRuntime hooks at a restore once the namespaces exist (a
  // CNI hook, say, sets up the new network namespace); createContainer and startContainer ran
  // inside the container when it was first made.
  t.namespaces_ready = [&job](pid_t pid) -> Result<void> {
    std::string state = hook_state(job.record, Status::kCreating, pid);
    COVE_TRY(run_hooks(job.hooks.prestart, "prestart", state));
    return run_hooks(job.hooks.create_runtime, "createRuntime", state);
  };
  auto rep = lifecycle::restore_container(t, images);
  if (!rep) return std::move(rep).error().context("restore `" + id + "`");
  if (job.launch.terminal)
    COVE_TRY(send_console(job.opts.console_socket, rep->init.console_master, job.launch.console_size));
  job.record.pid = rep->init.pid;
  job.record.start_time = start_time_of(rep->init.pid);
  job.record.started = true;
  COVE_TRY(save(job.dir, job.record));
  COVE_TRY(write_pid_file(job.opts.pid_file, rep->init.pid));
  undo.dismiss();
  lock->reset();
  if (o.detach) return 0;
  return wait_and_remove(id, rep->init.pidfd);
}

}  // namespace cove::oci
