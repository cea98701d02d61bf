#include "migrate/ssh_link.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fmt/format.h>

#include "base/clock.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/run_program.hpp"
#include "base/strings.hpp"

namespace cove::migrate {

namespace {

// `rest` after "ssh://": [user@]host[:port][/path].
Result<Destination> parse_authority(std::string rest) {
  Destination d;
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    d.path = rest.substr(slash);
    rest.resize(slash);
  }
  if (auto at = rest.rfind('@'); at != std::string::npos) {
    d.user = rest.substr(0, at);
    rest.erase(0, at + 1);
  }
  std::string port;
  if (!rest.empty() && rest[0] == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos) return Error::invalid("unclosed `[` in the host");
    d.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return Error::invalid("junk after `]`");
      port = rest.substr(close + 2);
    }
  } else if (auto colon = rest.find(':'); colon != std::string::npos) {
    d.host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  } else {
    d.host = rest;
  }
  if (d.host.empty()) return Error::invalid("no host");
  if (d.host[0] == '-' || d.user.starts_with("-")) return Error::invalid("a host or user may not start with `-`");
  if (!port.empty()) {
    char* end = nullptr;
    unsigned long p = std::strtoul(port.c_str(), &end, 10);
    if (*end || p == 0 || p > 65535) return Error::invalid(fmt::format("port `{}`", port));
    d.port = static_cast<unsigned>(p);
  }
  return d;
}

bool is_socket(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

// The last lines of what a command said on stderr, for an error.
std::string stderr_tail(const std::string& file) {
  auto text = read_file(file);
  if (!text) return "";
  std::string t(trim(*text));
  if (t.size() > 2000) t = "..." + t.substr(t.size() - 2000);
  return t;
}

}  // namespace

[[noreturn]] void exec_argv(const std::vector<std::string>& argv) {
  std::vector<char*> a;
  for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  ::execvp(a[0], a.data());
  ::_exit(127);
}

// Whether the destination's page server `address` may be where `host` (the ssh destination,
// a name or an address) is: the same address when `host` is one; else any address but a
// loopback or unspecified one (which would be this host's own).
bool may_be_address_of(const std::string& host, const std::string& address) {
  unsigned char a[16] = {}, h[16] = {};
  int fam = address.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  if (::inet_pton(fam, address.c_str(), a) != 1) return false;
  std::string bare = host.size() > 2 && host.front() == '[' ? host.substr(1, host.size() - 2) : host;
  int hfam = bare.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  if (::inet_pton(hfam, bare.c_str(), h) == 1) return hfam == fam && std::memcmp(a, h, fam == AF_INET ? 4 : 16) == 0;
  static const unsigned char any6[16] = {}, lo6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  if (fam == AF_INET) return a[0] != 127 && !(a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == 0);
  return std::memcmp(a, any6, 16) != 0 && std::memcmp(a, lo6, 16) != 0;
}

std::string Destination::url() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return "ssh://" + (user.empty() ? "" : user + "@") + h + (port ? ":" + std::to_string(port) : "") + path;
}

Result<Destination> parse_destination(const std::string& url) {
  constexpr std::string_view kScheme = "ssh://";
  if (!url.starts_with(kScheme))
    return Error::invalid(fmt::format("destination `{}`: expected ssh://[user@]host[:port][/cove-path]", url));
  auto d = parse_authority(url.substr(kScheme.size()));
  if (!d) return std::move(d).error().context(fmt::format("destination `{}`", url));
  return d;
}

std::string shell_quote(const std::string& arg) {
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

SshLink::SshLink(Destination dest, std::vector<std::string> opts, std::string dir)
    : dest_(std::move(dest)), opts_(std::move(opts)), dir_(std::move(dir)) {}

SshLink::~SshLink() {
  if (master_) {
    (void)master_.signal(SIGTERM);
    if (auto done = master_.wait_exited(2000); !done || !*done) (void)master_.signal(SIGKILL);
    (void)master_.wait();
  }
  if (!dir_.empty()) (void)remove_tree(dir_);
}

std::vector<std::string> SshLink::ssh_base() const {
  std::vector<std::string> a = {"ssh", "-S", dir_ + "/ctl", "-o", "BatchMode=yes"};
  if (dest_.port) a.insert(a.end(), {"-p", std::to_string(dest_.port)});
  if (!dest_.user.empty()) a.insert(a.end(), {"-l", dest_.user});
  a.insert(a.end(), opts_.begin(), opts_.end());
  return a;
}

Result<std::unique_ptr<SshLink>> SshLink::connect(const Destination& dest, const std::vector<std::string>& ssh_opts,
                                                  int timeout_s) {
  std::string tmpl = "/tmp/cove-migrate.XXXXXX";
  if (!::mkdtemp(tmpl.data())) return Error::from_errno(errno, "make a temp dir");
  std::unique_ptr<SshLink> link(new SshLink(dest, ssh_opts, tmpl));
  std::vector<std::string> argv = link->ssh_base();
  argv.insert(argv.end(), {"-M", "-N", "-o", "ControlPersist=no", "-o", fmt::format("ConnectTimeout={}", timeout_s),
                           "-o", "ServerAliveInterval=2", "-o", "ServerAliveCountMax=5", "--", dest.host});
  std::string err_file = link->dir_ + "/master.err";
  auto child = process::spawn([&] {
    int null = ::open("/dev/null", O_RDWR);
    int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (null < 0 || err < 0) return 127;
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(err, 2);
    ::signal(SIGPIPE, SIG_DFL);
    exec_argv(argv);
  });
  if (!child) return std::move(child).error().context("start ssh");
  link->master_ = std::move(*child);
  // The master makes its socket once it is authenticated.
  for (int64_t end = monotonic_ms() + int64_t(timeout_s) * 1000 + 2000; !is_socket(link->dir_ + "/ctl");) {
    auto gone = link->master_.wait_exited(10);
    if (gone && *gone) {
      auto waited = link->master_.wait();
      int st = waited ? *waited : -1;
      return Error(ECONNREFUSED, fmt::format("ssh to `{}` ended (status {}): {}", dest.url(),
                                             process::exit_code_of(st), stderr_tail(err_file)));
    }
    if (monotonic_ms() > end) return Error(ETIMEDOUT, fmt::format("ssh to `{}` did not connect", dest.url()));
  }
  return link;
}

std::vector<std::string> SshLink::command(const std::vector<std::string>& remote_argv) const {
  std::vector<std::string> a = ssh_base();
  a.insert(a.end(), {"--", dest_.host});
  std::string cmd;
  for (const auto& r : remote_argv) cmd += (cmd.empty() ? "" : " ") + shell_quote(r);
  a.push_back(cmd);
  return a;
}

Result<RemoteCommand> SshLink::start(const std::vector<std::string>& remote_argv) const {
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) < 0) return Error::from_errno(errno, "pipe");
  UniqueFd in_r(in[0]), in_w(in[1]);
  if (::pipe2(out, O_CLOEXEC) < 0) return Error::from_errno(errno, "pipe");
  UniqueFd out_r(out[0]), out_w(out[1]);
  RemoteCommand rc;
  rc.err_file = dir_ + "/" + remote_argv.front().substr(remote_argv.front().rfind('/') + 1) + ".err";
  auto argv = command(remote_argv);
  auto child = process::spawn([&] {
    int err = ::open(rc.err_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (err < 0) return 127;
    ::dup2(in_r.get(), 0);
    ::dup2(out_w.get(), 1);
    ::dup2(err, 2);
    ::signal(SIGPIPE, SIG_DFL);
    exec_argv(argv);
  });
  if (!child) return std::move(child).error().context("start ssh");
  rc.ssh = std::move(*child);
  rc.to = std::move(in_w);
  rc.from = std::move(out_r);
  return rc;
}

Result<void> SshLink::forward_unix(const std::string& local, const std::string& remote) const {
  std::vector<std::string> argv = ssh_base();
  argv.insert(argv.end(), {"-O", "forward", "-L", local + ":" + remote, "--", dest_.host});
  auto r = run_checked_program(argv);
  if (!r) return std::move(r).error().context("ssh forward of `" + remote + "`");
  return {};
}

std::string SshLink::rsync_shell() const {
  std::string s;
  for (const auto& a : ssh_base()) s += (s.empty() ? "" : " ") + a;
  return s;
}

std::string SshLink::remote_path(const std::string& path) const {
  std::string h = dest_.host.find(':') != std::string::npos ? "[" + dest_.host + "]" : dest_.host;
  return h + ":" + path;
}

}  // namespace cove::migrate
