// A container's identity at run time: the runtime key must not collide for two cove paths
// (it once held 32 bits of FNV-1a, which a brute force collides in a second), and a runtime
// state names its container, so a state found under a key is only used for that container.
#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <unordered_map>

#include "base/scope_exit.hpp"
#include "base/sha256.hpp"
#include "base/strings.hpp"
#include "container.hpp"
#include "host_ids.hpp"
#include "ns/idmap_registry.hpp"
#include "host_config.hpp"
#include "paths.hpp"
#include "state/container_lock.hpp"
#include "state/container_state.hpp"
#include "support.hpp"

namespace cove::test {
namespace {

// Two cove paths whose 32-bit FNV-1a hashes (the old key's hash) are equal: a birthday search
// over about 2^16 candidates.
std::pair<std::string, std::string> fnv32_colliding_paths() {
  std::unordered_map<uint32_t, std::string> seen;
  for (unsigned i = 0;; ++i) {
    std::string p = "/srv/cove-collide/" + std::to_string(i);
    auto h = static_cast<uint32_t>(fnv1a(p));
    auto [it, fresh] = seen.emplace(h, p);
    if (!fresh) return {it->second, p};
  }
}

TEST(RuntimeKey, PathsWithCollidingShortHashesGetDifferentKeys) {
  auto [a, b] = fnv32_colliding_paths();
  ASSERT_NE(a, b);
  ASSERT_EQ(static_cast<uint32_t>(fnv1a(a)), static_cast<uint32_t>(fnv1a(b)));
  EXPECT_NE(ContainerPaths(a, "web").key(), ContainerPaths(b, "web").key());
  EXPECT_NE(ContainerPaths(a, "web").runtime_dir(), ContainerPaths(b, "web").runtime_dir());
}

TEST(RuntimeKey, IsNamePlus128BitHashOfTheContainerDirectory) {
  std::string key = ContainerPaths("/srv/cove", "web").key();
  EXPECT_TRUE(std::regex_match(key, std::regex("web-[0-9a-f]{32}"))) << key;
  EXPECT_EQ(key, "web-" + sha256_hex("/srv/cove/web").substr(0, 32));
  // The default path keeps the plain name.
  EXPECT_EQ(ContainerPaths(host_config().path, "web").key(), "web");
  // A long name is shortened in the key (the command socket's path must fit sun_path); the
  // hash covers the whole name.
  std::string n1(64, 'a'), n2 = std::string(63, 'a') + "b";
  auto k1 = ContainerPaths("/srv/cove", n1), k2 = ContainerPaths("/srv/cove", n2);
  EXPECT_NE(k1.key(), k2.key());
  EXPECT_LT(k1.command_socket().size(), 108u);
}

TEST(RuntimeKey, Sha256MatchesKnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(RuntimeStateOwner, StateNamingAnotherContainerIsRefused) {
  RuntimeState rs;
  rs.state = ContainerState::kRunning;
  rs.container = "/srv/a/web";
  std::string text = encode_runtime_state(rs);
  auto mine = decode_runtime_state_for(text, "/srv/a/web");
  ASSERT_OK(mine);
  EXPECT_EQ(mine->container, "/srv/a/web");
  EXPECT_ERROR_CONTAINS(decode_runtime_state_for(text, "/srv/b/web"), "`/srv/a/web`");
  // A state that names no container (a monitor of an older cove) is nobody's.
  RuntimeState old = rs;
  old.container.clear();
  EXPECT_ERROR_CONTAINS(decode_runtime_state_for(encode_runtime_state(old), "/srv/a/web"), "names no container");
}

// Every operation of the library that takes the name refuses a bad one before it touches
// anything (the tools check it first as well).
TEST(ContainerName, EveryOperationRefusesABadName) {
  const std::string bad = "../../etc/x", why = "container name `../../etc/x` must not start with '.' or '-'";
  Container ct("/nonexistent/cove", bad);
  EXPECT_FALSE(ct.exists());
  EXPECT_EQ(ct.state().state, ContainerState::kStopped);
  EXPECT_ERROR_CONTAINS(ct.freeze(), why);
  EXPECT_ERROR_CONTAINS(ct.unfreeze(), why);
  EXPECT_ERROR_CONTAINS(ct.cgroup_get("memory.max"), why);
  EXPECT_ERROR_CONTAINS(ct.cgroup_set("memory.max", "1G", true), why);
  EXPECT_ERROR_CONTAINS(ct.cleanup_stale(), why);
  EXPECT_ERROR_CONTAINS(ct.stop({}), why);
  EXPECT_ERROR_CONTAINS(ct.start({}), why);
  EXPECT_ERROR_CONTAINS(ct.destroy(true), why);
  EXPECT_ERROR_CONTAINS(ct.info(), why);
  EXPECT_ERROR_CONTAINS(ct.wait(ContainerState::kRunning, 0), why);
  EXPECT_ERROR_CONTAINS(ct.console(0, 1), why);
  EXPECT_ERROR_CONTAINS(ct.attach({}), why);
  EXPECT_ERROR_CONTAINS(ct.checkpoint_check(), why);
}

// A listing reads its containers with several threads (cove-ls): every container's answer,
// an error or a broken config included, lands at its own name's place, whatever the number of
// threads, and equals what one info() gives.
TEST(ContainerListing, InfoOfAllAnswersForEachNameInItsPlace) {
  TempDir dir;
  std::vector<std::string> names;
  for (int i = 0; i < 300; ++i) {
    std::string n = "c" + std::to_string(i);
    names.push_back(n);
    if (i % 50 == 7) continue;  // no such container: an error in its place
    std::filesystem::create_directories(dir.file(n));
    std::ofstream(dir.file(n + "/config")) << (i % 3 == 0   ? "[container]\nprivileged = true\n"
                                               : i % 11 == 0 ? "[container]\nno_such_key = 1\n"
                                                             : "[container]\nttys = 2\n");
  }
  for (unsigned workers : {1u, 3u, 0u}) {
    auto all = Container::info_of_all(dir.path(), names, Container::InfoDetail::kBrief, workers);
    ASSERT_EQ(all.size(), names.size());
    for (size_t i = 0; i < names.size(); ++i) {
      auto one = Container(dir.path(), names[i]).info(Container::InfoDetail::kBrief);
      ASSERT_EQ(all[i].has_value(), one.has_value()) << names[i];
      if (!one) {
        EXPECT_EQ(all[i].error().message(), one.error().message());
        continue;
      }
      EXPECT_EQ(all[i]->name, names[i]);
      EXPECT_EQ(all[i]->privileged, i % 3 == 0) << names[i];
      EXPECT_EQ(all[i]->config_error, one->config_error) << names[i];
      EXPECT_EQ(all[i]->config_error.empty(), i % 3 == 0 || i % 11 != 0) << names[i];
      EXPECT_EQ(all[i]->state.state, ContainerState::kStopped);
    }
  }
}

// An entry recorded under another spelling of the same config (before cove paths were
// canonical) is the container's own: a start's claim of the same ids is not refused.
TEST(IdmapRegistry, ClaimTakesAnotherSpellingOfTheOwnerAsItself) {
  TempDir dir;
  std::filesystem::create_directories(dir.file("real/c"));
  std::filesystem::create_directory_symlink(dir.file("real"), dir.file("link"));
  std::ofstream(dir.file("real/c/config")) << "# config\n";
  std::string reg = dir.file("registry"), none = dir.file("no-subids");
  std::vector<ns::HostRange> ids = {{1000000, 65536}};
  ASSERT_OK(ns::registry_claim(dir.file("link/c/config"), ids, ids, reg, none, none));
  ASSERT_OK(ns::registry_claim(dir.file("real/c/config"), ids, ids, reg, none, none));
  std::ifstream in(reg);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto entries = ns::parse_registry(text);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].owner, dir.file("real/c/config"));
  // Another container is still refused.
  std::filesystem::create_directories(dir.file("real/d"));
  EXPECT_ERROR_CONTAINS(ns::registry_claim(dir.file("real/d/config"), ids, ids, reg, none, none), "overlap");
}

// A start's claim is O(1) in the containers created elsewhere: it looks only at the entries its
// ranges overlap (an overlapping dead one is dropped); the others' liveness is left to the next
// allocation, which stats every entry anyway.
TEST(IdmapRegistry, ClaimLooksOnlyAtTheEntriesItsRangesOverlap) {
  TempDir dir;
  std::filesystem::create_directories(dir.file("p/c"));
  std::string reg = dir.file("registry"), none = dir.file("no-subids");
  {
    std::ofstream out(reg);
    out << ns::format_registry({{2000000, 65536, dir.file("gone/a/config")}, {1000000, 65536, dir.file("gone/b/config")}});
  }
  std::vector<ns::HostRange> ids = {{1000000, 65536}};
  ASSERT_OK(ns::registry_claim(dir.file("p/c/config"), ids, ids, reg, none, none));
  std::ifstream in(reg);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto entries = ns::parse_registry(text);
  ASSERT_EQ(entries.size(), 2u) << text;
  EXPECT_EQ(entries[0].owner, dir.file("gone/a/config"));  // not overlapping: not looked at
  EXPECT_EQ(entries[1].owner, dir.file("p/c/config"));     // the dead overlapping one gave way
  auto next = ns::registry_allocate(dir.file("p/d/config"), {}, reg);
  ASSERT_OK(next);
  in.close();
  std::ifstream again(reg);
  std::string after((std::istreambuf_iterator<char>(again)), std::istreambuf_iterator<char>());
  EXPECT_EQ(after.find("gone/a"), std::string::npos) << after;  // an allocation drops it
}

// The monitor lock is free as soon as its holder has died, before anyone reaps it.
TEST(MonitorLock, FreeOnceTheHolderDiedEvenUnreaped) {
  TempDir dir;
  std::string file = dir.file(".monitor.lock");
  EXPECT_FALSE(is_monitor_lock_held(file));  // no file: no monitor
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  if (child == 0) {
    auto lock = hold_monitor_lock(file, "web");
    char c = lock ? 'y' : 'n';
    (void)!::write(ready[1], &c, 1);
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  ASSERT_EQ(c, 'y');
  EXPECT_TRUE(is_monitor_lock_held(file));
  EXPECT_ERROR_CONTAINS(hold_monitor_lock(file, "web"), "`web` is already running");
  ::kill(child, SIGKILL);
  siginfo_t si = {};
  ASSERT_EQ(::waitid(P_PID, child, &si, WEXITED | WNOWAIT), 0);  // a zombie now, not reaped
  EXPECT_FALSE(is_monitor_lock_held(file));
  EXPECT_OK(hold_monitor_lock(file, "web"));
  ::waitpid(child, nullptr, 0);
}

std::string slurp_file(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

ino_t inode_of(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// Every start claims its ranges again, and most change nothing: then the registry is not
// written (it was formatted and read again to find that out), and a container's entry stays in
// its place (it moved to the end, which rewrote the file at every first start of many).
TEST(IdmapRegistry, AClaimThatChangesNothingLeavesTheFileAlone) {
  TempDir dir;
  for (const char* c : {"p/a", "p/c", "p/b"}) std::filesystem::create_directories(dir.file(c));
  std::string reg = dir.file("registry"), none = dir.file("no-subids");
  {
    std::ofstream out(reg);
    out << ns::format_registry({{1000000, 65536, dir.file("p/a/config")},
                                {2000000, 65536, dir.file("p/c/config")},
                                {3000000, 65536, dir.file("p/b/config")}});
  }
  std::string before = slurp_file(reg);
  ino_t ino = inode_of(reg);
  std::vector<ns::HostRange> ids = {{2000000, 65536}};
  ASSERT_OK(ns::registry_claim(dir.file("p/c/config"), ids, ids, reg, none, none));
  EXPECT_EQ(slurp_file(reg), before);
  EXPECT_EQ(inode_of(reg), ino) << "rewritten";
  // A changed range replaces the old one (then the file is written).
  std::vector<ns::HostRange> moved = {{4000000, 65536}};
  ASSERT_OK(ns::registry_claim(dir.file("p/c/config"), moved, moved, reg, none, none));
  auto entries = ns::parse_registry(slurp_file(reg));
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].owner, dir.file("p/a/config"));
  EXPECT_EQ(entries[1].owner, dir.file("p/b/config"));
  EXPECT_EQ(entries[2], (ns::RegistryEntry{4000000, 65536, dir.file("p/c/config")}));
}

// The index of running containers' ids: a start adds its lines at the end (an append, not a
// rewrite of every running container's lines); one that finds lines of its own (or a dead
// overlapping one) writes the file again without them. A torn last line (a crash in an
// append) is not glued to the next entry, and is dropped at the next rewrite.
TEST(RunningIds, AStartAppendsItsLinesAndReplacesItsOwn) {
  TempDir dir;
  HostConfig saved = host_config();
  HostConfig hc = saved;
  hc.runtime_dir = dir.file("run");
  hc.state_dir = dir.file("state");
  set_host_config(hc);
  ScopeExit restore([&] { set_host_config(saved); });
  ::unsetenv("COVE_IDMAP_REGISTRY");
  std::filesystem::create_directories(hc.runtime_dir);
  auto container = [&](const std::string& name, uint32_t host) {
    std::filesystem::create_directories(dir.file("p/" + name));
    config::ContainerConfig cfg;
    cfg.uid_map = {{0, host, 65536}};
    cfg.gid_map = cfg.uid_map;
    return std::make_pair(ContainerPaths(dir.file("p"), name), cfg);
  };
  auto [pa, a] = container("a", 1000000);
  auto [pb, b] = container("b", 2000000);
  auto [pc, c] = container("c", 3000000);
  std::string index = hc.runtime_dir + "/.running-ids";
  auto lines = [&] { return split(slurp_file(index), '\n'); };
  ASSERT_OK(claim_host_ids(pa, a));
  ino_t ino = inode_of(index);
  ASSERT_OK(claim_host_ids(pb, b));
  EXPECT_EQ(inode_of(index), ino) << "rewritten, not appended";
  EXPECT_EQ(lines(), (std::vector<std::string>{"uid 1000000 65536 " + pa.dir(), "gid 1000000 65536 " + pa.dir(),
                                               "uid 2000000 65536 " + pb.dir(), "gid 2000000 65536 " + pb.dir(), ""}));
  { std::ofstream(index, std::ios::app) << "uid 12"; }
  ASSERT_OK(claim_host_ids(pc, c));
  EXPECT_EQ(lines(), (std::vector<std::string>{"uid 1000000 65536 " + pa.dir(), "gid 1000000 65536 " + pa.dir(),
                                               "uid 2000000 65536 " + pb.dir(), "gid 2000000 65536 " + pb.dir(),
                                               "uid 12", "uid 3000000 65536 " + pc.dir(),
                                               "gid 3000000 65536 " + pc.dir(), ""}));
  ASSERT_OK(claim_host_ids(pa, a));  // its lines are there already: replaced, once, at the end
  EXPECT_EQ(lines(), (std::vector<std::string>{"uid 2000000 65536 " + pb.dir(), "gid 2000000 65536 " + pb.dir(),
                                               "uid 3000000 65536 " + pc.dir(), "gid 3000000 65536 " + pc.dir(),
                                               "uid 1000000 65536 " + pa.dir(), "gid 1000000 65536 " + pa.dir(), ""}));
  // Another container on b's ids is refused (by the registry: b's directory is there).
  auto [pd, d] = container("d", 2000000);
  EXPECT_ERROR_CONTAINS(claim_host_ids(pd, d), "overlap");
  for (const auto& p : {pa, pb, pc}) release_host_ids(p);
  EXPECT_FALSE(std::filesystem::exists(index)) << slurp_file(index);
}

}  // namespace
}  // namespace cove::test
