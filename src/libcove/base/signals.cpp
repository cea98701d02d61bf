#include "base/signals.hpp"

#include <csignal>

#include "base/strings.hpp"

namespace cove {
namespace {
struct SigName {
  const char* name;
  int num;
};
constexpr SigName kSignals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT}, {"ILL", SIGILL},     {"TRAP", SIGTRAP},
    {"ABRT", SIGABRT}, {"BUS", SIGBUS},       {"FPE", SIGFPE},   {"KILL", SIGKILL},   {"USR1", SIGUSR1},
    {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},   {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP},   {"TSTP", SIGTSTP},
    {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},
    {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},     {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};
}  // namespace

std::optional<int> parse_signal(std::string_view name) {
  if (auto n = parse_int(name)) {
    if (*n > 0 && *n < NSIG) return static_cast<int>(*n);
    return std::nullopt;
  }
  if (starts_with(name, "SIG")) name.remove_prefix(3);
  for (const auto& s : kSignals)
    if (name == s.name) return s.num;
  if (starts_with(name, "RTMIN")) {
    std::string_view rest = name.substr(5);
    int off = 0;
    if (!rest.empty()) {
      if (rest.front() != '+') return std::nullopt;
      auto n = parse_int(rest.substr(1));
      if (!n || *n < 0) return std::nullopt;
      off = static_cast<int>(*n);
    }
    if (SIGRTMIN + off > SIGRTMAX) return std::nullopt;
    return SIGRTMIN + off;
  }
  return std::nullopt;
}

std::string signal_name(int sig) {
  for (const auto& s : kSignals)
    if (s.num == sig) return std::string("SIG") + s.name;
  if (sig >= SIGRTMIN && sig <= SIGRTMAX)
    return sig == SIGRTMIN ? "SIGRTMIN" : "SIGRTMIN+" + std::to_string(sig - SIGRTMIN);
  return std::to_string(sig);
}

}  // namespace cove
