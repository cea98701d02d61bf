// Patches of CRIU's tty-info.img that cove needs (through criu/wire: no generated protobuf code;
// CRIU installs no .proto of its images). After a restore CRIU does not make the console init's
// controlling terminal again, so a later dump records it with no session (sid 0, pgrp 0), and
// CRIU then refuses to restore an orphan pty without a session ("No task found with sid 0").
// The console belongs to init's session by cove's design (lifecycle/child_setup): its entry
// says so again (sid = pgrp = 1, init's pid inside). In place: the varints 0 and 1 have the
// same size, so no enclosing length changes.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.hpp"

namespace cove::criu {

// tty_info_entry (CRIU's images/tty.proto): the fields cove reads.
inline constexpr uint32_t kTtyInfoType = 2;  // TtyType: PTY = 1
inline constexpr uint32_t kTtyInfoSid = 6;
inline constexpr uint32_t kTtyInfoPgrp = 7;
inline constexpr uint32_t kTtyInfoRdev = 8;
inline constexpr uint64_t kTtyTypePty = 1;

// The rdev CRIU records for pts `index` (of the first pty major).
uint64_t pts_rdev(unsigned index);

// In the bytes of a tty-info image (its two magics first), gives the console's entry (a pty
// with the rdev of pts `console_pts`, sid 0 and pgrp 0) init's session: sid = pgrp = 1. True
// when an entry changed. A damaged entry ends the walk, and what follows is left as it is (the
// image is CRIU's to refuse).
bool give_console_a_session(std::string& image, unsigned console_pts);

// The same on `images_dir`/tty-info.img, rewritten (atomically) only when an entry changed.
Result<void> fix_console_session(const std::string& images_dir, unsigned console_pts);

}  // namespace cove::criu
