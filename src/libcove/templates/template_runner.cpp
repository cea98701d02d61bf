#include "templates/template_runner.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "base/scope_exit.hpp"
#include "base/signals.hpp"
#include "host_config.hpp"
#include "paths.hpp"
#include "process/child_process.hpp"

#ifndef COVE_TEMPLATEDIR
#define COVE_TEMPLATEDIR "/usr/local/share/cove/templates"
#endif

namespace cove::templates {

namespace {

// Ours, plus the host config's directories under the names templates read, where our
// environment sets none (an explicit COVE_CACHE_DIR or COVE_NETWORK_DIR wins, as everywhere).
std::vector<std::string> template_env() {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  auto add_default = [&](const std::string& name, const std::string& value) {
    if (const char* v = std::getenv(name.c_str()); v && *v) return;
    std::erase_if(env, [&](const std::string& s) { return s.rfind(name + "=", 0) == 0; });
    env.push_back(name + "=" + value);
  };
  add_default("COVE_CACHE_DIR", host_config().cache_dir);
  add_default("COVE_NETWORK_DIR", host_config().network_dir);
  return env;
}

std::vector<char*> pointers_to(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

std::string find_template(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  std::string file = "cove-" + name;
  return find_data("templates/" + file, std::string(COVE_TEMPLATEDIR) + "/" + file);
}

Result<void> run_template(const TemplateRun& run) {
  if (::access(run.executable.c_str(), X_OK) < 0)
    return Error::from_errno(errno, "template `" + run.executable + "`");
  std::vector<std::string> args = {run.executable, "--name", run.name, "--path", run.container_dir, "--rootfs",
                                   run.rootfs};
  if (run.mapped_uid) args.insert(args.end(), {"--mapped-uid", std::to_string(*run.mapped_uid)});
  if (run.mapped_gid) args.insert(args.end(), {"--mapped-gid", std::to_string(*run.mapped_gid)});
  args.insert(args.end(), run.extra_args.begin(), run.extra_args.end());
  auto argv = pointers_to(args);
  auto env = template_env();
  auto envp = pointers_to(env);
  // Like system(3): while the template runs, Ctrl-C and Ctrl-\ (sent to the whole foreground
  // process group) reach the template, which cleans up its temp files and fails, but not this
  // process, which must live on to remove the half-made container. The template gets the
  // default dispositions back.
  struct sigaction ignore = {}, old_int = {}, old_quit = {};
  ignore.sa_handler = SIG_IGN;
  ::sigemptyset(&ignore.sa_mask);
  ::sigaction(SIGINT, &ignore, &old_int);
  ::sigaction(SIGQUIT, &ignore, &old_quit);
  ScopeExit restore([&] {
    ::sigaction(SIGINT, &old_int, nullptr);
    ::sigaction(SIGQUIT, &old_quit, nullptr);
  });
  auto child = process::spawn([&] {
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGQUIT, SIG_DFL);
    ::execve(argv[0], argv.data(), envp.data());
    return 127;
  });
  if (!child) return std::move(child).error().context("run template `" + run.executable + "`");
  auto waited = child->wait();
  if (!waited) return std::move(waited).error().context("run template `" + run.executable + "`");
  int status = *waited;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  if (WIFEXITED(status))
    return Error(EIO, "template `" + run.executable + "` exited with status " + std::to_string(WEXITSTATUS(status)));
  return Error(EIO, "template `" + run.executable + "` was killed by " + signal_name(WTERMSIG(status)));
}

}  // namespace cove::templates
