// Name-service lookups that libnl-3's static archive references and cove never needs, defined
// here so that the static tools and monitor do not link glibc's. libnl calls them only to print
// addresses and protocol numbers as names (nl_addr_info, nl_ip_proto2str, nl_str2ip_proto),
// which cove does not use. glibc's would be a trap in a static binary: they dlopen NSS modules of
// whatever glibc the machine has at run time (the linker warns about exactly that, which would
// also break the warning-free build). These fail cleanly instead; network/netlink.cpp pulls
// this file in with its first use of libnl.
#include <netdb.h>

#include <cerrno>

namespace cove::network {
// Called from netlink.cpp, so that this archive member is linked wherever libnl is.
void link_nl_static_lookups() {}
}  // namespace cove::network

extern "C" {

int getaddrinfo(const char*, const char*, const struct addrinfo*, struct addrinfo** res) {
  if (res) *res = nullptr;
  errno = ENOSYS;
  return EAI_SYSTEM;
}

struct protoent* getprotobyname(const char*) {
  errno = ENOSYS;
  return nullptr;
}

struct protoent* getprotobynumber(int) {
  errno = ENOSYS;
  return nullptr;
}

}  // extern "C"
