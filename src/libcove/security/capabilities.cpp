#include "security/capabilities.hpp"

#include <sys/capability.h>
#include <sys/prctl.h>

#include <fstream>
#include <memory>

#include "security/cap_names.hpp"

namespace cove::security {

uint64_t compute_bounding(const std::vector<int>& keep, const std::vector<int>& drop, int last_cap) {
  uint64_t all = last_cap >= 63 ? ~0ULL : ((1ULL << (last_cap + 1)) - 1);
  uint64_t set = 0;
  if (keep.empty()) set = all;
  for (int c : keep)
    if (c >= 0 && c <= last_cap) set |= 1ULL << c;
  for (int c : drop)
    if (c >= 0 && c < 64) set &= ~(1ULL << c);
  return set;
}

int kernel_last_cap() {
  std::ifstream f("/proc/sys/kernel/cap_last_cap");
  int n = -1;
  if (f >> n && n > 0 && n < 64) return n;
  return kCapTableLast;
}

std::string describe_caps(uint64_t caps, int last_cap) {
  std::string out;
  for (int c = 0; c <= last_cap && c < 64; ++c) {
    if (!(caps & (1ULL << c))) continue;
    if (!out.empty()) out += ' ';
    out += cap_name(c);
  }
  return out.empty() ? "(none)" : out;
}

Result<void> apply_capabilities(uint64_t bounding, bool keep_sys_admin) {
  int last = kernel_last_cap();
  // Bounding set first: dropping needs CAP_SETPCAP, which we hold until the capset below.
  for (int c = 0; c <= last; ++c) {
    if (bounding & (1ULL << c)) continue;
    if (cap_drop_bound(static_cast<cap_value_t>(c)) < 0 && errno != EINVAL)
      return Error::from_errno(errno, "drop `" + cap_name(c) + "` from the bounding set");
  }
  // Ambient capabilities would survive execve of unprivileged programs: none.
  if (cap_reset_ambient() < 0 && errno != EINVAL) return Error::from_errno(errno, "clear ambient capabilities");
  std::unique_ptr<std::remove_pointer_t<cap_t>, int (*)(void*)> caps(cap_init(), cap_free);
  std::unique_ptr<std::remove_pointer_t<cap_t>, int (*)(void*)> current(cap_get_proc(), cap_free);
  if (!caps || !current) return Error::from_errno(errno, "cap_init");
  std::vector<cap_value_t> list;
  for (int c = 0; c <= last; ++c) {
    if (!(bounding & (1ULL << c)) && !(keep_sys_admin && c == CAP_SYS_ADMIN)) continue;
    // Only what we hold: host root may itself lack some (this kind of host has no
    // CAP_SYS_RESOURCE), and capset cannot add to the permitted set.
    cap_flag_value_t held = CAP_CLEAR;
    if (cap_get_flag(current.get(), static_cast<cap_value_t>(c), CAP_PERMITTED, &held) == 0 && held == CAP_SET)
      list.push_back(static_cast<cap_value_t>(c));
  }
  if (!list.empty()) {
    int n = static_cast<int>(list.size());
    if (cap_set_flag(caps.get(), CAP_PERMITTED, n, list.data(), CAP_SET) < 0 ||
        cap_set_flag(caps.get(), CAP_EFFECTIVE, n, list.data(), CAP_SET) < 0)
      return Error::from_errno(errno, "cap_set_flag");
  }
  // Inheritable stays empty (cap_init clears all three sets).
  if (cap_set_proc(caps.get()) < 0) return Error::from_errno(errno, "set capabilities");
  return {};
}

}  // namespace cove::security
