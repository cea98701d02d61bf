// SHA-256 (FIPS 180-4) of a string, for identities that must not collide: the runtime key of a
// container in a non-default cove path. Not for secrets (no constant-time guarantees needed).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace cove {

std::array<uint8_t, 32> sha256(std::string_view data);
// Lowercase hex of the digest (64 characters).
std::string sha256_hex(std::string_view data);

}  // namespace cove
