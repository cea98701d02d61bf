// The criu backend of a build configured without CRIU: every operation fails with ENOTSUP and
// says how to get checkpoint/restore.
#include "criu/checkpoint.hpp"
#include "criu/features.hpp"
#include "criu/restore.hpp"

namespace cove::criu {

bool available() { return false; }

Error unavailable_error() {
  return Error(ENOTSUP, std::string("checkpoint/restore is not available: cove was built without CRIU (needs CRIU >= ") +
                            kMinVersion + "; run scripts/install-criu, then ./configure and make again)");
}

Result<CriuInfo> probe() { return unavailable_error(); }
Result<DumpResult> dump(const DumpRequest&) { return unavailable_error(); }
Result<RestoreResult> restore(const RestoreRequest&) { return unavailable_error(); }

}  // namespace cove::criu
