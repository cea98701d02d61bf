// What cove checks in CRIU's images before it lets CRIU restore them: the page images against
// their pagemaps. A truncated `pages-N.img` does not make CRIU fail: its restorer reads the
// missing pages with preadv() in a loop that takes a 0-byte read for a short read and spins at
// 100% CPU for ever (CRIU 4.2), so the damage must be found before CRIU starts.
// Each `pagemap-*.img` (a task's or a shared memory segment's) starts with a `pagemap_head`
// naming its `pages-<pages_id>.img`, then one `pagemap_entry` per run of pages (`nr_pages`, or
// `compat_nr_pages` in images older than CRIU 4): those flagged PE_PRESENT (or, in images older
// than the flags, not `in_parent`) are stored in that pages file one after the other; lazy,
// parent and zero runs are not. So the pages file holds exactly present-pages x page size
// bytes. An entry with fields this check does not know (a later format, e.g. compressed pages)
// makes its pagemap unverifiable: it is passed, not refused. Read-only; pure file reads,
// unit-tested on synthetic images.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.hpp"

namespace cove::criu {

inline constexpr uint32_t kPagemapMagic = 0x56084025;  // PAGEMAP_MAGIC (criu/include/magic.h)
inline constexpr uint32_t kPageParent = 1u << 0;       // PE_PARENT (criu/include/pagemap.h)
inline constexpr uint32_t kPageLazy = 1u << 1;         // PE_LAZY
inline constexpr uint32_t kPagePresent = 1u << 2;      // PE_PRESENT

struct PagemapSummary {
  uint32_t pages_id = 0;         // the pages file is pages-<pages_id>.img
  uint64_t present_pages = 0;    // pages stored in that file
  uint64_t entries = 0;
  bool verifiable = true;        // false: an entry has fields of a format this check predates
};

// Decodes one pagemap image. Fails (EPROTO) on a wrong magic or a truncated entry.
Result<PagemapSummary> parse_pagemap(const std::string& bytes);

// Checks every pagemap-*.img of `images_dir` against its pages file; `page_size` is the
// dumping host's (the same architecture's: 4096 on x86-64). Fails with EINVAL naming the file,
// its size and the size its pagemap implies when an image is damaged.
Result<void> check_page_images(const std::string& images_dir, uint64_t page_size);

}  // namespace cove::criu
