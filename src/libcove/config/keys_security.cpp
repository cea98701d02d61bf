// The [security] section's keys (see key_table.hpp), plus `[idmap] rootfs`. Values become typed
// fields of ContainerConfig::security here; no raw strings leave config/.
#include <sys/resource.h>

#include <algorithm>
#include <cctype>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "config/key_table.hpp"
#include "security/cap_names.hpp"

namespace cove::config {

// Sysctls that belong to a namespace the container has its own instance of (runc's list): any
// other one would change the host.
bool is_namespaced_sysctl(const std::string& key) {
  static const char* const kIpc[] = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                                     "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"};
  if (std::find(std::begin(kIpc), std::end(kIpc), key) != std::end(kIpc)) return true;
  return starts_with(key, "net.") || starts_with(key, "fs.mqueue.");
}

namespace {

using Strings = std::vector<std::string>;
using C = ContainerConfig;
using S = SecurityConfig;

Error bad(const std::string& what) { return Error::invalid(what); }
std::string q(std::string_view v) { return "`" + std::string(v) + "`"; }
Strings one_unless_empty(const std::string& v) { return v.empty() ? Strings{} : Strings{v}; }

template <auto M>
void reset(C& c) { c.security.*M = S{}.*M; }

// --- capabilities -----------------------------------------------------------------------------

template <auto M>
Result<void> parse_caps(C& c, const std::string& v, const KeyContext&) {
  auto& list = c.security.*M;
  std::vector<int> add;
  for (const auto& word : split_ws(v)) {
    auto cap = security::cap_from_name(word);
    if (!cap) return bad("unknown capability " + q(word) + " (names as in capabilities(7), e.g. sys_admin)");
    if (std::find(list.begin(), list.end(), *cap) == list.end() &&
        std::find(add.begin(), add.end(), *cap) == add.end())
      add.push_back(*cap);
  }
  list.insert(list.end(), add.begin(), add.end());
  return {};
}
template <auto M>
Strings format_caps(const C& c) {
  Strings names;
  for (int cap : c.security.*M) names.push_back(security::cap_name(cap));
  return names.empty() ? Strings{} : Strings{join(names, " ")};
}

// --- booleans, paths --------------------------------------------------------------------------

Result<void> parse_nnp(C& c, const std::string& v, const KeyContext&) {
  auto b = parse_bool(v);
  if (!b) return bad(q(v) + " is not a boolean");
  c.security.no_new_privs = *b;
  return {};
}

Result<void> parse_seccomp(C& c, const std::string& v, const KeyContext& ctx) {
  if (v.empty()) c.security.seccomp.clear();
  else if (v.front() == '/' || ctx.dir.empty()) c.security.seccomp = absolute_path(v);
  else c.security.seccomp = absolute_path(ctx.dir + "/" + v);
  return {};
}

// --- LSMs -------------------------------------------------------------------------------------

template <auto M>
Result<void> parse_lsm(C& c, const std::string& v, const KeyContext&) {
  auto words = split_ws(v);
  LsmRequest req;
  if (words.size() == 2 && words[1] == "optional") req.optional = true;
  else if (words.size() > 1) return bad(q(v) + ": expected one value, optionally followed by `optional`");
  if (!words.empty()) {
    req.value = words[0];
    bool ok = std::all_of(req.value.begin(), req.value.end(),
                          [](unsigned char ch) { return std::isgraph(ch) && ch != '"' && ch != '\''; });
    if (!ok) return bad(q(req.value) + " contains a quote or control character");
  }
  c.security.*M = req;
  return {};
}
template <auto M>
Strings format_lsm(const C& c) {
  const LsmRequest& r = c.security.*M;
  return r.value.empty() ? Strings{} : Strings{r.value + (r.optional ? " optional" : "")};
}

Result<void> parse_mount_context(C& c, const std::string& v, const KeyContext&) {
  if (v.find_first_of(" \t,\"'") != std::string::npos) return bad(q(v) + " contains a space, comma or quote");
  c.security.selinux_mount_context = v;
  return {};
}

// --- rlimits ----------------------------------------------------------------------------------

struct RlimitName {
  const char* name;
  int resource;
};
constexpr RlimitName kRlimits[] = {
    {"as", RLIMIT_AS},           {"core", RLIMIT_CORE},       {"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},       {"fsize", RLIMIT_FSIZE},     {"locks", RLIMIT_LOCKS},
    {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},     {"rss", RLIMIT_RSS},
    {"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME},   {"sigpending", RLIMIT_SIGPENDING},
    {"stack", RLIMIT_STACK},
};

std::optional<uint64_t> parse_limit(const std::string& s) {
  if (s == "unlimited" || s == "infinity") return uint64_t(RLIM_INFINITY);
  return parse_uint(s);
}
std::string limit_text(uint64_t v) { return v == uint64_t(RLIM_INFINITY) ? "unlimited" : std::to_string(v); }

Result<void> parse_rlimit(C& c, const std::string& v, const KeyContext&) {
  auto w = split_ws(v);
  if (w.size() < 2 || w.size() > 3) return bad("expected NAME SOFT [HARD], got " + q(v));
  const RlimitName* rn = nullptr;
  for (const auto& r : kRlimits)
    if (w[0] == r.name) rn = &r;
  if (!rn) return bad("unknown resource " + q(w[0]));
  auto soft = parse_limit(w[1]);
  auto hard = parse_limit(w.size() == 3 ? w[2] : w[1]);
  if (!soft || !hard) return bad("limits are numbers or `unlimited`");
  if (*soft > *hard) return bad("the soft limit exceeds the hard limit");
  auto& list = c.security.rlimits;
  std::erase_if(list, [&](const RlimitEntry& e) { return e.resource == rn->resource; });
  list.push_back({rn->resource, *soft, *hard});
  return {};
}
Strings format_rlimits(const C& c) {
  Strings out;
  for (const auto& e : c.security.rlimits) {
    const char* name = "?";
    for (const auto& r : kRlimits)
      if (r.resource == e.resource) name = r.name;
    out.push_back(std::string(name) + " " + limit_text(e.soft) + " " + limit_text(e.hard));
  }
  return out;
}

// --- sysctls ----------------------------------------------------------------------------------

Result<void> parse_sysctl(C& c, const std::string& v, const KeyContext&) {
  auto eq = v.find('=');
  if (eq == std::string::npos) return bad("expected KEY=VALUE, got " + q(v));
  std::string key(trim(std::string_view(v).substr(0, eq)));
  std::string value(trim(std::string_view(v).substr(eq + 1)));
  std::replace(key.begin(), key.end(), '/', '.');
  bool ok = !key.empty() && key.find("..") == std::string::npos && key.front() != '.' && key.back() != '.' &&
            std::all_of(key.begin(), key.end(), [](unsigned char ch) { return std::isalnum(ch) || ch == '.' || ch == '_' || ch == '-'; });
  if (!ok) return bad(q(key) + " is not a sysctl name");
  if (!is_namespaced_sysctl(key))
    return bad(q(key) + " is not namespaced: setting it would change the host (only net.*, fs.mqueue.* and the "
               "IPC kernel.msg*/sem/shm* keys)");
  auto& list = c.security.sysctls;
  std::erase_if(list, [&](const SysctlEntry& e) { return e.key == key; });
  list.push_back({key, value});
  return {};
}
Strings format_sysctls(const C& c) {
  Strings out;
  for (const auto& e : c.security.sysctls) out.push_back(e.key + "=" + e.value);
  return out;
}

// --- masked and read-only paths ---------------------------------------------------------------

template <auto M>
Result<void> parse_paths(C& c, const std::string& v, const KeyContext&) {
  auto& list = c.security.*M;
  for (const auto& word : split_ws(v)) {
    if (word.front() != '/') return bad(q(word) + " is not an absolute path (inside the container)");
    std::vector<std::string> parts;
    for (auto& p : split(word, '/')) {
      if (p.empty() || p == ".") continue;
      if (p == "..") return bad(q(word) + " must not contain a `..` component");
      parts.push_back(std::move(p));
    }
    if (parts.empty()) return bad("`/` itself cannot be masked or made read-only");
    std::string rel = join(parts, "/");
    if (std::find(list.begin(), list.end(), rel) == list.end()) list.push_back(rel);
  }
  return {};
}
template <auto M>
Strings format_paths(const C& c) {
  Strings out;
  for (const auto& p : c.security.*M) out.push_back("/" + p);
  return out.empty() ? Strings{} : Strings{join(out, " ")};
}

// --- [idmap] rootfs ---------------------------------------------------------------------------

Result<void> parse_rootfs_idmap(C& c, const std::string& v, const KeyContext&) {
  if (v == "auto") c.security.rootfs_idmap = RootfsIdmap::kAuto;
  else if (v == "idmapped") c.security.rootfs_idmap = RootfsIdmap::kIdmapped;
  else if (v == "shift") c.security.rootfs_idmap = RootfsIdmap::kShift;
  else return bad(q(v) + " is not a rootfs ownership mode");
  return {};
}
Strings format_rootfs_idmap(const C& c) {
  switch (c.security.rootfs_idmap) {
    case RootfsIdmap::kAuto: return {"auto"};
    case RootfsIdmap::kIdmapped: return {"idmapped"};
    case RootfsIdmap::kShift: return {"shift"};
  }
  return {};
}

// clang-format off
constexpr KeySpec kKeys[] = {
{"idmap", "rootfs", "auto|idmapped|shift", "auto", false,
 "How an unprivileged container's root filesystem gets ownership that its root can use. "
 "idmapped: the rootfs is mounted through an idmapped mount (mount_setattr(2) MOUNT_ATTR_IDMAP): files "
 "stay owned by their container ids on disk (a file that container uid 1000 creates is stored as uid 1000) "
 "and nothing is rewritten; the start fails on a filesystem that cannot be idmapped. shift: a one-time "
 "ownership shift: every file of the rootfs is chown(2)ed into the mapped host range (container id N "
 "becomes host id HOST-ID+N on disk) and the shift is recorded in the container's directory "
 "(.rootfs-shift) so it is not redone while the map stays the same; a changed map is shifted from the "
 "recorded one. auto: idmapped where the filesystem supports it, else shift.",
 parse_rootfs_idmap, format_rootfs_idmap, reset<&S::rootfs_idmap>},
{"security", "capabilities.drop", "capability names as in capabilities(7) without `cap_`, space-separated", "", true,
 "Capabilities removed from the container's bounding set (and from the inheritable and ambient sets) "
 "before init is executed, so that no process in the container can ever hold them. Repeat the key to "
 "add more names; an empty value clears the list (for example to undo the shipped defaults).",
 parse_caps<&S::cap_drop>, format_caps<&S::cap_drop>, reset<&S::cap_drop>},
{"security", "capabilities.keep", "capability names as in capabilities(7) without `cap_`, space-separated", "", true,
 "When set, the bounding set holds only these capabilities (minus capabilities.drop); when empty, it "
 "holds every capability the kernel knows minus capabilities.drop.",
 parse_caps<&S::cap_keep>, format_caps<&S::cap_keep>, reset<&S::cap_keep>},
{"security", "no_new_privs", "BOOLEAN", "no", false,
 "Sets PR_SET_NO_NEW_PRIVS for init and every process attached with cove-attach: execve(2) can then "
 "never grant privileges (set-user-ID bits and file capabilities are ignored). Off by default for "
 "system containers, whose su, sudo and ping rely on them. The seccomp filter does not need it: it is "
 "loaded while cove still holds CAP_SYS_ADMIN in the container's user namespace.",
 parse_nnp, [](const C& c) { return Strings{c.security.no_new_privs ? "true" : "false"}; }, reset<&S::no_new_privs>},
{"security", "seccomp", "PATH of a policy file (LXC text format or OCI JSON), or empty for none", "", false,
 "Seccomp policy loaded as the very last step before init is executed (and before the command of "
 "cove-attach). The format is recognised from the content: a JSON object is an OCI runtime-spec "
 "`linux.seccomp` (as in Docker's profiles: defaultAction, defaultErrnoRet, architectures, syscalls "
 "with names, action, errnoRet, args, includes and excludes by caps, arches and minKernel); anything "
 "else is LXC's text format (a version line `2`, `denylist` or `allowlist` with an optional default "
 "action, `[ARCH]` sections, and lines `SYSCALL [ACTION] [[ARG,VALUE,OP(,VALUE2)]...]`). Actions: allow, "
 "errno N, kill, trap, log. A relative path is relative to the directory of the file that sets it.",
 parse_seccomp, [](const C& c) { return one_unless_empty(c.security.seccomp); }, reset<&S::seccomp>},
{"security", "apparmor", "PROFILE|unconfined|generated, optionally followed by `optional`", "", false,
 "AppArmor profile init and attached processes run under, entered with aa_change_onexec(3) just "
 "before execve(2). `generated` makes a profile for this container from the template "
 "apparmor/cove-container in cove's config directory, loads it with apparmor_parser and removes it "
 "when the container stops. A host without AppArmor fails the start with an error naming AppArmor, "
 "unless the value ends with `optional`: the container then starts without the profile.",
 parse_lsm<&S::apparmor>, format_lsm<&S::apparmor>, reset<&S::apparmor>},
{"security", "selinux", "SELinux CONTEXT (user:role:type:level), optionally followed by `optional`", "", false,
 "SELinux context init and attached processes run in, set with setexeccon(3) just before execve(2). "
 "A host without SELinux enabled fails the start with an error naming SELinux, unless the value ends "
 "with `optional`.",
 parse_lsm<&S::selinux>, format_lsm<&S::selinux>, reset<&S::selinux>},
{"security", "selinux.mount_context", "SELinux CONTEXT", "", false,
 "SELinux context (mount option `context=`) of the filesystems cove creates for the container: "
 "the /dev tmpfs, its devpts and /dev/shm, and the empty tmpfs mounts over masked directories "
 "(proc, sysfs and mqueue keep their kernel labels). The rootfs itself is a bind or idmapped mount of an existing filesystem and keeps its "
 "labels. Used only when SELinux is active on the host.",
 parse_mount_context, [](const C& c) { return one_unless_empty(c.security.selinux_mount_context); },
 reset<&S::selinux_mount_context>},
{"security", "rlimit", "NAME SOFT [HARD] (NAME: as core cpu data fsize locks memlock msgqueue nice nofile "
 "nproc rss rtprio rttime sigpending stack; a number or `unlimited`)", "", true,
 "A resource limit (setrlimit(2)) set for init and attached processes. A later entry for the same NAME "
 "replaces the earlier one. A hard limit above the monitor's own needs CAP_SYS_RESOURCE on the host.",
 parse_rlimit, format_rlimits, reset<&S::rlimits>},
{"security", "sysctl", "KEY=VALUE (net.*, fs.mqueue.*, kernel.msgmax, kernel.msgmnb, kernel.msgmni, kernel.sem, "
 "kernel.shmall, kernel.shmmax, kernel.shmmni, kernel.shm_rmid_forced)", "", true,
 "A kernel parameter set inside the container before init starts, through the container's own "
 "/proc/sys while it is still writable. Only parameters of namespaces the container owns are allowed "
 "(the network and IPC namespaces): any other one would change the host.",
 parse_sysctl, format_sysctls, reset<&S::sysctls>},
{"security", "masked_paths", "ABSOLUTE-PATH... (inside the container)", "", true,
 "Paths hidden from the container: /dev/null is bind-mounted over a file, an empty read-only tmpfs "
 "over a directory. Paths that do not exist are skipped. Repeat the key to add more; an empty value "
 "clears the list.",
 parse_paths<&S::masked_paths>, format_paths<&S::masked_paths>, reset<&S::masked_paths>},
{"security", "readonly_paths", "ABSOLUTE-PATH... (inside the container)", "", true,
 "Paths made read-only bind mounts of themselves. Paths that do not exist are skipped.",
 parse_paths<&S::readonly_paths>, format_paths<&S::readonly_paths>, reset<&S::readonly_paths>},
};
// clang-format on

}  // namespace

std::span<const KeySpec> security_keys() { return kKeys; }

}  // namespace cove::config
