// Giving memory back to the kernel after a burst of work: a long-lived process that is one of
// many (a monitor per container) keeps only what its steady state touches.
#pragma once

namespace cove {

// The heap's free pages (malloc_trim) and the stack pages below the caller's frame (below).
void give_back_memory();

// The main thread's stack pages below the caller's frame, dirtied by deeper calls earlier
// (MADV_DONTNEED: they read back as zero when a deeper call needs them again). One madvise;
// the stack's low end is looked up once in /proc/self/maps and again by give_back_memory().
// Call it from the main thread, from a shallow frame (an event loop's top).
void give_back_stack();

}  // namespace cove
