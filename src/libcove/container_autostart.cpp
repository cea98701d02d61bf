// cove-autostart's façade: a host's containers started at boot and stopped at shutdown. The
// plan (lifecycle/boot_order) comes from every container's `[boot]` keys and shares; each step's
// containers start (or stop) at once, up to `jobs`, each in a child process of its own that
// runs the same start (or stop) as cove-start (cove-stop) and sends its error back on a pipe.
// A start is not thread-safe (it forks), hence processes; the caller stays single-threaded.
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "base/clock.hpp"
#include "base/log.hpp"
#include "base/proc_stat.hpp"
#include "cgroup/cgroup.hpp"
#include "base/unique_fd.hpp"
#include "container.hpp"
#include "container_internal.hpp"
#include "process/child_process.hpp"

namespace cove {
namespace {

// The longest error text a job sends back: well below a pipe's buffer, so the child never
// blocks on a parent that reads only once it has exited.
constexpr size_t kMaxErrorBytes = 4000;

struct Candidates {
  std::vector<lifecycle::BootEntry> entries;
  std::map<std::string, ContainerState> states;
  std::map<std::string, std::string> unreadable;  // name → its config's error
};

std::vector<std::string> shared_with(const config::ContainerConfig& cfg) {
  std::set<std::string> names;
  for (const auto& [ns, other] : cfg.share_ns) names.insert(other);
  return {names.begin(), names.end()};
}

// Every container whose config says `[boot] autostart` (all with `all`), with its state.
Result<Candidates> read_candidates(const std::string& lxcpath, bool all) {
  auto names = Container::list(lxcpath);
  if (!names) return std::move(names).error();
  Container::ConfigReadCache includes;  // a shared include (common.conf) parsed once, not per container
  Candidates c;
  for (const auto& n : *names) {
    auto cfg = detail::load_config_of(ContainerPaths(lxcpath, n));
    if (!cfg) {
      c.unreadable[n] = "config: " + cfg.error().message();
      continue;
    }
    if (!all && !cfg->autostart) continue;
    c.entries.push_back({n, cfg->boot_order, cfg->boot_delay, shared_with(*cfg)});
    StateInfo st = Container(lxcpath, n).state();
    c.states[n] = st.monitor_died ? ContainerState::kStopped : st.state;
  }
  return c;
}

// One container's start or stop, in a child process of its own.
class Job {
 public:
  static Result<Job> launch(const std::string& lxcpath, const std::string& name, const AutostartOptions& opts) {
    int fds[2];
    // Non-blocking: the parent reads once the child has exited, and must not wait for a
    // process the child left behind that might hold the write end.
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) return Error::from_errno(errno, "pipe");
    UniqueFd rd(fds[0]), wr(fds[1]);
    Job j;
    j.name_ = name;
    j.what_ = opts.stop ? "stop" : "start";
    j.t0_ = monotonic_ms();
    auto child = process::spawn([&]() -> int {
      Result<void> r = run(lxcpath, name, opts);
      if (r) return 0;
      std::string m = r.error().message().substr(0, kMaxErrorBytes);
      [[maybe_unused]] auto n = ::write(wr.get(), m.data(), m.size());
      return 1;
    });
    if (!child) return std::move(child).error().context("autostart `" + name + "`");
    j.child_ = std::move(*child);
    j.err_ = std::move(rd);
    return j;
  }

  int pidfd() const { return child_.pidfd(); }

  // Reaps the child (it has exited) and reads what it said.
  AutostartItem finish() {
    AutostartItem it{name_, AutostartOutcome::kDone, "", 0};
    auto status = child_.wait();
    it.ms = monotonic_ms() - t0_;
    char buf[kMaxErrorBytes];
    ssize_t n = ::read(err_.get(), buf, sizeof buf);
    if (status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0) return it;
    it.outcome = AutostartOutcome::kFailed;
    if (n > 0) it.error.assign(buf, static_cast<size_t>(n));
    else if (!status) it.error = status.error().message();
    else it.error = fmt::format("its {} ended with status {}", what_, process::exit_code_of(*status));
    return it;
  }

 private:
  static Result<void> run(const std::string& lxcpath, const std::string& name, const AutostartOptions& opts) {
    Container ct(lxcpath, name);
    if (opts.stop) return ct.stop(StopOptions{opts.timeout_s, opts.kill, false});
    auto r = ct.start(StartOptions{});
    if (!r) return std::move(r).error();
    return {};
  }

  std::string name_;
  const char* what_ = "start";
  int64_t t0_ = 0;
  process::ChildProcess child_;
  UniqueFd err_;
};

// Runs one step: its containers up to `jobs` at once, each reported as it ends.
class StepRunner {
 public:
  StepRunner(const std::string& lxcpath, const AutostartOptions& opts, std::function<void(const AutostartItem&)> done)
      : lxcpath_(lxcpath), opts_(opts), done_(std::move(done)) {}

  void run(const std::vector<std::string>& names, unsigned jobs) {
    size_t next = 0;
    while (next < names.size() || !running_.empty()) {
      while (next < names.size() && running_.size() < jobs) launch(names[next++]);
      if (!running_.empty()) reap_one();
    }
  }

 private:
  void launch(const std::string& name) {
    auto j = Job::launch(lxcpath_, name, opts_);
    if (j) running_.push_back(std::move(*j));
    else done_({name, AutostartOutcome::kFailed, j.error().message(), 0});
  }

  void reap_one() {
    // A job without a pidfd (its pidfd_open failed) cannot be polled: waited for by its pid.
    for (size_t i = 0; i < running_.size(); ++i)
      if (running_[i].pidfd() < 0) return finish(i);
    std::vector<pollfd> pfds;
    for (const auto& j : running_) pfds.push_back({j.pidfd(), POLLIN, 0});
    bool polled = ::poll(pfds.data(), pfds.size(), -1) >= 0;
    if (!polled && errno == EINTR) return;
    if (!polled) return finish(0);  // no poll: wait for the first
    for (size_t i = pfds.size(); i-- > 0;)
      if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR)) finish(i);
  }

  void finish(size_t i) {
    done_(running_[i].finish());
    running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(i));
  }

  const std::string& lxcpath_;
  const AutostartOptions& opts_;
  std::function<void(const AutostartItem&)> done_;
  std::vector<Job> running_;
};

bool wants_action(ContainerState st, bool stop) {
  return stop ? st != ContainerState::kStopped : st == ContainerState::kStopped;
}

AutostartPlan plan_of(const Candidates& c) {
  AutostartPlan p;
  p.boot = lifecycle::plan_boot(c.entries);
  for (const auto& [n, why] : c.unreadable) p.boot.refused.emplace_back(n, why);
  std::sort(p.boot.refused.begin(), p.boot.refused.end());
  p.states = c.states;
  return p;
}

// Each job holds two fds here (its pidfd, its pipe) and its child inherits them all; a start
// itself needs ~30 (in the monitor). A -j beyond what RLIMIT_NOFILE leaves room for would fail
// starts for want of fds, so it is capped there.
unsigned jobs_the_fds_allow() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY) return UINT_MAX;
  rlim_t room = rl.rlim_cur > 64 ? (rl.rlim_cur - 64) / 2 : 1;
  return static_cast<unsigned>(std::clamp<rlim_t>(room, 1, UINT_MAX));
}

std::string names_list(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "`" : ", `") + n + "`";
  return s;
}

// One run of the plan: the refused reported, then each step's containers sorted into skipped
// (a share did not start), already there, and to do; the step run; its delay waited.
class AutostartRun {
 public:
  AutostartRun(const std::string& lxcpath, const AutostartOptions& opts, AutostartPlan plan,
               std::vector<lifecycle::BootEntry> entries, const AutostartProgressFn& progress)
      : lxcpath_(lxcpath), opts_(opts), plan_(std::move(plan)), progress_(progress) {
    for (auto& e : entries) shares_[e.name] = std::move(e.shares);
    total_ = plan_.boot.refused.size();
    for (const auto& s : plan_.boot.steps) total_ += s.names.size();
  }

  AutostartReport go() {
    for (const auto& [n, why] : plan_.boot.refused) done({n, AutostartOutcome::kFailed, why, 0});
    std::vector<lifecycle::BootStep> steps = plan_.boot.steps;
    if (opts_.stop) std::reverse(steps.begin(), steps.end());
    unsigned jobs = std::min(opts_.jobs ? opts_.jobs : Container::autostart_jobs(opts_.stop), jobs_the_fds_allow());
    StepRunner runner(lxcpath_, opts_, [this](const AutostartItem& it) { done(it); });
    for (size_t i = 0; i < steps.size(); ++i) {
      std::vector<std::string> todo = sort_out(steps[i]);
      if (!todo.empty()) step_aside();
      runner.run(todo, jobs);
      if (i + 1 < steps.size()) wait_delay(steps[i], todo);
    }
    return std::move(report_);
  }

 private:
  void done(const AutostartItem& it) {
    if (it.outcome == AutostartOutcome::kFailed || it.outcome == AutostartOutcome::kSkipped) not_started_.insert(it.name);
    report_.items.push_back(it);
    if (progress_) progress_(it, report_.items.size(), total_);
  }

  // The step's containers to start (or stop); the others reported as skipped or already done.
  std::vector<std::string> sort_out(const lifecycle::BootStep& step) {
    std::vector<std::string> todo;
    for (const auto& n : step.names) {
      std::vector<std::string> missing;
      if (!opts_.stop)
        for (const auto& o : shares_[n])
          if (not_started_.count(o)) missing.push_back(o);
      if (!missing.empty())
        done({n, AutostartOutcome::kSkipped,
              "not started: it shares a namespace of " + names_list(missing) + ", which did not start", 0});
      else if (!wants_action(plan_.states[n], opts_.stop))
        done({n, AutostartOutcome::kAlready, "", 0});
      else
        todo.push_back(n);
    }
    return todo;
  }

  // Before the first start: out of the way of the cgroups the starts make (cgroup2's
  // no-internal-process rule, cgroup::step_into_monitors_cgroup).
  void step_aside() {
    if (opts_.stop || stepped_aside_) return;
    stepped_aside_ = true;
    if (auto moved = cgroup::step_into_monitors_cgroup(); !moved)
      log::warn("{} (the starts may fail to enable cgroup controllers)", moved.error().message());
  }

  // `[boot] delay` after a start step of which something started.
  void wait_delay(const lifecycle::BootStep& step, const std::vector<std::string>& todo) const {
    bool started = std::any_of(todo.begin(), todo.end(), [&](const auto& n) { return !not_started_.count(n); });
    if (!opts_.stop && started && step.delay_s > 0) std::this_thread::sleep_for(std::chrono::seconds(step.delay_s));
  }

  const std::string& lxcpath_;
  const AutostartOptions& opts_;
  AutostartPlan plan_;
  const AutostartProgressFn& progress_;
  std::map<std::string, std::vector<std::string>> shares_;
  size_t total_ = 0;
  std::set<std::string> not_started_;  // a start that failed or was skipped
  bool stepped_aside_ = false;
  AutostartReport report_;
};

}  // namespace

size_t AutostartReport::count(AutostartOutcome o) const {
  return static_cast<size_t>(std::count_if(items.begin(), items.end(), [&](const auto& i) { return i.outcome == o; }));
}

unsigned Container::autostart_jobs(bool stop) {
  unsigned cpus = proc::usable_cpus();
  return stop ? 8 * cpus : cpus;
}

Result<AutostartPlan> Container::autostart_plan(const std::string& lxcpath, bool all) {
  auto c = read_candidates(lxcpath, all);
  if (!c) return std::move(c).error();
  return plan_of(*c);
}

Result<AutostartReport> Container::autostart(const std::string& lxcpath, const AutostartOptions& opts,
                                             const AutostartProgressFn& progress) {
  int64_t t0 = monotonic_ms();
  auto c = read_candidates(lxcpath, opts.all);
  if (!c) return std::move(c).error();
  AutostartPlan plan = plan_of(*c);  // before the entries are moved away
  AutostartRun run(lxcpath, opts, std::move(plan), std::move(c->entries), progress);
  AutostartReport report = run.go();
  report.wall_ms = monotonic_ms() - t0;
  return report;
}

}  // namespace cove
