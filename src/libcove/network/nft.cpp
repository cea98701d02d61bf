// Running nft: `nft -f -` with a ruleset, `nft -j list tables`, optionally inside another
// network namespace. stdin, stdout and stderr of nft are memfds, not pipes: nothing has to be
// pumped while it runs (no deadlock on a large ruleset or listing), and all of them are read
// once it has exited. The rule texts themselves come from nft_rules.cpp.
#include "network/nft.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include <nlohmann/json.hpp>

#include "base/sha256.hpp"
#include "base/strings.hpp"
#include "process/child_process.hpp"

#ifndef COVE_NFT_PATH
#define COVE_NFT_PATH "/usr/sbin/nft"
#endif

namespace cove::network {
namespace {

struct NftOutput {
  int status = 0;
  std::string out, err;
};

Result<UniqueFd> make_memfd(const char* name, const std::string& content) {
  UniqueFd fd(::memfd_create(name, MFD_CLOEXEC));
  if (!fd) return Error::from_errno(errno, std::string("memfd_create `") + name + "`");
  for (size_t done = 0; done < content.size();) {
    ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno(errno, std::string("write memfd `") + name + "`");
    done += static_cast<size_t>(n);
  }
  if (::lseek(fd.get(), 0, SEEK_SET) < 0) return Error::from_errno(errno, "seek memfd");
  return fd;
}

std::string read_memfd(int fd) {
  std::string s;
  char buf[8192];
  for (off_t off = 0;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    s.append(buf, static_cast<size_t>(n));
    off += n;
  }
  return s;
}

// The child: joins the namespace, takes the memfds as 0/1/2 and execs nft. 126 and a message on
// stderr when setns fails, 127 when nft cannot be executed.
int exec_nft(const std::vector<char*>& argv, int netns_fd, int in, int out, int err) {
  if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) return 126;
  if (netns_fd >= 0 && ::setns(netns_fd, CLONE_NEWNET) < 0) {
    std::string msg = std::string("setns into the network namespace: ") + std::strerror(errno) + "\n";
    (void)!::write(2, msg.data(), msg.size());
    return 126;
  }
  ::execv(argv[0], argv.data());
  return 127;
}

Result<NftOutput> call_nft(std::vector<std::string> args, const std::string& input, int netns_fd) {
  auto in = make_memfd("nft-stdin", input);
  if (!in) return std::move(in).error();
  auto out = make_memfd("nft-stdout", "");
  if (!out) return std::move(out).error();
  auto err = make_memfd("nft-stderr", "");
  if (!err) return std::move(err).error();
  args.insert(args.begin(), COVE_NFT_PATH);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  auto child = process::spawn([&] { return exec_nft(argv, netns_fd, in->get(), out->get(), err->get()); });
  if (!child) return std::move(child).error().context("start `" COVE_NFT_PATH "`");
  auto waited = child->wait();
  if (!waited) return std::move(waited).error().context("wait for `" COVE_NFT_PATH "`");
  NftOutput r;
  r.status = process::exit_code_of(*waited);
  r.out = read_memfd(out->get());
  r.err = std::string(trim(read_memfd(err->get())));
  if (r.status == 127) return Error(ENOENT, "cannot execute `" COVE_NFT_PATH "` (package nftables)");
  if (r.status == 126 && !r.err.empty()) return Error(EIO, r.err);
  return r;
}

// nft's own message when it failed: "nft: <stderr>".
Result<std::string> run_checked(std::vector<std::string> args, const std::string& input, int netns_fd) {
  auto r = call_nft(std::move(args), input, netns_fd);
  if (!r) return std::move(r).error();
  if (r->status == 0) return std::move(r->out);
  if (r->err.empty()) return Error(EIO, "nft exited with status " + std::to_string(r->status));
  return Error(EIO, "nft: " + r->err);
}

bool is_identifier_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == '-';
}

std::string table_name(const std::string& prefix, const std::string& id) {
  bool safe = !id.empty() && id.size() <= 200;
  for (char c : id) safe = safe && is_identifier_char(c);
  if (safe) return prefix + id;
  std::string kept;
  for (char c : id)
    if (is_identifier_char(c) && kept.size() < 64) kept += c;
  return prefix + kept + "-" + sha256_hex(id).substr(0, 16);
}

}  // namespace

Result<void> run_nft(const std::string& ruleset, int netns_fd) {
  auto r = run_checked({"-f", "-"}, ruleset, netns_fd);
  if (!r) return std::move(r).error();
  return {};
}

Result<std::vector<NftTable>> list_tables(const std::string& prefix, int netns_fd) {
  auto out = run_checked({"-j", "list", "tables"}, "", netns_fd);
  if (!out) return std::move(out).error().context("list nft tables");
  auto json = nlohmann::json::parse(*out, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object() || !json.contains("nftables") || !json["nftables"].is_array())
    return Error(EIO, "list nft tables: `nft -j list tables` printed no `nftables` array: `" + printable(out->substr(0, 200)) + "`");
  std::vector<NftTable> tables;
  for (const auto& item : json["nftables"]) {
    if (!item.is_object() || !item.contains("table")) continue;  // metainfo
    const auto& t = item["table"];
    if (!t.is_object() || !t.contains("family") || !t.contains("name") || !t["family"].is_string() ||
        !t["name"].is_string())
      return Error(EIO, "list nft tables: a table without `family` and `name`: `" + printable(t.dump()) + "`");
    std::string name = t["name"].get<std::string>();
    if (starts_with(name, prefix)) tables.push_back({t["family"].get<std::string>(), std::move(name)});
  }
  return tables;
}

Result<void> delete_tables(const std::vector<NftTable>& tables, int netns_fd) {
  if (tables.empty()) return {};
  if (auto r = run_nft(delete_rules(tables), netns_fd); !r) return std::move(r).error().context("delete nft tables");
  return {};
}

std::string container_table(const std::string& key) { return table_name("cove-c-", key); }
std::string network_table(const std::string& name) { return table_name("cove-n-", name); }

Result<void> set_route_localnet(const std::string& ifname, int netns_fd) {
  if (ifname.empty() || ifname.size() > 15 || ifname == "." || ifname == ".." ||
      ifname.find_first_of("/: \t\n") != std::string::npos)
    return Error::invalid("interface name `" + printable(ifname) +
                          "`: 1-15 characters, neither `.` nor `..`, without `/`, `:` or whitespace");
  std::string path = "/proc/sys/net/ipv4/conf/" + ifname + "/route_localnet";
  // The sysctl files under /proc/sys/net are those of the opener's namespace: a child joins
  // the namespace and writes; its exit code is the errno.
  auto child = process::spawn([&] {
    if (netns_fd >= 0 && ::setns(netns_fd, CLONE_NEWNET) < 0) return errno;
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    int rc = ::write(fd, "1", 1) == 1 ? 0 : errno;
    ::close(fd);
    return rc;
  });
  if (!child) return std::move(child).error().context("set `" + path + "`");
  auto waited = child->wait();
  if (!waited) return std::move(waited).error().context("set `" + path + "`");
  int code = process::exit_code_of(*waited);
  if (code == ENOENT) return Error(ENOENT, "set `" + path + "`: no interface `" + ifname + "`");
  if (code != 0) return Error::from_errno(code, "set `" + path + "`");
  return {};
}

}  // namespace cove::network
