// Tests of the key table: completeness, every value type good and bad, get_key round trips,
// clear, the roff key reference, and the model codecs (mount entries, namespace names).
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <set>
#include <string>
#include <vector>

#include "base/strings.hpp"
#include "config/key_table.hpp"
#include "config/load.hpp"

namespace cove::config {
namespace {

using Strings = std::vector<std::string>;

const LoadOptions kOptions{"web", "/var/lib/cove/web/rootfs"};

// A config setting every key but share.uts (hostname needs uts, which share.* excludes).
const char kFull[] =
    "[container]\nhostname = box.example\ninit = /bin/sh -c  /etc/rc\ninit.env = A=1\ninit.env = B=x=y\n"
    "init.cwd = /srv\nhalt_signal = SIGRTMIN+3\nreboot_signal = 1\nstop_signal = TERM\nrootfs = /srv/box\n"
    "privileged = no\nttys = 4\nconsole.log = /var/log/box.console\nlog.file = /var/log/box.log\n"
    "log.level = DEBUG\nstop_timeout = 30\n"
    "[mount]\nentry = tmpfs /tmp tmpfs nosuid,nodev,mode=1777\nentry = /data data none rbind,ro,create=dir,optional\n"
    "auto = proc:rw sys:none cgroup:ro\n"
    "[namespaces]\nclone = mnt pid uts user cgroup\nshare.net = db\nshare.ipc = db\n"
    "[idmap]\nuid = 0 100000 65536\nuid = 65536 1000 1\ngid = 0 100000 65536\n";

Strings get(const ContainerConfig& c, const KeySpec& k) {
  auto v = get_key(c, std::string(k.section), std::string(k.key));
  EXPECT_TRUE(v.has_value()) << k.name();
  return v ? *v : Strings{};
}

// Applies one value with the key's parser, as the loader would for a file in /base.
Result<ContainerConfig> apply(const std::string& section, const std::string& key, const std::string& value) {
  const KeySpec* k = find_key(section, key);
  EXPECT_NE(k, nullptr) << section << "." << key;
  ContainerConfig c;
  if (!k) return c;
  if (auto r = k->parse(c, value, KeyContext{"t.conf", 1, "/base"}); !r) return std::move(r).error();
  return c;
}

TEST(KeyTable, EveryKeyIsComplete) {
  std::set<std::string> names;
  ASSERT_GE(key_table().size(), 22u);
  for (const auto& k : key_table()) {
    EXPECT_FALSE(k.section.empty());
    EXPECT_FALSE(k.key.empty());
    EXPECT_FALSE(k.allowed.empty()) << k.name();
    EXPECT_GT(k.doc.size(), 20u) << k.name();
    EXPECT_NE(k.parse, nullptr) << k.name();
    EXPECT_NE(k.format, nullptr) << k.name();
    EXPECT_NE(k.clear, nullptr) << k.name();
    EXPECT_TRUE(names.insert(k.name()).second) << "duplicate " << k.name();
    EXPECT_EQ(find_key(k.section, k.key), &k);
    EXPECT_TRUE(is_known_section(k.section));
  }
  EXPECT_EQ(key_sections(), (Strings{"container", "boot", "mount", "namespaces", "idmap", "rootfs", "cgroup", "security"}));
  EXPECT_EQ(find_key("container", "nope"), nullptr);
  EXPECT_FALSE(is_known_section("nope"));
}

struct ValueCase {
  const char* section;
  const char* key;
  const char* value;
  Strings expected;    // get_key() after a good value
  const char* error;   // substring of the error for a bad value, nullptr when good
};

const ValueCase kCases[] = {
    {"container", "hostname", "web", {"web"}, nullptr},
    {"container", "hostname", "a.b-c.d1", {"a.b-c.d1"}, nullptr},
    {"container", "hostname", "-a", {}, "starts or ends with `-`"},
    {"container", "hostname", "a..b", {}, "empty or over-long"},
    {"container", "hostname", "a_b", {}, "contains `_`"},
    {"container", "hostname", "", {}, "1 to 64 characters"},
    {"container", "init", "/bin/sh  -c true", {"/bin/sh -c true"}, nullptr},
    {"container", "init", "sh -c true", {}, "`sh` is not an absolute path"},
    {"container", "init", "", {}, "must not be empty"},
    {"container", "init.env", "A_1=x=y", {"A_1=x=y"}, nullptr},
    {"container", "init.env", "A=", {"A="}, nullptr},
    {"container", "init.env", "A", {}, "`A` has no `=`"},
    {"container", "init.env", "1A=2", {}, "variable name `1A`"},
    {"container", "init.env", "A-B=2", {}, "variable name `A-B`"},
    {"container", "init.cwd", "/srv", {"/srv"}, nullptr},
    {"container", "init.cwd", "srv", {}, "`srv` is not an absolute path"},
    {"container", "halt_signal", "SIGPWR", {"SIGPWR"}, nullptr},
    {"container", "halt_signal", "PWR", {"SIGPWR"}, nullptr},
    {"container", "halt_signal", "30", {"SIGPWR"}, nullptr},
    {"container", "reboot_signal", "SIGRTMIN+3", {"SIGRTMIN+3"}, nullptr},
    {"container", "stop_signal", "SIGFOO", {}, "`SIGFOO` is not a signal"},
    {"container", "stop_signal", "0", {}, "`0` is not a signal"},
    {"container", "rootfs", "/x/../y/", {"/y/"}, nullptr},
    {"container", "rootfs", "r", {"/base/r"}, nullptr},
    {"container", "rootfs", "", {}, "must not be empty"},
    {"container", "privileged", "yes", {"true"}, nullptr},
    {"container", "privileged", "off", {"false"}, nullptr},
    {"container", "privileged", "maybe", {}, "`maybe` is not a boolean"},
    {"container", "ttys", "0", {"0"}, nullptr},
    {"container", "ttys", "64", {"64"}, nullptr},
    {"container", "ttys", "65", {}, "`65` is out of range"},
    {"container", "ttys", "-1", {}, "`-1` is not a non-negative integer"},
    {"container", "ttys", "1x", {}, "`1x` is not a non-negative integer"},
    {"boot", "autostart", "yes", {"true"}, nullptr},
    {"boot", "autostart", "0", {"false"}, nullptr},
    {"boot", "autostart", "later", {}, "`later` is not a boolean"},
    {"boot", "order", "-1000", {"-1000"}, nullptr},
    {"boot", "order", "1000", {"1000"}, nullptr},
    {"boot", "order", "1001", {}, "`1001` is out of range"},
    {"boot", "order", "-1001", {}, "`-1001` is out of range"},
    {"boot", "order", "first", {}, "`first` is not an integer"},
    {"boot", "delay", "0", {"0"}, nullptr},
    {"boot", "delay", "3600", {"3600"}, nullptr},
    {"boot", "delay", "3601", {}, "`3601` is out of range"},
    {"boot", "delay", "-5", {}, "`-5` is not a non-negative integer"},
    {"container", "console.log", "", {}, nullptr},
    {"container", "console.log", "c.log", {"/base/c.log"}, nullptr},
    {"container", "log.file", "/l/web.log", {"/l/web.log"}, nullptr},
    {"container", "log.level", "DEBUG", {"debug"}, nullptr},
    {"container", "log.level", "warning", {"warn"}, nullptr},
    {"container", "log.level", "loud", {}, "`loud` is not a log level"},
    {"container", "stop_timeout", "3600", {"3600"}, nullptr},
    {"container", "stop_timeout", "3601", {}, "`3601` is out of range"},
    {"mount", "entry", "proc proc proc nosuid,nodev,noexec", {"proc /proc proc nosuid,nodev,noexec"}, nullptr},
    {"mount", "entry", "a b c", {}, "expected 4 to 6 fields, got 3"},
    {"mount", "entry", "a ../b c d", {}, "TARGET `../b` must not contain a `..` component"},
    {"mount", "auto", "sys:rw", {"proc:mixed sys:rw cgroup:rw"}, nullptr},
    {"mount", "auto", "sys:mixed proc:none", {"proc:none sys:ro cgroup:rw"}, nullptr},
    {"mount", "auto", "", {"proc:mixed sys:ro cgroup:rw"}, nullptr},
    {"mount", "auto", "cgroup:mixed", {}, "invalid mode `mixed` for `cgroup`"},
    {"mount", "auto", "dev:rw", {}, "unknown filesystem `dev`"},
    {"mount", "auto", "proc", {}, "invalid mode `` for `proc`"},
    {"mount", "auto", "proc:rw proc:ro", {}, "`proc` is given twice"},
    {"mount", "lxcfs", "auto", {"auto"}, nullptr},
    {"mount", "lxcfs", "off", {"off"}, nullptr},
    {"mount", "lxcfs", "/var/lib/lxcfs/", {"/var/lib/lxcfs"}, nullptr},
    {"mount", "lxcfs", "/srv/../var/lib/lxcfs", {"/var/lib/lxcfs"}, nullptr},
    {"mount", "lxcfs", "var/lib/lxcfs", {}, "`var/lib/lxcfs` is neither `auto`, `off` nor an absolute path"},
    {"mount", "lxcfs", "on", {}, "`on` is neither `auto`, `off` nor an absolute path"},
    {"mount", "lxcfs", "", {}, "`` is neither"},
    {"namespaces", "clone", "mnt  pid time", {"mnt pid time"}, nullptr},
    {"namespaces", "clone", "mnt foo", {}, "unknown namespace `foo`"},
    {"namespaces", "clone", "mnt mnt", {}, "`mnt` is listed twice"},
    {"namespaces", "share.net", "db", {"db"}, nullptr},
    {"namespaces", "share.uts", "", {}, nullptr},
    {"namespaces", "share.ipc", "a/b", {}, "`a/b` is not a container name"},
    {"namespaces", "share.ipc", "..", {}, "`..` is not a container name"},
    {"idmap", "uid", "0 100000 65536", {"0 100000 65536"}, nullptr},
    {"idmap", "gid", "4294967294 0 1", {"4294967294 0 1"}, nullptr},
    {"idmap", "uid", "0 1", {}, "expected 3 numbers"},
    {"idmap", "uid", "0 1 0", {}, "COUNT must be at least 1"},
    {"idmap", "gid", "4294967295 0 1", {}, "ID + COUNT must not exceed 4294967295"},
    {"idmap", "gid", "0 4294967296 1", {}, "`4294967296` is not a number in 0..4294967295"},
    {"idmap", "gid", "-1 0 1", {}, "`-1` is not a number"},
};

TEST(KeyTable, ValuesGoodAndBad) {
  std::set<std::string> covered;
  for (const auto& tc : kCases) {
    std::string what = std::string(tc.section) + "." + tc.key + " = `" + tc.value + "`";
    covered.insert(std::string(tc.section) + "." + tc.key);
    auto c = apply(tc.section, tc.key, tc.value);
    if (tc.error) {
      ASSERT_FALSE(c.has_value()) << what;
      EXPECT_NE(c.error().message().find(tc.error), std::string::npos) << what << ": " << c.error().message();
      EXPECT_EQ(c.error().code(), EINVAL);
    } else {
      ASSERT_TRUE(c.has_value()) << what << ": " << c.error().message();
      EXPECT_EQ(get(*c, *find_key(tc.section, tc.key)), tc.expected) << what;
    }
  }
  // The cgroup and security sections have value tests of their own (security_config_test.cpp, ...).
  for (const auto& k : core_keys()) EXPECT_TRUE(covered.count(k.name())) << "no value test for " << k.name();
}

TEST(KeyTable, BadValueMessageNamesKeyAndAllowed) {
  auto c = load_config_string("[mount]\nauto = sys:sometimes\n", "m.conf", kOptions);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message(), "m.conf:2: [mount] auto: `sys:sometimes`: invalid mode `sometimes` for `sys` "
                                 "(allowed: proc:rw|ro|mixed|none sys:rw|ro|mixed|none cgroup:rw|ro|none)");
}

// Loads `text`, prints every key with get_key, loads that output again and compares.
void expect_round_trip(const std::string& text) {
  auto c = load_config_string(text, "/etc/cove/full.conf", kOptions);
  ASSERT_TRUE(c) << c.error().message();
  std::string again;
  for (const auto& k : key_table())
    for (const auto& v : get(*c, k)) again += "[" + std::string(k.section) + "]\n" + std::string(k.key) + " = " + v + "\n";
  auto c2 = load_config_string(again, "/elsewhere/again.conf", kOptions);
  ASSERT_TRUE(c2) << c2.error().message() << "\n" << again;
  for (const auto& k : key_table()) EXPECT_EQ(get(*c, k), get(*c2, k)) << k.name();
  EXPECT_EQ(c2->mounts.size(), c->mounts.size());
  for (size_t i = 0; i < c->mounts.size() && i < c2->mounts.size(); ++i) {
    auto a = c->mounts[i], b = c2->mounts[i];
    a.where = b.where = "";
    EXPECT_EQ(a, b);
  }
}

TEST(KeyTable, GetKeyRoundTripsEveryKey) {
  expect_round_trip(kFull);
  expect_round_trip("[container]\nprivileged = 1\nhostname = h\n[namespaces]\nclone = mnt pid net ipc\nshare.uts = db\n");
  auto c = load_config_string(kFull, "/etc/cove/full.conf", kOptions);
  ASSERT_TRUE(c);
  for (const auto& k : core_keys()) {
    if (k.key != "share.uts") {
      EXPECT_FALSE(get(*c, k).empty()) << k.name() << " is not set by kFull";
    }
  }
  EXPECT_EQ(*get_key(*c, "container", "init"), Strings{"/bin/sh -c /etc/rc"});
  EXPECT_EQ(*get_key(*c, "idmap", "uid"), (Strings{"0 100000 65536", "65536 1000 1"}));
  EXPECT_EQ(*get_key(*c, "mount", "entry"),
            (Strings{"tmpfs /tmp tmpfs nosuid,nodev,mode=1777", "/data /data none rbind,ro,create=dir,optional"}));
}

TEST(KeyTable, GetKeyUnknown) {
  ContainerConfig c;
  auto r = get_key(c, "container", "nope");
  ASSERT_FALSE(r);
  EXPECT_TRUE(starts_with(r.error().message(), "unknown key `nope` in [container] (allowed: hostname, init"));
  r = get_key(c, "nope", "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "unknown section `[nope]` (allowed: [container], [boot], [mount], [namespaces], [idmap], [rootfs], [cgroup], [security], [network.NAME])");
}

TEST(KeyTable, ClearRestoresTheDefault) {
  auto full = load_config_string(kFull, "/etc/cove/full.conf", kOptions);
  ASSERT_TRUE(full);
  const ContainerConfig defaults;
  for (const auto& k : key_table()) {
    ContainerConfig c = *full;
    k.clear(c);
    EXPECT_EQ(get(c, k), get(defaults, k)) << k.name();
  }
}

TEST(KeyTable, RoffReferenceMentionsEveryKey) {
  std::string roff = render_key_reference_roff();
  for (const auto& s : key_sections()) EXPECT_NE(roff.find(".SS \"[" + s + "]\"\n"), std::string::npos) << s;
  for (const auto& k : key_table()) {
    EXPECT_NE(roff.find(".TP\n\\fB" + std::string(k.key) + "\\fR = \\fI"), std::string::npos) << k.name();
  }
  EXPECT_NE(roff.find("written \\e040"), std::string::npos);  // backslashes are escaped
  for (const auto& line : split(roff, '\n')) {
    if (!line.empty() && line[0] == '.') {
      EXPECT_TRUE(starts_with(line, ".SS ") || line == ".TP" || line == ".br") << line;
    }
  }
}

// --- model codecs ----------------------------------------------------------------------------------

TEST(MountEntry, OptionsBecomeFlagsPropagationAndData) {
  auto e = parse_mount_entry("/src /data none rbind,ro,nosuid,create=dir,optional,rslave");
  ASSERT_TRUE(e) << e.error().message();
  EXPECT_EQ(e->source, "/src");
  EXPECT_EQ(e->target, "data");
  EXPECT_EQ(e->fstype, "none");
  EXPECT_EQ(e->flags, MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID);
  EXPECT_EQ(e->propagation, MS_SLAVE | MS_REC);
  EXPECT_TRUE(e->create_dir);
  EXPECT_FALSE(e->create_file);
  EXPECT_TRUE(e->optional);
  EXPECT_EQ(e->data, "");

  e = parse_mount_entry("tmpfs //dev/./shm/ tmpfs mode=1777,,size=64M,nodev,ro,rw,noatime,relatime 0 0");
  ASSERT_TRUE(e) << e.error().message();
  EXPECT_EQ(e->target, "dev/shm");
  EXPECT_EQ(e->flags, MS_NODEV | MS_RELATIME);
  EXPECT_EQ(e->data, "mode=1777,size=64M");
  EXPECT_EQ(format_mount_entry(*e), "tmpfs /dev/shm tmpfs nodev,relatime,mode=1777,size=64M");
}

TEST(MountEntry, OctalEscapes) {
  auto e = parse_mount_entry("/my\\040src a\\040b\\134c none bind,create=file");
  ASSERT_TRUE(e) << e.error().message();
  EXPECT_EQ(e->source, "/my src");
  EXPECT_EQ(e->target, "a b\\c");
  EXPECT_EQ(format_mount_entry(*e), "/my\\040src /a\\040b\\134c none bind,create=file");
}

TEST(MountEntry, Errors) {
  const std::pair<const char*, const char*> cases[] = {
      {"a b c d e f g", "expected 4 to 6 fields, got 7"},
      {"a b c d x", "DUMP and PASS must be numbers, got `x`"},
      {"a x/../../y t d", "must not contain a `..` component"},
      {"a / t d", "TARGET `/` is the rootfs itself"},
      {"a b t private,shared", "conflicting propagation options (at `shared`)"},
      {"a b t create=dir,create=file", "`create=dir` and `create=file` are mutually exclusive"},
      {"a b t create=dev", "unknown option `create=dev`"},
  };
  for (const auto& [text, error] : cases) {
    auto e = parse_mount_entry(text);
    ASSERT_FALSE(e) << text;
    EXPECT_NE(e.error().message().find(error), std::string::npos) << text << ": " << e.error().message();
  }
}

TEST(MountEntry, FormatRoundTrips) {
  for (const char* text : {"proc /proc proc defaults", "/a /b none bind,private", "x y z noexec,sync,dirsync,remount",
                           "/h h none rbind,nodiratime,strictatime,runbindable,optional,uid=0"}) {
    auto e = parse_mount_entry(text);
    ASSERT_TRUE(e) << text;
    auto again = parse_mount_entry(format_mount_entry(*e));
    ASSERT_TRUE(again) << format_mount_entry(*e);
    EXPECT_EQ(*again, *e) << text;
  }
}

TEST(MountEntry, IdMappedBinds) {
  auto e = parse_mount_entry("/src data none rbind,idmap=container");
  ASSERT_TRUE(e) << e.error().message();
  EXPECT_TRUE(e->idmap_container);
  EXPECT_TRUE(e->idmapped());
  EXPECT_EQ(format_mount_entry(*e), "/src /data none rbind,idmap=container");
  e = parse_mount_entry("/src data none bind,ro,uidmap=0:1000000:65536,uidmap=65536:5:1,gidmap=0:2000000:10");
  ASSERT_TRUE(e) << e.error().message();
  EXPECT_FALSE(e->idmap_container);
  EXPECT_EQ(e->uid_map, (std::vector<IdMapEntry>{{0, 1000000, 65536}, {65536, 5, 1}}));
  EXPECT_EQ(e->gid_map, (std::vector<IdMapEntry>{{0, 2000000, 10}}));
  EXPECT_EQ(e->data, "");
  auto again = parse_mount_entry(format_mount_entry(*e));
  ASSERT_TRUE(again) << format_mount_entry(*e);
  EXPECT_EQ(*again, *e);
  EXPECT_FALSE(parse_mount_entry("/src data none bind")->idmapped());

  const std::pair<const char*, const char*> errors[] = {
      {"tmpfs t tmpfs idmap=container", "needs `bind` or `rbind`"},
      {"/s t none bind,uidmap=0:1:1", "`uidmap=` and `gidmap=` go together"},
      {"/s t none bind,gidmap=0:1:1", "`uidmap=` and `gidmap=` go together"},
      {"/s t none bind,idmap=container,uidmap=0:1:1,gidmap=0:1:1", "mutually exclusive"},
      {"/s t none bind,idmap=container,optional", "cannot be `optional`"},
      {"/s t none bind,idmap=host", "unknown option `idmap=host`"},
      {"/s t none bind,uidmap=0:1,gidmap=0:1:1", "`uidmap=0:1`: expected CONTAINER:HOST:COUNT"},
      {"/s t none bind,uidmap=0:1:0,gidmap=0:1:1", "`uidmap=0:1:0`: COUNT must be at least 1"},
      {"/s t none bind,uidmap=4294967295:1:2,gidmap=0:1:1", "ID + COUNT must not exceed 4294967295"},
      {"/s t none bind,uidmap=0:x:2,gidmap=0:1:1", "`x` is not a number in 0..4294967295"},
  };
  for (const auto& [text, error] : errors) {
    auto bad = parse_mount_entry(text);
    ASSERT_FALSE(bad) << text;
    EXPECT_NE(bad.error().message().find(error), std::string::npos) << text << ": " << bad.error().message();
  }
}

TEST(Namespaces, NamesRoundTrip) {
  for (Namespace ns : kAllNamespaces) EXPECT_EQ(parse_namespace(namespace_name(ns)), ns);
  EXPECT_EQ(parse_namespace("network"), std::nullopt);
  EXPECT_STREQ(namespace_name(Namespace::kCgroup), "cgroup");
}

}  // namespace
}  // namespace cove::config
