#include "base/interrupt.hpp"

#include <signal.h>

#include <csignal>
#include <initializer_list>

namespace cove {
namespace {
volatile std::sig_atomic_t g_interrupted = 0;
void on_signal(int) { g_interrupted = 1; }
}  // namespace

void catch_interrupts() {
  struct sigaction sa = {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(s, &sa, nullptr);
}

bool interrupted() { return g_interrupted != 0; }

}  // namespace cove
