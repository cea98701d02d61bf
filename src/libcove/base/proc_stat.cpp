#include "base/proc_stat.hpp"

#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "base/clock.hpp"
#include "base/fs.hpp"
#include "base/list_dir.hpp"
#include "base/strings.hpp"

namespace cove::proc {

namespace {

// The fields of /proc/PID/stat after the command name ("S PPID ..."), "" when gone.
std::string stat_after_comm(pid_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return "";
  auto pos = text->rfind(')');
  return pos == std::string::npos || pos + 2 >= text->size() ? "" : text->substr(pos + 2);
}

}  // namespace

char state_of(pid_t pid) {
  std::string rest = stat_after_comm(pid);
  return rest.empty() ? 0 : rest[0];
}

bool has_ended(pid_t pid) {
  char st = state_of(pid);
  return st == 0 || st == 'Z' || st == 'X';
}

pid_t parent_of(pid_t pid) {
  std::string rest = stat_after_comm(pid);
  if (rest.size() < 3) return 0;
  return pid_t(std::strtol(rest.c_str() + 2, nullptr, 10));  // "S PPID"
}

unsigned thread_count(pid_t pid) {
  auto fields = split_ws(stat_after_comm(pid));  // from field 3 (state) on
  if (fields.size() < 18) return 0;
  auto n = parse_uint(fields[17]);  // field 20: num_threads
  return n ? unsigned(*n) : 0;
}

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  if (auto entries = list_dir("/proc"))
    for (const auto& e : *entries)
      if (auto pid = parse_int(e); pid && *pid > 0 && parent_of(pid_t(*pid)) == parent) out.push_back(pid_t(*pid));
  return out;
}

bool poll_until(const std::function<bool()>& done, int timeout_ms, int step_ms) {
  Backoff backoff(int64_t(step_ms) * 1000);
  for (int64_t end = monotonic_ms() + timeout_ms; monotonic_ms() < end; backoff.sleep())
    if (done()) return true;
  return done();
}

unsigned usable_cpus() {
  cpu_set_t set;
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return static_cast<unsigned>(CPU_COUNT(&set));
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<unsigned>(n) : 1;
}

}  // namespace cove::proc
