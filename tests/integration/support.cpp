#include "support.hpp"

#include "criu/features.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>

#include "host_config.hpp"
#include "paths.hpp"
#include "state/container_state.hpp"

namespace cove::test {

std::string builddir() { return COVE_BUILDDIR; }
std::string srcdir() { return COVE_SRCDIR; }

int64_t now_ms() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

bool criu_backend_built() { return criu::available(); }


bool eventually(const std::function<bool()>& cond, int timeout_ms, int poll_ms) {
  for (int64_t end = now_ms() + timeout_ms;; ::usleep(static_cast<useconds_t>(poll_ms) * 1000)) {
    if (cond()) return true;
    if (now_ms() > end) return false;
  }
}

std::string scratch_dir() {
  const char* d = std::getenv("COVE_TEST_TMPDIR");
  return d && *d ? d : "/tmp";
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string trim_str(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

RunResult run_cmd(const std::vector<std::string>& argv, int timeout_s, const std::vector<std::string>& env) {
  RunResult res;
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) < 0 || ::pipe2(err, O_CLOEXEC) < 0) return res;
  pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    // A COVE_DATADIR from the caller wins (tests/vm/cgroup-v2-check puts a template first).
    ::setenv("COVE_DATADIR", (builddir() + ":" + srcdir()).c_str(), 0);
    for (const auto& e : env) {
      auto eq = e.find('=');
      ::setenv(e.substr(0, eq).c_str(), eq == std::string::npos ? "" : e.c_str() + eq + 1, 1);
    }
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    ::execvp(a[0], a.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  int64_t deadline = now_ms() + int64_t(timeout_s) * 1000;
  struct pollfd p[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0) {
    int left = static_cast<int>(deadline - now_ms());
    if (left <= 0) {
      ::kill(pid, SIGKILL);
      res.err += "\n[test support: killed after timeout]";
      break;
    }
    if (::poll(p, 2, left) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (!p[i].revents) continue;
      ssize_t n = ::read(p[i].fd, buf, sizeof buf);
      if (n <= 0) {
        p[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? res.out : res.err).append(buf, static_cast<size_t>(n));
      }
    }
  }
  ::close(out[0]);
  ::close(err[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  res.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return res;
}

RunResult run_tool(const std::string& tool, const std::vector<std::string>& args, int timeout_s,
                   const std::vector<std::string>& env) {
  std::vector<std::string> argv = {builddir() + "/" + tool};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_cmd(argv, timeout_s, env);
}

void ContainerTest::SetUp() {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (run as root: make check-integration)";
  // The tools read the host config the environment selects ($COVE_CONFIG); so does this
  // process, for the runtime dirs it looks at.
  if (auto r = init_host_config(); !r) FAIL() << r.error().message();
  std::string tmpl = scratch_dir() + "/cove-it.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  path_ = tmpl;
  ::chmod(path_.c_str(), 0711);
}

void ContainerTest::TearDown() {
  if (path_.empty()) return;
  for (const auto& n : names_) {
    run_tool("cove-stop", {"-P", path_, "-n", n, "-k"}, 30);
    run_tool("cove-destroy", {"-P", path_, "-n", n, "-f"}, 30);
    end_stuck_monitor(n);
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

// A container a failed test left busy (CHECKPOINTING, RESTORING, a hung monitor) refuses stop
// and destroy: its monitor is killed, and then the stale-state cleanup of cove-stop and
// cove-destroy removes init, the cgroups and the runtime dir as after any dead monitor.
void ContainerTest::end_stuck_monitor(const std::string& name) {
  std::string state = read_text(runtime_dir(name) + "/state");
  if (state.empty()) return;
  // Only this container's own monitor (the state names its container).
  auto rs = decode_runtime_state_for(state, ContainerPaths(path_, name).dir());
  if (!rs || !process_matches(rs->monitor_pid, rs->monitor_starttime)) return;
  ADD_FAILURE() << "container `" << name << "` was left " << state_name(rs->state) << ": killing its monitor";
  ::kill(rs->monitor_pid, SIGKILL);
  for (int i = 0; i < 200 && process_matches(rs->monitor_pid, rs->monitor_starttime); ++i) ::usleep(10000);
  run_tool("cove-stop", {"-P", path_, "-n", name, "-k"}, 30);
  run_tool("cove-destroy", {"-P", path_, "-n", name, "-f"}, 30);
}

RunResult ContainerTest::cove(const std::string& tool, const std::string& name, const std::vector<std::string>& args,
                              int timeout_s) {
  std::vector<std::string> a = {"-P", path_};
  if (!name.empty()) a.insert(a.end(), {"-n", name});
  a.insert(a.end(), args.begin(), args.end());
  return run_tool(tool, a, timeout_s);
}

void ContainerTest::create_busybox(const std::string& name, const std::string& extra_config) {
  names_.push_back(name);
  std::vector<std::string> args = {"-t", "busybox"};
  if (!extra_config.empty()) {
    std::string f = path_ + "/" + name + ".conf";
    FILE* fp = std::fopen(f.c_str(), "w");
    ASSERT_NE(fp, nullptr);
    std::fputs(extra_config.c_str(), fp);
    std::fclose(fp);
    args.insert(args.end(), {"-f", f});
  }
  auto r = cove("cove-create", name, args, 120);
  ASSERT_EQ(r.status, 0) << r.err;
}

void ContainerTest::create_debian_container(const std::string& name, const std::vector<std::string>& template_args) {
  names_.push_back(name);
  std::vector<std::string> args = {"-t", "debian", "--"};
  args.insert(args.end(), template_args.begin(), template_args.end());
  bool network_given = std::any_of(template_args.begin(), template_args.end(),
                                   [](const std::string& a) { return a.rfind("--network", 0) == 0; });
  if (!network_given) args.insert(args.end(), {"--network", "none"});
  auto r = cove("cove-create", name, args, 900);
  ASSERT_EQ(r.status, 0) << r.err;
}

std::string ContainerTest::attach_out(const std::string& name, const std::vector<std::string>& cmd) {
  std::vector<std::string> a = {"--"};
  a.insert(a.end(), cmd.begin(), cmd.end());
  auto r = cove("cove-attach", name, a);
  EXPECT_EQ(r.status, 0) << r.err;
  return trim_str(r.out);
}

std::string ContainerTest::system_state(const std::string& name) {
  return trim_str(cove("cove-attach", name, {"--", "systemctl", "is-system-running"}).out);
}

bool ContainerTest::boots_to_running(const std::string& name, int timeout_ms) {
  std::string s;
  eventually(
      [&] {
        s = system_state(name);
        return s == "running" || s == "degraded" || s == "maintenance";
      },
      timeout_ms, 100);
  if (s != "running") {
    auto failed = cove("cove-attach", name, {"--", "systemctl", "--failed", "--no-pager"});
    ADD_FAILURE() << "systemd state `" << s << "`; failed units:\n" << failed.out << failed.err;
  }
  return s == "running";
}

std::string ContainerTest::info_json_field(const std::string& name, const std::string& field) {
  auto r = cove("cove-info", name, {"--json"});
  if (r.status != 0) return "";
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded() || !j.contains(field)) return "";
  return j[field].is_string() ? j[field].get<std::string>() : j[field].dump();
}

pid_t ContainerTest::init_pid(const std::string& name) { return std::atoi(info_json_field(name, "init_pid").c_str()); }
pid_t ContainerTest::monitor_pid(const std::string& name) {
  return std::atoi(info_json_field(name, "monitor_pid").c_str());
}

std::string ContainerTest::runtime_dir(const std::string& name) { return ContainerPaths(path_, name).runtime_dir(); }

std::vector<std::string> ContainerTest::leftover_cgroups(const std::string& name) {
  std::string key = ContainerPaths(path_, name).key();
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator("/sys/fs/cgroup", ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it.depth() > 4) {
      it.disable_recursion_pending();
      continue;
    }
    auto fn = it->path().filename().string();
    if (it->is_directory(ec) && (fn == "cove.payload." + key || fn == "cove.monitor." + key))
      out.push_back(it->path().string());
  }
  return out;
}

void CriuContainerTest::SetUp() {
  ContainerTest::SetUp();
  if (IsSkipped()) return;
  COVE_REQUIRE_CRIU();
  auto info = criu::probe();
  ASSERT_TRUE(info.has_value()) << info.error().message();
  stock_criu_ = !info->cove_build();
}

}  // namespace cove::test
