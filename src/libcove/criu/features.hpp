// What the installed CRIU and this kernel can do, asked through the RPC at the moment of use
// (VERSION on the swrk connection that then serves the dump or restore; FEATURE_CHECK only
// for `probe`, which the checks and migration policy use).
// cove needs CRIU >= 4.2.1: 3.17 fails on this kernel's vDSO layout and 4.1.x fails on every
// TCP/UDP socket on kernels >= 6.16 (doc/design/checkpoint-restore.md).
// Without the CRIU backend compiled in, `available()` is false and every call fails with
// ENOTSUP and a message saying how to get it.
#pragma once

#include <string>

#include "base/result.hpp"

namespace cove::criu {

inline constexpr const char* kMinVersion = "4.2.1";

struct CriuInfo {
  std::string path;        // the binary used
  std::string version;     // "4.2.1"
  // Several ptys whose masters are outside the dumped tree (the console *and* /dev/ttyN
  // sessions): CRIU built with cove's patch (scripts/criu-patches), which says so in VERSION.
  bool orphan_ttys = false;
  // CRIU built with all of cove's patches: scripts/install-criu applies them together (and
  // rebuilds a build that lacks one), and the orphan-ttys patch is the one VERSION shows.
  bool cove_build() const { return orphan_ttys; }
  bool mem_track = false;  // soft-dirty tracking (iterative pre-dump); set by `probe` only
  bool lazy_pages = false; // userfaultfd (post-copy); set by `probe` only
};

// True when this build has the CRIU backend.
bool available();
// The error every operation returns when the backend is missing.
Error unavailable_error();
// Starts `criu swrk`, asks VERSION and FEATURE_CHECK, and checks the version.
Result<CriuInfo> probe();

}  // namespace cove::criu
