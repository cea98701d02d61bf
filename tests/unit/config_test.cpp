// Tests of config loading: file syntax and FILE:LINE errors, includes, defaults, values of each
// type, and the validation rules.
#include <gtest/gtest.h>
#include <ini.h>

#include <csignal>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "config/load.hpp"
#include "config/validate.hpp"

namespace cove::config {
namespace {

const LoadOptions kOptions{"web", "/var/lib/cove/web/rootfs"};
const char kIdmap[] = "[idmap]\nuid = 0 100000 65536\ngid = 0 100000 65536\n";

Result<ContainerConfig> load(const std::string& text, const std::string& label = "test.conf") {
  return load_config_string(text, label, kOptions);
}

ContainerConfig load_ok(const std::string& text) {
  auto c = load(text);
  EXPECT_TRUE(c.has_value()) << (c ? "" : c.error().message());
  return c ? *c : ContainerConfig{};
}

std::vector<std::string> errors_of(const std::string& text, const std::string& label = "test.conf") {
  auto c = load(text, label);
  if (c) return {};
  EXPECT_EQ(c.error().code(), EINVAL);
  return split(c.error().message(), '\n');
}

// A temporary directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/cove-config-test.XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { (void)remove_tree(path_); }
  const std::string& path() const { return path_; }
  std::string write(const std::string& name, const std::string& text) const {
    std::string p = path_ + "/" + name;
    EXPECT_TRUE(mkdir_p(dirname_of(p)).has_value());
    EXPECT_TRUE(write_file(p, text).has_value());
    return p;
  }

 private:
  std::string path_;
};

std::vector<Namespace> default_clone(bool privileged) {
  std::vector<Namespace> out;
  for (Namespace ns : kAllNamespaces) {
    if (ns == Namespace::kTime && !path_exists("/proc/self/ns/time")) continue;
    if (ns == Namespace::kUser && privileged) continue;
    out.push_back(ns);
  }
  return out;
}

// --- defaults -------------------------------------------------------------------------------

TEST(ConfigDefaults, MinimalUnprivileged) {
  auto c = load_ok(kIdmap);
  EXPECT_EQ(c.name, "web");
  EXPECT_EQ(c.hostname, "web");
  EXPECT_EQ(c.rootfs, "/var/lib/cove/web/rootfs");
  EXPECT_EQ(c.init, std::vector<std::string>{"/sbin/init"});
  EXPECT_EQ(c.init_cwd, "/");
  EXPECT_EQ(c.halt_signal, SIGPWR);
  EXPECT_EQ(c.reboot_signal, SIGINT);
  EXPECT_EQ(c.stop_signal, SIGKILL);
  EXPECT_FALSE(c.privileged);
  EXPECT_EQ(c.ttys, 1u);
  EXPECT_EQ(c.log_level, "warn");
  EXPECT_EQ(c.stop_timeout, 10u);
  EXPECT_EQ(c.clone_ns, default_clone(false));
  EXPECT_EQ(c.auto_mounts.proc, AutoMountMode::kMixed);
  EXPECT_EQ(c.auto_mounts.sys, AutoMountMode::kRo);
  EXPECT_EQ(c.auto_mounts.cgroup, AutoMountMode::kRw);
  EXPECT_EQ(c.origin.at("idmap.uid"), "test.conf:2");
  EXPECT_EQ(c.origin.at("idmap.gid"), "test.conf:3");
}

TEST(ConfigDefaults, PrivilegedDropsUserWhateverTheKeyOrder) {
  // `privileged` comes after [namespaces]: defaults are applied after parsing.
  auto c = load_ok("[namespaces]\nshare.ipc =\n[container]\nprivileged = yes\n");
  EXPECT_TRUE(c.privileged);
  EXPECT_EQ(c.clone_ns, default_clone(true));
}

TEST(ConfigDefaults, ExplicitCloneKeptAsGiven) {
  auto c = load_ok("[container]\nprivileged = true\n[namespaces]\nclone = pid mnt uts\n");
  EXPECT_EQ(c.clone_ns, (std::vector<Namespace>{Namespace::kPid, Namespace::kMnt, Namespace::kUts}));
}

TEST(ConfigDefaults, HostnameDefaultsOnlyWithOwnUts) {
  auto c = load_ok("[container]\nprivileged = true\n[namespaces]\nclone = mnt pid\n");
  EXPECT_EQ(c.hostname, "");
  c = load_ok("[container]\nprivileged = true\n[namespaces]\nclone = mnt pid\nshare.uts = db\n");
  EXPECT_EQ(c.hostname, "");
  c = load_ok(std::string(kIdmap) + "[container]\nhostname = www.example\n");
  EXPECT_EQ(c.hostname, "www.example");
}

TEST(ConfigDefaults, RelativePathsFollowTheFile) {
  std::string text = std::string(kIdmap) +
                     "[container]\nrootfs = rootfs\nconsole.log = logs/../console.log\nlog.file = /var/log/web.log\n";
  auto c = load_config_string(text, "/etc/cove/web/config", kOptions);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->rootfs, "/etc/cove/web/rootfs");
  EXPECT_EQ(c->console_log, "/etc/cove/web/console.log");
  EXPECT_EQ(c->log_file, "/var/log/web.log");
}

// --- file syntax and error reporting ----------------------------------------------------------

TEST(ConfigErrors, ExactFileLinePrefix) {
  auto errs = errors_of("# comment\n[container]\n\nttys = 100\n");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0], "test.conf:4: [container] ttys: `100` is out of range (allowed: 0..64)");
}

TEST(ConfigErrors, EveryErrorInOnePass) {
  auto errs = errors_of("[container]\nttys = many\nbogus = 1\n[weird]\nx = 1\ny = 2\nprivileged = maybe\n"
                        "[container]\nnonsense line\n");
  // keys of an unknown section are not reported one by one (`privileged` at line 7 is in [weird]),
  // and validation does not run on a config with parse errors
  ASSERT_EQ(errs.size(), 4u) << join(errs, "\n");
  EXPECT_EQ(errs[0], "test.conf:2: [container] ttys: `many` is not a non-negative integer (allowed: 0..64)");
  EXPECT_TRUE(starts_with(errs[1], "test.conf:3: unknown key `bogus` in [container] (allowed: hostname, init,"));
  EXPECT_TRUE(starts_with(errs[2], "test.conf:4: unknown section `[weird]` (allowed: [container], [boot], [mount]"));
  EXPECT_TRUE(starts_with(errs[3], "test.conf:9: expected `key = value`, `[section]` or a comment"));
}

TEST(ConfigErrors, ThreeBadLinesThreeErrors) {
  auto errs = errors_of("[container]\nttys = -1\nstop_timeout = 3601\nhalt_signal = SIGNOPE\n");
  ASSERT_EQ(errs.size(), 3u);
  EXPECT_TRUE(starts_with(errs[0], "test.conf:2: [container] ttys: "));
  EXPECT_EQ(errs[1], "test.conf:3: [container] stop_timeout: `3601` is out of range (allowed: 0..3600 (seconds))");
  EXPECT_TRUE(starts_with(errs[2], "test.conf:4: [container] halt_signal: `SIGNOPE` is not a signal (allowed: "));
}

TEST(ConfigErrors, KeyOutsideSection) {
  auto errs = errors_of("hostname = x\n");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0], "test.conf:1: key `hostname` is outside any section (put it under `[container]`)");
  errs = errors_of("\nfoo = x\n");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0], "test.conf:2: key `foo` is outside any section (only `include` is allowed before the first section)");
}

TEST(ConfigErrors, KeyInWrongSectionGetsAHint) {
  auto errs = errors_of("[container]\nentry = a b c d\n");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_NE(errs[0].find("; it belongs in `[mount]`"), std::string::npos) << errs[0];
}

TEST(ConfigErrors, SyntaxErrors) {
  auto errs = errors_of("[container\n[mount] x\n[]\n= 5\njust words\n[container]\nttys = 2\n");
  ASSERT_EQ(errs.size(), 5u) << join(errs, "\n");
  EXPECT_EQ(errs[0], "test.conf:1: section header `[container` has no closing `]`");
  EXPECT_EQ(errs[1], "test.conf:2: unexpected text after `]` in `[mount] x`");
  EXPECT_EQ(errs[2], "test.conf:3: empty section name");
  EXPECT_EQ(errs[3], "test.conf:4: missing key name before `=`");
  EXPECT_EQ(errs[4], "test.conf:5: expected `key = value`, `[section]` or a comment, got `just words`");
}

TEST(ConfigSyntax, LongLineIsAnErrorAndLineNumbersStayRight) {
  std::string long_value(250, 'x');
  auto errs = errors_of("[container]\ninit.env = A=" + long_value + "\nttys = 99\n");
  ASSERT_EQ(errs.size(), 2u) << join(errs, "\n");
  EXPECT_EQ(errs[0], "test.conf:2: line too long (max 199 characters)");
  EXPECT_TRUE(starts_with(errs[1], "test.conf:3: [container] ttys: "));
}

// What plain libinih does with a long line, and why ini_reader checks line lengths itself: the
// line reaches the handler in 199-character chunks, each parsed (and counted) as its own line.
TEST(ConfigSyntax, PlainInihSplitsLongLines) {
  std::string text = "[s]\nk = " + std::string(200, 'x') + " x=y\n";
  std::vector<std::string> seen;
  auto handler = [](void* user, const char*, const char* name, const char* value) -> int {
    static_cast<std::vector<std::string>*>(user)->push_back(std::string(name) + "=" + value);
    return 1;
  };
  ini_parse_string(text.c_str(), handler, &seen);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], "k=" + std::string(195, 'x'));  // truncated value
  EXPECT_EQ(seen[1], "xxxxx x=y");                  // the tail became a bogus key
}

TEST(ConfigSyntax, NulByteIsAnError) {
  auto errs = errors_of(std::string("[container]\nttys = 1\0 2\n", 24));
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0], "test.conf:2: line contains a NUL byte");
}

TEST(ConfigSyntax, LongestLineAndLongCommentsAreFine) {
  std::string line = "init.env = A=";
  line += std::string(199 - line.size(), 'y');
  auto c = load_ok(std::string(kIdmap) + "[container]\n" + line + "   # " + std::string(300, 'c') + "\n");
  ASSERT_EQ(c.init_env.size(), 1u);
  EXPECT_EQ(c.init_env[0].size(), 199u - 11);
}

TEST(ConfigSyntax, CommentsAndWhitespace) {
  auto c = load_ok(std::string("\xEF\xBB\xBF") + kIdmap +
                   "; full line\n# full line\n  [ container ]  ; trailing\n"
                   "hostname = a-b ; comment\n init.env = X=a#b;c # comment\ninit.cwd: /srv\r\n");
  EXPECT_EQ(c.hostname, "a-b");
  EXPECT_EQ(c.init_env, std::vector<std::string>{"X=a#b;c"});
  EXPECT_EQ(c.init_cwd, "/srv");
}

TEST(ConfigSyntax, IndentedLinesAreNotContinuations) {
  auto c = load_ok(std::string(kIdmap) + "[container]\n  hostname = box\n  ttys = 3\n      init.env = A=1\n");
  EXPECT_EQ(c.hostname, "box");
  EXPECT_EQ(c.ttys, 3u);
  EXPECT_EQ(c.init_env, std::vector<std::string>{"A=1"});
  auto errs = errors_of("[container]\nhostname = box\n   more words\n");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_TRUE(starts_with(errs[0], "test.conf:3: expected `key = value`"));
}

TEST(ConfigSyntax, LaterValueWinsAndEmptyClearsRepeatable) {
  auto c = load_ok(std::string(kIdmap) +
                   "[container]\nttys = 2\nttys = 4\ninit.env = A=1\ninit.env = B=2\ninit.env = A=3\n");
  EXPECT_EQ(c.ttys, 4u);
  EXPECT_EQ(c.origin.at("container.ttys"), "test.conf:6");
  EXPECT_EQ(c.init_env, (std::vector<std::string>{"A=3", "B=2"}));
  c = load_ok(std::string(kIdmap) + "[mount]\nentry = tmpfs tmp tmpfs defaults\nentry =\nentry = a b c d\n");
  ASSERT_EQ(c.mounts.size(), 1u);
  EXPECT_EQ(c.mounts[0].source, "a");
  EXPECT_EQ(c.mounts[0].where, "test.conf:7");
}

TEST(ConfigLoad, MissingFileKeepsErrno) {
  auto c = load_config("/nonexistent/cove/config", kOptions);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ENOENT);
  EXPECT_NE(c.error().message().find("/nonexistent/cove/config"), std::string::npos);
}

// --- includes -----------------------------------------------------------------------------------

TEST(ConfigInclude, FileRelativeToIncludingFile) {
  TempDir d;
  d.write("common/idmap.conf", kIdmap);
  d.write("common/base.conf", "include = idmap.conf\n[container]\nttys = 5\n");
  std::string top = d.write("web/config", "include = ../common/base.conf\n[container]\nhostname = web1\n");
  auto c = load_config(top, kOptions);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->ttys, 5u);
  EXPECT_EQ(c->hostname, "web1");
  EXPECT_EQ(c->origin.at("container.ttys"), d.path() + "/web/../common/base.conf:3");
  EXPECT_EQ(c->origin.at("idmap.uid"), d.path() + "/web/../common/idmap.conf:2");
}

TEST(ConfigInclude, IncludeInsideSectionKeepsThatSectionAfterwards) {
  TempDir d;
  d.write("other.conf", "[container]\nttys = 7\n");
  std::string top = d.write("c.conf", std::string(kIdmap) + "[mount]\ninclude = other.conf\nauto = proc:rw\n");
  auto c = load_config(top, kOptions);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->ttys, 7u);
  EXPECT_EQ(c->auto_mounts.proc, AutoMountMode::kRw);
}

TEST(ConfigInclude, IncludedFileStartsOutsideAnySection) {
  TempDir d;
  d.write("other.conf", "ttys = 7\n");
  std::string top = d.write("c.conf", "[container]\ninclude = other.conf\n");
  auto c = load_config(top, kOptions);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message(),
            d.path() + "/other.conf:1: key `ttys` is outside any section (put it under `[container]`)");
}

TEST(ConfigInclude, DirectoryConfFilesSortedByName) {
  TempDir d;
  d.write("conf.d/20-b.conf", "[container]\nttys = 20\ninit.env = B=1\n");
  d.write("conf.d/10-a.conf", "[container]\nttys = 10\ninit.env = A=1\n");
  d.write("conf.d/30-c.conf.disabled", "[container]\nttys = 30\n");
  d.write("conf.d/.hidden.conf", "[container]\nttys = 40\n");
  d.write("conf.d/README", "not ini at all\n");
  std::string top = d.write("config", std::string(kIdmap) + "include = conf.d\n");
  auto c = load_config(top, kOptions);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->ttys, 20u);
  EXPECT_EQ(c->init_env, (std::vector<std::string>{"A=1", "B=1"}));
}

TEST(ConfigInclude, MissingIncludeIsAnErrorAtTheIncludeLine) {
  TempDir d;
  std::string top = d.write("config", "[container]\nttys = 1\ninclude = nope.conf\nttys = x\n");
  auto c = load_config(top, kOptions);
  ASSERT_FALSE(c);
  auto errs = split(c.error().message(), '\n');
  ASSERT_EQ(errs.size(), 2u);
  EXPECT_EQ(errs[0], top + ":3: include `" + d.path() + "/nope.conf`: No such file or directory");
  EXPECT_TRUE(starts_with(errs[1], top + ":4: [container] ttys: "));
}

TEST(ConfigInclude, CycleIsAnError) {
  TempDir d;
  d.write("a.conf", "[container]\ninclude = b.conf\n");
  d.write("b.conf", "\n\ninclude = a.conf\n");
  auto c = load_config(d.path() + "/a.conf", kOptions);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message(), d.path() + "/b.conf:3: include cycle: `" + d.path() + "/a.conf` -> `" + d.path() +
                                     "/b.conf` -> `" + d.path() + "/a.conf`");
}

TEST(ConfigInclude, DirectoryIncludingItselfIsACycle) {
  TempDir d;
  d.write("conf.d/a.conf", "include = .\n");
  auto c = load_config(d.write("config", "include = conf.d\n"), kOptions);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find(d.path() + "/conf.d/a.conf:1: include cycle: "), std::string::npos)
      << c.error().message();
}

TEST(ConfigInclude, EmptyInclude) {
  auto errs = errors_of("include =\n");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0], "test.conf:1: `include` needs a FILE or DIR");
}

// --- validation rules ----------------------------------------------------------------------------

TEST(ConfigValidate, UnprivilegedNeedsUserAndRootMaps) {
  auto errs = errors_of("[namespaces]\nclone = mnt pid uts\n");
  ASSERT_EQ(errs.size(), 3u) << join(errs, "\n");
  EXPECT_EQ(errs[0], "test.conf:2: an unprivileged container needs `user` in [namespaces] clone (or `privileged = true`)");
  EXPECT_EQ(errs[1], "an unprivileged container needs an [idmap] uid entry that maps container id 0");
  EXPECT_EQ(errs[2], "an unprivileged container needs an [idmap] gid entry that maps container id 0");
  errs = errors_of("[idmap]\nuid = 1 100000 10\ngid = 0 100000 10\n");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0], "test.conf:2: an unprivileged container needs an [idmap] uid entry that maps container id 0");
}

TEST(ConfigValidate, PrivilegedHasNoUserNamespace) {
  auto errs = errors_of(std::string(kIdmap) + "[container]\nprivileged = on\n[namespaces]\nclone = mnt pid user\n");
  ASSERT_EQ(errs.size(), 3u) << join(errs, "\n");
  EXPECT_EQ(errs[0], "test.conf:7: a privileged container must not have `user` in [namespaces] clone");
  EXPECT_EQ(errs[1], "test.conf:2: a privileged container must not have [idmap] uid entries (no user namespace)");
  EXPECT_EQ(errs[2], "test.conf:3: a privileged container must not have [idmap] gid entries (no user namespace)");
}

TEST(ConfigValidate, MntAndPidRequired) {
  auto errs = errors_of(std::string(kIdmap) + "[namespaces]\nclone = user uts\n");
  ASSERT_EQ(errs.size(), 2u) << join(errs, "\n");
  EXPECT_EQ(errs[0], "test.conf:5: [namespaces] clone lacks `mnt`: cove needs mnt and pid namespaces: "
                     "pivot_root and init as PID 1");
  EXPECT_EQ(errs[1], "test.conf:5: [namespaces] clone lacks `pid`: cove needs mnt and pid namespaces: "
                     "pivot_root and init as PID 1");
}

TEST(ConfigValidate, HostnameNeedsUts) {
  auto errs = errors_of(std::string(kIdmap) + "[container]\nhostname = box\n[namespaces]\nclone = mnt pid user\n");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0], "test.conf:5: hostname `box` needs `uts` in [namespaces] clone (or share.uts)");
  load_ok(std::string(kIdmap) + "[container]\nhostname = box\n[namespaces]\nclone = mnt pid user\nshare.uts = db\n");
}

TEST(ConfigValidate, ClonedAndSharedNamespace) {
  auto errs = errors_of(std::string(kIdmap) + "[namespaces]\nshare.net = db\nshare.ipc = web\n");
  ASSERT_EQ(errs.size(), 3u) << join(errs, "\n");
  EXPECT_EQ(errs[0], "test.conf:6: namespace `ipc` is both in clone and shared with `web`: remove it from clone");
  EXPECT_EQ(errs[1], "test.conf:6: share.ipc names the container itself");
  EXPECT_EQ(errs[2], "test.conf:5: namespace `net` is both in clone and shared with `db`: remove it from clone");
  load_ok(std::string(kIdmap) + "[namespaces]\nclone = mnt pid uts ipc user\nshare.net = db\n");
}

TEST(ConfigValidate, IdMapEntriesMustNotOverlap) {
  auto errs = errors_of("[idmap]\nuid = 0 100000 1000\nuid = 999 300000 1\ngid = 0 100000 10\ngid = 10 100005 1\n");
  ASSERT_EQ(errs.size(), 2u) << join(errs, "\n");
  EXPECT_EQ(errs[0], "test.conf:3: [idmap] uid entries `0 100000 1000` and `999 300000 1` overlap on the container side");
  EXPECT_EQ(errs[1], "test.conf:5: [idmap] gid entries `0 100000 10` and `10 100005 1` overlap on the host side");
  load_ok("[idmap]\nuid = 0 100000 1000\nuid = 1000 1000 1\ngid = 0 100000 10\ngid = 10 100010 1\n");
}

TEST(ConfigValidate, InitMustBeAbsoluteAndNonEmpty) {
  ContainerConfig c;
  c.clone_ns = {Namespace::kMnt, Namespace::kPid};
  c.privileged = true;
  EXPECT_TRUE(validate(c).empty());
  c.init = {};
  EXPECT_EQ(validate(c), std::vector<std::string>{"`init` must not be empty"});
  c.init = {"sbin/init"};
  c.origin["container.init"] = "x.conf:9";
  EXPECT_EQ(validate(c), std::vector<std::string>{"x.conf:9: init `sbin/init` is not an absolute path"});
}

TEST(ConfigValidate, CanBeSkippedButParseErrorsStillFail) {
  LoadOptions lax = kOptions;
  lax.validate = false;
  auto c = load_config_string("[namespaces]\nclone = net\n", "t.conf", lax);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->clone_ns, std::vector<Namespace>{Namespace::kNet});
  EXPECT_EQ(c->rootfs, kOptions.default_rootfs);
  c = load_config_string("[namespaces]\nclone = nett\n", "t.conf", lax);
  ASSERT_FALSE(c);
}

TEST(ConfigValidate, RulesAreNamed) {
  std::vector<std::string> names;
  for (const auto& r : validation_rules()) names.push_back(r.name);
  for (const char* n : {"init-absolute", "mnt-and-pid-required", "unprivileged-needs-userns",
                        "unprivileged-needs-root-map", "privileged-has-no-userns", "hostname-needs-uts",
                        "namespace-cloned-or-shared", "idmap-entries-disjoint"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
}

}  // namespace
}  // namespace cove::config
