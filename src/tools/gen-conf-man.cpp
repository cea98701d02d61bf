// gen-conf-man: build-time helper that prints the key reference of cove.conf(5), generated from
// the config key table; the Makefile puts it in place of the `@KEYS@` line of cove.conf.5.in.
#include <cstdio>

#include "config/load.hpp"

int main() {
  std::fputs(cove::config::render_key_reference_roff().c_str(), stdout);
  return std::fflush(stdout) == 0 && !std::ferror(stdout) ? 0 : 1;
}
