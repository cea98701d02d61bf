// Support for integration tests: they need root and a real kernel, drive the real cove-*
// tools of this build tree, and use a private cove path per test, removed in TearDown even
// when the test fails (containers stopped and destroyed first).
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace cove::test {

struct RunResult {
  int status = -1;  // exit status, or 128+signal
  std::string out, err;
};

// Runs a tool of the build tree (e.g. "cove-start") with `args`; stdin is /dev/null. `env`
// ("NAME=VALUE" each) is added to the test's environment for it.
RunResult run_tool(const std::string& tool, const std::vector<std::string>& args, int timeout_s = 60,
                   const std::vector<std::string>& env = {});
// Runs any program (absolute path or PATH lookup).
RunResult run_cmd(const std::vector<std::string>& argv, int timeout_s = 60, const std::vector<std::string>& env = {});
std::string builddir();
std::string srcdir();
std::string trim_str(const std::string& s);
// The whole file, or "" when it cannot be read.
std::string read_text(const std::string& path);
// Where tests make their private cove paths: $COVE_TEST_TMPDIR, else /tmp. The VM checks point
// it at an ext4 scratch filesystem (the guest kernel cannot idmap tmpfs).
std::string scratch_dir();
int64_t now_ms();
// Polls `cond` every `poll_ms` until it holds (true) or `timeout_ms` passes (false). Tests wait
// for a condition like this, never for a fixed time.
bool eventually(const std::function<bool()>& cond, int timeout_ms = 10000, int poll_ms = 20);

// Skips unless the test runs as root on a kernel with what cove needs.
#define COVE_REQUIRE_ROOT()                                              \
  do {                                                                   \
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (run as root: make check-integration)"; \
  } while (0)

// Skips when this build has no CRIU backend (./configure found no CRIU; CI's build has one).
bool criu_backend_built();
#define COVE_REQUIRE_CRIU()                                                                      \
  do {                                                                                           \
    if (!::cove::test::criu_backend_built())                                                     \
      GTEST_SKIP() << "this build has no CRIU backend (./configure found no CRIU)";              \
  } while (0)

class ContainerTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // cove-<tool> -P path -n name args...
  RunResult cove(const std::string& tool, const std::string& name, const std::vector<std::string>& args = {},
                 int timeout_s = 60);
  // Creates a busybox container; extra config text goes into a -f file.
  void create_busybox(const std::string& name, const std::string& extra_config = "");
  // Creates a Debian container with `cove-create -t debian -- template_args` (bookworm minbase
  // from the template's cache: the first create of a machine bootstraps it, ~1 min). Without a
  // --network in template_args, `--network none`: no NIC, so no host-wide cove0 is made.
  void create_debian_container(const std::string& name, const std::vector<std::string>& template_args = {});
  // Runs CMD inside with cove-attach (no pty) and returns stdout, trimmed.
  std::string attach_out(const std::string& name, const std::vector<std::string>& cmd);
  // What systemd in the container says of itself ("running", "degraded", ...; "" when attach fails).
  std::string system_state(const std::string& name);
  // Waits up to `timeout_ms` (TCG boots take seconds) until systemd finished booting; true when
  // it says `running`, else a non-fatal failure naming the state and the failed units.
  bool boots_to_running(const std::string& name, int timeout_ms = 120000);
  std::string info_json_field(const std::string& name, const std::string& field);
  pid_t init_pid(const std::string& name);
  pid_t monitor_pid(const std::string& name);
  // Directories named after the container's key under /sys/fs/cgroup (should be none when stopped).
  std::vector<std::string> leftover_cgroups(const std::string& name);
  std::string runtime_dir(const std::string& name);
  // TearDown's last resort for a container left busy (see support.cpp).
  void end_stuck_monitor(const std::string& name);

  std::string path_;
  std::vector<std::string> names_;
};

// A ContainerTest that checkpoints: skipped without the CRIU backend; knows whether the CRIU it
// runs is a stock one, not scripts/install-criu's build with cove's patches (a failed probe
// fails the test).
class CriuContainerTest : public ContainerTest {
 protected:
  void SetUp() override;
  bool stock_criu_ = false;
};

}  // namespace cove::test
