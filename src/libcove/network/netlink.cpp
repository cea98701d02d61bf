#include "network/netlink.hpp"

#include <fcntl.h>
#include <linux/netlink.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/handlers.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <sched.h>

#include <cstdlib>
#include <system_error>
#include <thread>

namespace cove::network {

void link_nl_static_lookups();  // nl_static.cpp

namespace {

// libnl's codes as errnos, so that callers can tell "gone" from "exists" from "not allowed".
int errno_of(int nl_code) {
  switch (std::abs(nl_code)) {
    case NLE_EXIST: return EEXIST;
    case NLE_OBJ_NOTFOUND: return ENOENT;
    case NLE_NODEV: return ENODEV;
    case NLE_NOADDR: return EADDRNOTAVAIL;
    case NLE_PERM: return EPERM;
    case NLE_NOACCESS: return EACCES;
    case NLE_OPNOTSUPP: return EOPNOTSUPP;
    case NLE_INVAL: return EINVAL;
    case NLE_RANGE: return ERANGE;
    case NLE_BUSY: return EBUSY;
    case NLE_NOMEM: return ENOMEM;
    case NLE_AGAIN: return EAGAIN;
    case NLE_INTR: return EINTR;
    case NLE_AF_NOSUPPORT: return EAFNOSUPPORT;
    case NLE_PROTO_MISMATCH: return EPROTONOSUPPORT;
    case NLE_MSGSIZE: return EMSGSIZE;
    default: return EIO;
  }
}

// The NLMSGERR_ATTR_MSG text of an extended ack. libnl 3.7 has no API for extended acks, so
// this reads the attributes that follow the nlmsgerr (and the echoed request, unless capped).
std::string extack_message(const nlmsghdr* hdr, const nlmsgerr* err) {
  if (!(hdr->nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  size_t offset = sizeof(*err);
  if (!(hdr->nlmsg_flags & NLM_F_CAPPED)) offset += err->msg.nlmsg_len - NLMSG_HDRLEN;
  size_t total = hdr->nlmsg_len - NLMSG_HDRLEN;
  if (offset >= total) return "";
  auto* attrs = reinterpret_cast<nlattr*>(const_cast<char*>(reinterpret_cast<const char*>(err) + offset));
  nlattr* tb[NLMSGERR_ATTR_MAX + 1] = {};
  if (nla_parse(tb, NLMSGERR_ATTR_MAX, attrs, static_cast<int>(total - offset), nullptr) < 0) return "";
  if (!tb[NLMSGERR_ATTR_MSG]) return "";
  return std::string(static_cast<const char*>(nla_data(tb[NLMSGERR_ATTR_MSG])),
                     strnlen(static_cast<const char*>(nla_data(tb[NLMSGERR_ATTR_MSG])),
                             static_cast<size_t>(nla_len(tb[NLMSGERR_ATTR_MSG]))));
}

}  // namespace

void NetlinkSocket::Free::operator()(nl_sock* s) const { nl_socket_free(s); }

int NetlinkSocket::record_error(sockaddr_nl*, nlmsgerr* err, void* arg) {
  auto* last = static_cast<KernelError*>(arg);
  // libnl hands over the payload of the NLMSG_ERROR message; its header precedes it.
  auto* hdr = reinterpret_cast<const nlmsghdr*>(reinterpret_cast<const char*>(err) - NLMSG_HDRLEN);
  last->code = -err->error;
  last->message = extack_message(hdr, err);
  return NL_STOP;  // libnl then returns the error as its own code
}

Result<void> NetlinkSocket::connect() {
  link_nl_static_lookups();
  sock_.reset(nl_socket_alloc());
  last_ = std::make_unique<KernelError>();
  if (!sock_) return Error(ENOMEM, "allocate a netlink socket");
  if (int rc = nl_connect(sock_.get(), NETLINK_ROUTE); rc < 0) return nl_error(rc, "connect a netlink socket");
  // Extended acks carry the kernel's reason ("Unknown device type"); capped acks leave out
  // the echoed request. Both are best effort: old kernels lack them.
  int one = 1;
  ::setsockopt(nl_socket_get_fd(sock_.get()), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  ::setsockopt(nl_socket_get_fd(sock_.get()), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  nl_cb* cb = nl_socket_get_cb(sock_.get());
  nl_cb_err(cb, NL_CB_CUSTOM, &NetlinkSocket::record_error, last_.get());
  nl_cb_put(cb);
  return {};
}

Result<NetlinkSocket> NetlinkSocket::open() {
  NetlinkSocket s;
  if (auto r = s.connect(); !r) return std::move(r).error();
  return s;
}

// A netlink socket belongs to the network namespace of the thread that creates it, for life.
Result<NetlinkSocket> NetlinkSocket::open_in(int netns_fd) {
  NetlinkSocket s;
  auto r = run_in_netns(netns_fd, [&] { return s.connect(); });
  if (!r) return std::move(r).error();
  return s;
}

Error NetlinkSocket::error(int nl_code, const std::string& what) const {
  if (!last_ || last_->code == 0 || nl_syserr2nlerr(last_->code) != std::abs(nl_code)) return nl_error(nl_code, what);
  Error e = Error::from_errno(last_->code, what);
  if (!last_->message.empty()) e = Error(last_->code, e.message() + " (" + last_->message + ")");
  *last_ = {};
  return e;
}

Result<void> run_in_netns(int netns_fd, const std::function<Result<void>()>& fn) {
  if (netns_fd < 0) return fn();
  Result<void> result;
  auto body = [&] {
    if (::setns(netns_fd, CLONE_NEWNET) < 0) {
      result = Error::from_errno(errno, "enter network namespace (fd " + std::to_string(netns_fd) + ")");
      return;
    }
    result = fn();
  };
  try {
    std::thread(body).join();
  } catch (const std::system_error& e) {
    return Error(e.code().value(), std::string("start a thread for a network namespace: ") + e.what());
  }
  return result;
}

Result<UniqueFd> open_netns_of(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::from_errno(errno, "open `" + path + "`");
  return UniqueFd(fd);
}

Error nl_error(int nl_code, const std::string& what) {
  return Error(errno_of(nl_code), what + ": " + nl_geterror(nl_code));
}

}  // namespace cove::network
