#include "base/memory.hpp"

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace cove {
namespace {

// The lowest address of the main thread's stack mapping, from /proc/self/maps; 0 when not found.
uintptr_t stack_low_end() {
  FILE* f = ::fopen("/proc/self/maps", "re");
  if (!f) return 0;
  char line[512];
  uintptr_t low = 0;
  while (::fgets(line, sizeof line, f))
    if (std::strstr(line, "[stack]")) {
      low = std::strtoull(line, nullptr, 16);
      break;
    }
  ::fclose(f);
  return low;
}

// Discards [low, below): a leaf call, so its own frame and madvise's sit above `below` as long
// as the caller leaves a margin.
[[gnu::noinline]] void discard(uintptr_t low, uintptr_t below) {
  if (below > low) ::madvise(reinterpret_cast<void*>(low), below - low, MADV_DONTNEED);
}

uintptr_t stack_low = 0;  // the [stack] mapping's low end when last looked up

}  // namespace

void give_back_memory() {
  ::malloc_trim(0);
  stack_low = stack_low_end();
  give_back_stack();
}

void give_back_stack() {
  if (stack_low == 0) stack_low = stack_low_end();
  if (stack_low == 0) return;
  uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  volatile char here = 0;  // an address in this frame
  uintptr_t frame = reinterpret_cast<uintptr_t>(&here);
  // A page below this frame stays: discard()'s and madvise's frames (some dozen bytes), the
  // red zone. Below them nothing is live: discarded pages are still mapped, and a signal frame
  // or a later call that reaches them finds zeros.
  uintptr_t keep = page;
  if (frame < stack_low + keep) return;
  discard(stack_low, ((frame - keep) / page) * page);
}

}  // namespace cove
