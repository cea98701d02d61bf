#include "criu/tty_info.hpp"

#include "base/fs.hpp"
#include "base/pty.hpp"
#include "criu/wire.hpp"

namespace cove::criu {

uint64_t pts_rdev(unsigned index) { return (uint64_t(pty::kSlaveMajor) << 8) | index; }

bool give_console_a_session(std::string& b, unsigned console_pts) {
  uint64_t console_rdev = pts_rdev(console_pts);
  bool changed = false;
  // After the two magics.
  (void)wire::for_each_entry(b, 8, [&](size_t begin, size_t end) -> Result<void> {
    auto f = wire::decode(b, begin, end);
    if (!f) return std::move(f).error();
    if (f->has(kTtyInfoType) && f->get(kTtyInfoType) == kTtyTypePty && f->has(kTtyInfoRdev) &&
        f->get(kTtyInfoRdev) == console_rdev && f->has(kTtyInfoSid) && f->get(kTtyInfoSid) == 0 &&
        f->has(kTtyInfoPgrp) && f->get(kTtyInfoPgrp) == 0) {
      b[f->varint_at.at(kTtyInfoSid)] = 1;
      b[f->varint_at.at(kTtyInfoPgrp)] = 1;
      changed = true;
    }
    return {};
  });
  return changed;
}

Result<void> fix_console_session(const std::string& images_dir, unsigned console_pts) {
  std::string path = images_dir + "/tty-info.img";
  auto bytes = read_file(path);
  if (!bytes) return std::move(bytes).error();
  if (!give_console_a_session(*bytes, console_pts)) return {};
  return write_file_atomic(path, *bytes, 0644);
}

}  // namespace cove::criu
