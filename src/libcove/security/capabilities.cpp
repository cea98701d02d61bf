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

// The kernel's value cannot change while a process runs: read once (an OCI spec names ~40 caps,
// each of which asked again).
int kernel_last_cap() {
  static const int last = [] {
    std::ifstream f("/proc/sys/kernel/cap_last_cap");
    int n = -1;
    if (f >> n && n > 0 && n < 64) return n;
    return kCapTableLast;
  }();
  return last;
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

namespace {

// Ambient capabilities would survive execve of unprivileged programs: none. One prctl (libcap's
// cap_reset_ambient asks for every capability first, ~40 calls).
Result<void> clear_ambient() {
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return Error::from_errno(errno, "clear ambient capabilities");
  return {};
}

}  // namespace

Result<void> apply_capabilities(uint64_t bounding, bool keep_sys_admin) {
  int last = kernel_last_cap();
  // Bounding set first: dropping needs CAP_SETPCAP, which we hold until the capset below.
  for (int c = 0; c <= last; ++c) {
    if (bounding & (1ULL << c)) continue;
    if (cap_drop_bound(static_cast<cap_value_t>(c)) < 0 && errno != EINVAL)
      return Error::from_errno(errno, "drop `" + cap_name(c) + "` from the bounding set");
  }
  COVE_TRY(clear_ambient());
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

namespace {

using CapPtr = std::unique_ptr<std::remove_pointer_t<cap_t>, int (*)(void*)>;

uint64_t held_permitted() {
  CapPtr current(cap_get_proc(), cap_free);
  uint64_t out = 0;
  if (!current) return 0;
  for (int c = 0; c < 64; ++c) {
    cap_flag_value_t v = CAP_CLEAR;
    if (cap_get_flag(current.get(), static_cast<cap_value_t>(c), CAP_PERMITTED, &v) == 0 && v == CAP_SET)
      out |= 1ULL << c;
  }
  return out;
}

Result<void> set_flags(cap_t caps, cap_flag_t flag, uint64_t set) {
  std::vector<cap_value_t> list;
  for (int c = 0; c < 64; ++c)
    if (set & (1ULL << c)) list.push_back(static_cast<cap_value_t>(c));
  if (!list.empty() && cap_set_flag(caps, flag, static_cast<int>(list.size()), list.data(), CAP_SET) < 0)
    return Error::from_errno(errno, "cap_set_flag");
  return {};
}

// capset(E, P, I), each limited to `held` (capset cannot add to the permitted set).
Result<void> set_proc_caps(uint64_t effective, uint64_t permitted, uint64_t inheritable, uint64_t held) {
  CapPtr caps(cap_init(), cap_free);
  if (!caps) return Error::from_errno(errno, "cap_init");
  COVE_TRY(set_flags(caps.get(), CAP_EFFECTIVE, effective & held));
  COVE_TRY(set_flags(caps.get(), CAP_PERMITTED, permitted & held));
  COVE_TRY(set_flags(caps.get(), CAP_INHERITABLE, inheritable & held));
  if (cap_set_proc(caps.get()) < 0) return Error::from_errno(errno, "set capabilities");
  return {};
}

}  // namespace

Result<void> apply_cap_sets(uint64_t bounding, const CapSets& sets, bool keep_sys_admin) {
  uint64_t held = held_permitted();
  // After a uid change with PR_SET_KEEPCAPS the effective set is empty: the bounding drop below
  // needs CAP_SETPCAP in it.
  COVE_TRY(set_proc_caps(held, held, 0, held));
  int last = kernel_last_cap();
  for (int c = 0; c <= last; ++c) {
    if (bounding & (1ULL << c)) continue;
    if (cap_drop_bound(static_cast<cap_value_t>(c)) < 0 && errno != EINVAL)
      return Error::from_errno(errno, "drop `" + cap_name(c) + "` from the bounding set");
  }
  uint64_t admin = keep_sys_admin ? 1ULL << CAP_SYS_ADMIN : 0;
  COVE_TRY(set_proc_caps(sets.effective | admin, sets.permitted | admin, sets.inheritable, held));
  COVE_TRY(clear_ambient());
  for (int c = 0; c <= last; ++c) {
    if (!(sets.ambient & (1ULL << c))) continue;
    // The kernel allows it only for a capability both permitted and inheritable.
    if (cap_set_ambient(static_cast<cap_value_t>(c), CAP_SET) < 0)
      return Error::from_errno(errno, "raise ambient `" + cap_name(c) + "` (it must be permitted and inheritable)");
  }
  return {};
}

Result<void> drop_kept_sys_admin(const CapSets& sets) {
  return set_proc_caps(sets.effective, sets.permitted, sets.inheritable, held_permitted());
}

}  // namespace cove::security
