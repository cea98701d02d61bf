// give_back_stack / give_back_memory (base/memory.hpp): the stack below the caller goes back to
// the kernel, the caller's own frame and everything above it stay as they were.
#include <gtest/gtest.h>

#include <cctype>
#include <cstring>
#include <fstream>
#include <string>

#include "base/memory.hpp"

namespace cove {
namespace {

// Private_Dirty of the [stack] mapping, KiB.
long stack_dirty_kib() {
  std::ifstream in("/proc/self/smaps");
  std::string line;
  bool in_stack = false;
  while (std::getline(in, line)) {
    bool header = !line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) && line.find(':') > line.find(' ');
    if (header) in_stack = line.find("[stack]") != std::string::npos;
    else if (in_stack && line.rfind("Private_Dirty:", 0) == 0) return std::stol(line.substr(14));
  }
  return -1;
}

// Dirties about 64 × 4 KiB of stack below the caller.
[[gnu::noinline]] int go_deep(int levels) {
  volatile char page[4096];
  std::memset(const_cast<char*>(page), levels, sizeof page);
  return levels == 0 ? page[17] : go_deep(levels - 1) + page[4095];
}

TEST(GiveBackMemory, StackPagesBelowTheCallerGoAndItsFrameStays) {
  char mine[512];
  std::memset(mine, 0x5a, sizeof mine);
  ASSERT_GT(go_deep(64), 0);
  long before = stack_dirty_kib();
  ASSERT_GE(before, 256) << "the deep call dirtied the stack";
  give_back_stack();
  long after = stack_dirty_kib();
  EXPECT_LE(after, before - 200);
  for (char c : mine) ASSERT_EQ(c, 0x5a);
  // The pages given back are still mapped: a deep call works again and sees fresh pages.
  EXPECT_GT(go_deep(64), 0);
  give_back_memory();
  EXPECT_LE(stack_dirty_kib(), before - 200);
  for (char c : mine) ASSERT_EQ(c, 0x5a);
}

}  // namespace
}  // namespace cove
