#include "security/cap_names.hpp"

#include <cctype>

namespace cove::security {
namespace {

// Index = CAP_* number (linux/capability.h).
constexpr const char* kNames[kCapTableLast + 1] = {
    "chown",           "dac_override",   "dac_read_search", "fowner",          "fsetid",
    "kill",            "setgid",         "setuid",          "setpcap",         "linux_immutable",
    "net_bind_service", "net_broadcast", "net_admin",       "net_raw",         "ipc_lock",
    "ipc_owner",       "sys_module",     "sys_rawio",       "sys_chroot",      "sys_ptrace",
    "sys_pacct",       "sys_admin",      "sys_boot",        "sys_nice",        "sys_resource",
    "sys_time",        "sys_tty_config", "mknod",           "lease",           "audit_write",
    "audit_control",   "setfcap",        "mac_override",    "mac_admin",       "syslog",
    "wake_alarm",      "block_suspend",  "audit_read",      "perfmon",         "bpf",
    "checkpoint_restore",
};

}  // namespace

std::optional<int> cap_from_name(std::string_view name) {
  std::string n;
  for (char c : name) n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (n.rfind("cap_", 0) == 0) n = n.substr(4);
  for (int i = 0; i <= kCapTableLast; ++i)
    if (n == kNames[i]) return i;
  return std::nullopt;
}

std::string cap_name(int cap) {
  if (cap >= 0 && cap <= kCapTableLast) return kNames[cap];
  return "cap_" + std::to_string(cap);
}

}  // namespace cove::security
