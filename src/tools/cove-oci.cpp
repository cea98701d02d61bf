// cove-oci: an OCI runtime with runc's command line, on libcove (oci/runtime.hpp). Engines
// (containerd's runc v2 shim with BinaryName = cove-oci, podman --runtime) call it as runc:
//   cove-oci [--root DIR] [--log FILE] [--log-format text|json] [--debug] VERB [OPTIONS] ID
// Options take `--name VALUE`, `--name=VALUE` or Go's single-dash spelling (`-no-subreaper`).
// Errors go to stderr and, with --log, to the log file (JSON lines with "level":"error").
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/result.hpp"
#include "base/strings.hpp"
#include "oci/runtime.hpp"
#include "oci/spec.hpp"

using namespace cove;

namespace {

constexpr const char* kUsage =
    "usage: cove-oci [--root DIR] [--log FILE] [--log-format text|json] [--debug] VERB [OPTIONS] [ID]\n"
    "verbs: create start run exec state kill delete list ps pause resume update events checkpoint restore spec\n"
    "       features\n";

// The options one verb accepts: the value-taking ones and the switches, by long name; short
// aliases map to long names.
struct VerbSpec {
  std::vector<std::string> values, switches;
  std::map<char, std::string> shorts;
};

struct Args {
  std::map<std::string, std::string> opts;  // long name -> value ("" for a switch)
  std::vector<std::string> positional;
  bool has(const std::string& k) const { return opts.count(k) != 0; }
  std::string get(const std::string& k, const std::string& def = "") const {
    auto it = opts.find(k);
    return it == opts.end() ? def : it->second;
  }
};

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Parses argv[i..] against `spec`; stops at the first positional when `stop_at_positional`
// (the global options end at the verb), or at `--` (exec's command).
Result<Args> parse_args(int argc, char** argv, int& i, const VerbSpec& spec, bool stop_at_positional) {
  Args out;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      if (stop_at_positional) break;
      out.positional.push_back(a);
      continue;
    }
    std::string name, value;
    bool has_value = false;
    if (a.size() == 2 && a[1] != '-') {
      auto it = spec.shorts.find(a[1]);
      if (it == spec.shorts.end()) return Error::invalid("unknown option `" + a + "`");
      name = it->second;
    } else {
      name = a.substr(a[1] == '-' ? 2 : 1);
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
      }
    }
    if (contains(spec.switches, name)) {
      out.opts[name] = has_value ? value : "true";
    } else if (contains(spec.values, name)) {
      if (!has_value) {
        if (i + 1 >= argc) return Error::invalid("option `--" + name + "` needs a value");
        value = argv[++i];
      }
      // Repeatable options (--env) keep every value, newline-separated.
      out.opts[name] = out.has(name) ? out.opts[name] + "\n" + value : value;
    } else {
      return Error::invalid("unknown option `" + a + "`");
    }
  }
  for (; i < argc && !stop_at_positional; ++i) out.positional.push_back(argv[i]);
  return out;
}

Result<std::string> one_id(const Args& a, const char* verb) {
  if (a.positional.size() != 1)
    return Error::invalid(std::string("`") + verb + "` needs exactly one container id");
  return a.positional[0];
}

Result<oci::CreateOptions> create_options(const Args& a) {
  oci::CreateOptions o;
  o.bundle = a.get("bundle", ".");
  o.pid_file = a.get("pid-file");
  o.console_socket = a.get("console-socket");
  auto n = parse_uint(a.get("preserve-fds", "0"));
  if (!n) return Error::invalid("--preserve-fds: not a number: `" + a.get("preserve-fds") + "`");
  o.preserve_fds = static_cast<unsigned>(*n);
  o.no_pivot = a.has("no-pivot");
  // runc's --no-pivot moves the rootfs onto `/` and chroots into it, with the host's root below
  // it in the mount namespace. Even without CAP_SYS_CHROOT that is left: the kernel does not
  // count a root moved over the namespace's as chrooted, so the container may make a user
  // namespace, hold CAP_SYS_CHROOT there and chroot out (tried: doc/design/oci.md).
  if (o.no_pivot)
    return Error(EOPNOTSUPP, "--no-pivot is not supported: cove always pivots into the rootfs (a chroot-only root "
                             "can be left through a user namespace made inside)");
  return o;
}

const VerbSpec kCreate{{"bundle", "pid-file", "console-socket", "preserve-fds"},
                       {"no-pivot", "no-new-keyring", "detach"},
                       {{'b', "bundle"}, {'d', "detach"}}};

Result<int> print_list(oci::Runtime& rt, const Args& a) {
  auto all = rt.list();
  if (!all) return std::move(all).error();
  if (a.get("format") == "json") {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& c : *all)
      j.push_back({{"ociVersion", "1.1.0"}, {"id", c.id}, {"pid", c.pid}, {"status", oci::status_name(c.status)},
                   {"bundle", c.bundle}, {"rootfs", c.rootfs}, {"created", c.created}, {"owner", "root"}});
    std::cout << j.dump() << "\n";
    return 0;
  }
  if (a.has("quiet")) {
    for (const auto& c : *all) std::cout << c.id << "\n";
    return 0;
  }
  std::printf("%-20s %-8s %-10s %-40s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
  for (const auto& c : *all)
    std::printf("%-20s %-8d %-10s %-40s %s\n", c.id.c_str(), c.pid, oci::status_name(c.status), c.bundle.c_str(),
                c.created.c_str());
  return 0;
}

Result<int> print_ps(oci::Runtime& rt, const Args& a) {
  auto id = one_id(a, "ps");
  if (!id) return std::move(id).error();
  auto pids = rt.processes(*id);
  if (!pids) return std::move(pids).error();
  if (a.get("format", "table") == "json") {
    nlohmann::json j = *pids;
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::printf("PID\n");
  for (pid_t p : *pids) std::printf("%d\n", p);
  return 0;
}

Result<int> write_spec(const Args& a) {
  std::string bundle = a.get("bundle", ".");
  std::string path = bundle + "/config.json";
  if (::access(path.c_str(), F_OK) == 0) return Error(EEXIST, "File " + path + " exists. Remove it first");
  std::string text = oci::default_spec_json(a.has("rootless"), ::getuid(), ::getgid());
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return Error::from_errno(errno, "create `" + path + "`");
  std::fwrite(text.data(), 1, text.size(), f);
  if (std::fclose(f) != 0) return Error::from_errno(errno, "write `" + path + "`");
  return 0;
}

const VerbSpec kCheckpoint{{"image-path", "work-path", "parent-path", "page-server", "manage-cgroups-mode", "empty-ns",
                            "status-fd"},
                           {"leave-running", "tcp-established", "ext-unix-sk", "shell-job", "file-locks", "pre-dump",
                            "lazy-pages", "auto-dedup", "help"},
                           {{'h', "help"}}};
const VerbSpec kRestore{{"image-path", "work-path", "bundle", "pid-file", "console-socket", "manage-cgroups-mode",
                         "empty-ns", "lsm-profile", "lsm-mount-context"},
                        {"tcp-established", "ext-unix-sk", "shell-job", "file-locks", "detach", "no-subreaper",
                         "no-pivot", "auto-dedup", "lazy-pages", "help"},
                        {{'b', "bundle"}, {'d', "detach"}, {'h', "help"}}};

constexpr const char* kCheckpointHelp =
    "usage: cove-oci checkpoint [--image-path DIR] [--work-path DIR] [--leave-running] [--tcp-established]\n"
    "                           [--file-locks] [--ext-unix-sk] [--shell-job] [--manage-cgroups-mode MODE] ID\n";
constexpr const char* kRestoreHelp =
    "usage: cove-oci restore [--image-path DIR] [--work-path DIR] [--bundle B] [--detach] [--pid-file F]\n"
    "                        [--console-socket S] [--no-subreaper] [--tcp-established] [--file-locks]\n"
    "                        [--ext-unix-sk] ID\n";

// What cove's checkpoint cannot do yet is refused by name; what it always does (established
// TCP, file locks, shell jobs: the console is the container's own pty) is accepted.
Result<void> refuse_criu_options(const Args& a, const char* verb) {
  for (const char* o : {"parent-path", "page-server", "pre-dump", "lazy-pages", "status-fd", "empty-ns",
                        "lsm-profile", "lsm-mount-context", "auto-dedup"})
    if (a.has(o)) return Error(EOPNOTSUPP, std::string(verb) + " --" + o + " is not supported yet");
  std::string mode = a.get("manage-cgroups-mode", "soft");
  if (mode != "soft" && mode != "full" && mode != "strict" && mode != "ignore")
    return Error::invalid("--manage-cgroups-mode: `" + mode + "` (soft, full, strict or ignore)");
  return {};
}

Result<int> checkpoint_verb(oci::Runtime& rt, const std::string& id, const Args& a) {
  oci::CheckpointOptions o;
  o.image_path = a.get("image-path", o.image_path);
  o.work_path = a.get("work-path");
  o.leave_running = a.has("leave-running");
  o.ext_unix_sk = a.has("ext-unix-sk");
  auto r = rt.checkpoint(id, o);
  if (!r) return std::move(r).error();
  return 0;
}

Result<int> restore_verb(oci::Runtime& rt, const std::string& id, const Args& a) {
  auto c = create_options(a);
  if (!c) return std::move(c).error();
  oci::RestoreOptions o;
  o.create = std::move(*c);
  o.image_path = a.get("image-path", o.image_path);
  o.work_path = a.get("work-path");
  o.detach = a.has("detach");
  o.no_subreaper = a.has("no-subreaper");
  o.ext_unix_sk = a.has("ext-unix-sk");
  return rt.restore(id, o);
}

// runc's per-limit flags of `update`, each one field of the resources object (set over what
// --resources gives, as runc does). Sizes take runc's units (512m, 1g: powers of 1024).
struct UpdateFlag {
  const char* flag;
  const char* object;
  const char* field;
  enum Kind { kSize, kInt, kText } kind;
};
constexpr UpdateFlag kUpdateFlags[] = {
    {"memory", "memory", "limit", UpdateFlag::kSize},
    {"memory-reservation", "memory", "reservation", UpdateFlag::kSize},
    {"memory-swap", "memory", "swap", UpdateFlag::kSize},
    {"kernel-memory", "memory", "kernel", UpdateFlag::kSize},
    {"kernel-memory-tcp", "memory", "kernelTCP", UpdateFlag::kSize},
    {"cpu-share", "cpu", "shares", UpdateFlag::kInt},
    {"cpu-period", "cpu", "period", UpdateFlag::kInt},
    {"cpu-quota", "cpu", "quota", UpdateFlag::kInt},
    {"cpu-rt-period", "cpu", "realtimePeriod", UpdateFlag::kInt},
    {"cpu-rt-runtime", "cpu", "realtimeRuntime", UpdateFlag::kInt},
    {"cpu-idle", "cpu", "idle", UpdateFlag::kInt},
    {"cpuset-cpus", "cpu", "cpus", UpdateFlag::kText},
    {"cpuset-mems", "cpu", "mems", UpdateFlag::kText},
    {"blkio-weight", "blockIO", "weight", UpdateFlag::kInt},
    {"pids-limit", "pids", "limit", UpdateFlag::kInt},
    {"l3-cache-schema", "", "", UpdateFlag::kText},
    {"mem-bw-schema", "", "", UpdateFlag::kText},
};

// "-1" or a size in bytes with an optional k, m, g, t (powers of 1024), as runc's flags take
// them (base/strings parse_size).
Result<int64_t> flag_size(const std::string& flag, const std::string& text) {
  if (text == "-1") return int64_t(-1);
  auto n = parse_size(text);
  if (!n || *n > uint64_t(INT64_MAX)) return Error::invalid("--" + flag + ": `" + text + "` is not a size (bytes, or with k m g t)");
  return int64_t(*n);
}

// The --resources text (or {}) with every per-limit flag given set over it.
Result<std::string> with_update_flags(const std::string& text, const Args& a) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return text;  // parse_resources says what is wrong with it
  for (const auto& f : kUpdateFlags) {
    if (!a.has(f.flag)) continue;
    if (*f.object && j.contains(f.object) && !j[f.object].is_object()) return text;  // as above
    if (!*f.object) return Error(EOPNOTSUPP, std::string("update --") + f.flag + ": Intel RDT is not supported by cove-oci");
    std::string v = a.get(f.flag);
    nlohmann::json value;
    if (f.kind == UpdateFlag::kText) {
      value = v;
    } else if (f.kind == UpdateFlag::kSize) {
      auto n = flag_size(f.flag, v);
      if (!n) return std::move(n).error();
      value = *n;
    } else {
      auto n = parse_int(v);
      if (!n) return Error::invalid(std::string("--") + f.flag + ": `" + v + "` is not a number");
      value = *n;
    }
    j[f.object][f.field] = value;
  }
  return j.dump();
}

// A Go duration as runc's --interval takes it, in whole units: "5s", "500ms", "1m30s"
// (ns us ms s m h); at least 1 ms, at most a day.
Result<int64_t> parse_interval_ms(const std::string& text) {
  static const std::pair<const char*, uint64_t> kUnitsNs[] = {
      {"ns", 1}, {"us", 1000}, {"ms", 1000000}, {"s", 1000000000}, {"m", 60000000000}, {"h", 3600000000000}};
  constexpr uint64_t kDayNs = 86400000000000;
  auto bad = [&] { return Error::invalid("--interval: `" + text + "` is not a duration from 1ms to 24h (5s, 500ms, 1m)"); };
  uint64_t total = 0;
  for (size_t i = 0; i < text.size();) {
    size_t j = i;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
    size_t k = j;
    while (k < text.size() && std::isalpha(static_cast<unsigned char>(text[k]))) ++k;
    auto n = parse_uint(std::string_view(text).substr(i, j - i));
    std::string unit = text.substr(j, k - j);
    auto u = std::find_if(std::begin(kUnitsNs), std::end(kUnitsNs), [&](const auto& e) { return unit == e.first; });
    if (j == i || !n || u == std::end(kUnitsNs) || *n > kDayNs / u->second) return bad();
    total += *n * u->second;
    if (total > kDayNs) return bad();
    i = k;
  }
  if (total < 1000000) return bad();
  return int64_t(total / 1000000);
}

Result<int> dispatch(oci::Runtime& rt, const std::string& verb, int argc, char** argv, int i) {
  auto parse = [&](const VerbSpec& s) { return parse_args(argc, argv, i, s, false); };
  if (verb == "create" || verb == "run") {
    auto a = parse(kCreate);
    if (!a) return std::move(a).error();
    auto id = one_id(*a, verb.c_str());
    if (!id) return std::move(id).error();
    auto o = create_options(*a);
    if (!o) return std::move(o).error();
    if (verb == "create") {
      auto r = rt.create(*id, *o);
      if (!r) return std::move(r).error();
      return 0;
    }
    return rt.run(*id, *o, a->has("detach"));
  }
  if (verb == "start" || verb == "pause" || verb == "resume" || verb == "state") {
    auto a = parse({});
    if (!a) return std::move(a).error();
    auto id = one_id(*a, verb.c_str());
    if (!id) return std::move(id).error();
    if (verb == "state") {
      auto s = rt.state(*id);
      if (!s) return std::move(s).error();
      std::cout << oci::Runtime::state_json(*s);
      return 0;
    }
    auto r = verb == "start" ? rt.start(*id) : verb == "pause" ? rt.pause(*id) : rt.resume(*id);
    if (!r) return std::move(r).error();
    return 0;
  }
  if (verb == "exec") {
    // Options end at the id: what follows is the command, its own options included.
    auto a = parse_args(argc, argv, i, VerbSpec{{"process", "pid-file", "console-socket", "cwd", "env", "user", "preserve-fds", "process-label",
                     "apparmor", "cap"},
                    {"detach", "tty", "no-new-privs", "ignore-paused"},
                    {{'p', "process"}, {'d', "detach"}, {'t', "tty"}, {'e', "env"}, {'u', "user"}}}, true);
    if (!a) return std::move(a).error();
    for (; i < argc; ++i) a->positional.push_back(argv[i]);
    if (a->positional.size() > 1 && a->positional[1] == "--") a->positional.erase(a->positional.begin() + 1);
    if (a->positional.empty()) return Error::invalid("usage: exec [OPTIONS] ID [ARGS...]");
    for (const char* unsupported : {"process-label", "apparmor", "cap", "no-new-privs"})
      if (a->has(unsupported)) return Error(EOPNOTSUPP, std::string("exec --") + unsupported + " is not supported yet");
    oci::ExecOptions o;
    o.process_file = a->get("process");
    o.args.assign(a->positional.begin() + 1, a->positional.end());
    o.cwd = a->get("cwd");
    if (a->has("env")) o.env = split(a->get("env"), '\n');
    o.user = a->get("user");
    o.tty = a->has("tty");
    o.detach = a->has("detach");
    o.pid_file = a->get("pid-file");
    o.console_socket = a->get("console-socket");
    auto n = parse_uint(a->get("preserve-fds", "0"));
    if (!n) return Error::invalid("--preserve-fds: not a number");
    o.preserve_fds = static_cast<unsigned>(*n);
    return rt.exec(a->positional[0], o);
  }
  if (verb == "update") {
    std::vector<std::string> values = {"resources"};
    for (const auto& f : kUpdateFlags) values.push_back(f.flag);
    auto a = parse({values, {}, {{'r', "resources"}}});
    if (!a) return std::move(a).error();
    auto id = one_id(*a, "update");
    if (!id) return std::move(id).error();
    std::string file = a->get("resources");
    std::string text = "{}";
    if (file == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else if (!file.empty()) {
      auto t = read_regular_file(file, 1 << 20);
      if (!t) return std::move(t).error().context("--resources");
      text = std::move(*t);
    }
    auto merged = with_update_flags(text, *a);
    if (!merged) return std::move(merged).error();
    auto res = oci::parse_resources(*merged, file == "-" ? "stdin" : file.empty() ? "update flags" : file);
    if (!res) return std::move(res).error();
    auto r = rt.update(*id, *res);
    if (!r) return std::move(r).error();
    return 0;
  }
  if (verb == "events") {
    auto a = parse({{"interval"}, {"stats"}, {}});
    if (!a) return std::move(a).error();
    auto id = one_id(*a, "events");
    if (!id) return std::move(id).error();
    if (!a->has("stats")) {
      auto ms = parse_interval_ms(a->get("interval", "5s"));
      if (!ms) return std::move(ms).error();
      auto r = rt.events(*id, *ms, [](const std::string& line) { std::cout << line << std::flush; });
      if (!r) return std::move(r).error();
      return 0;
    }
    auto s = rt.stats_json(*id);
    if (!s) return std::move(s).error();
    std::cout << *s;
    return 0;
  }
  if (verb == "kill") {
    auto a = parse({{}, {"all"}, {{'a', "all"}}});
    if (!a) return std::move(a).error();
    if (a->positional.empty() || a->positional.size() > 2) return Error::invalid("usage: kill [--all] ID [SIGNAL]");
    auto sig = oci::parse_signal(a->positional.size() == 2 ? a->positional[1] : "SIGTERM");
    if (!sig) return std::move(sig).error();
    auto r = rt.kill(a->positional[0], *sig, a->has("all"));
    if (!r) return std::move(r).error();
    return 0;
  }
  if (verb == "delete") {
    auto a = parse({{}, {"force"}, {{'f', "force"}}});
    if (!a) return std::move(a).error();
    auto id = one_id(*a, "delete");
    if (!id) return std::move(id).error();
    auto r = rt.remove(*id, a->has("force"));
    // runc: deleting a container that is already gone with --force is not an error.
    if (!r && !(a->has("force") && r.error().code() == ENOENT)) return std::move(r).error();
    return 0;
  }
  if (verb == "list") {
    auto a = parse({{"format"}, {"quiet"}, {{'f', "format"}, {'q', "quiet"}}});
    if (!a) return std::move(a).error();
    return print_list(rt, *a);
  }
  if (verb == "ps") {
    auto a = parse({{"format"}, {}, {{'f', "format"}}});
    if (!a) return std::move(a).error();
    return print_ps(rt, *a);
  }
  if (verb == "spec") {
    auto a = parse({{"bundle"}, {"rootless"}, {{'b', "bundle"}}});
    if (!a) return std::move(a).error();
    return write_spec(*a);
  }
  if (verb == "checkpoint" || verb == "restore") {
    bool ck = verb == "checkpoint";
    auto a = parse(ck ? kCheckpoint : kRestore);
    if (!a) return std::move(a).error();
    if (a->has("help")) {  // podman asks `checkpoint --help` whether the runtime can
      std::fputs(ck ? kCheckpointHelp : kRestoreHelp, stdout);
      return 0;
    }
    COVE_TRY(refuse_criu_options(*a, verb.c_str()));
    auto id = one_id(*a, verb.c_str());
    if (!id) return std::move(id).error();
    return ck ? checkpoint_verb(rt, *id, *a) : restore_verb(rt, *id, *a);
  }
  if (verb == "features") {
    std::cout << oci::features_json();
    return 0;
  }
  return Error::invalid("unknown verb `" + verb + "` (" + std::string(kUsage).substr(std::string(kUsage).find("verbs:")) + ")");
}

}  // namespace

int main(int argc, char** argv) {
  int i = 1;
  VerbSpec global{{"root", "log", "log-format", "criu", "rootless"}, {"debug", "systemd-cgroup", "help", "version"},
                  {{'h', "help"}, {'v', "version"}}};
  auto g = parse_args(argc, argv, i, global, true);
  std::string verb = i < argc ? argv[i++] : "";
  log::set_prefix("cove-oci");
  bool to_log_file = g && !g->get("log").empty() && log::set_file(g->get("log"));
  if (g && g->get("log-format") == "json") log::set_json(true);
  log::set_level(g && g->has("debug") ? log::Level::kDebug : log::Level::kWarn);
  // Errors go to stderr once, and to the log file (the shims read the reason there).
  auto fail = [&](const Error& e, int status) {
    if (to_log_file) log::error("{}", e.message());
    std::fprintf(stderr, "cove-oci: %s\n", e.message().c_str());
    return status;
  };
  if (!g) return fail(g.error(), 2);
  if (g->has("help") || verb == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (g->has("version") || verb == "--version") {
    std::printf("cove-oci version %s\nspec: 1.1.0\n", PACKAGE_VERSION);
    return 0;
  }
  if (g->has("systemd-cgroup"))
    return fail(Error(EOPNOTSUPP, "--systemd-cgroup is not supported yet: configure the engine for cgroupfs paths"), 1);
  if (auto lf = g->get("log-format", "text"); lf != "text" && lf != "json")
    return fail(Error::invalid("--log-format: `" + lf + "` (text or json)"), 2);
  if (verb.empty()) return fail(Error::invalid(std::string("no verb\n") + kUsage), 2);
  // runc's --criu: the CRIU binary checkpoint and restore run.
  if (!g->get("criu").empty()) ::setenv("COVE_CRIU", g->get("criu").c_str(), 1);
  oci::Runtime rt(g->get("root", "/run/cove-oci"));
  auto r = dispatch(rt, verb, argc, argv, i);
  if (!r) return fail(r.error(), 1);
  return *r;
}
