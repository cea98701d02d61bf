// The transport of a migration: OpenSSH. `Destination` is the parsed DEST URL
// (`ssh://[user@]host[:port][/cove-path]`). `SshLink` starts one master connection
// (ControlMaster, its socket in a private temp dir) that every later ssh command and rsync
// reuse, so each costs a channel instead of a new connection and key exchange. The master is
// our child (killed and reaped when the link goes) and runs with BatchMode: it never asks for a
// password. Extra ssh options (`-i KEY`, `-o UserKnownHostsFile=...`) come from the caller.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "process/child_process.hpp"

namespace cove::migrate {

struct Destination {
  std::string user;  // "" = ssh's default
  std::string host;
  unsigned port = 0;  // 0 = ssh's default
  std::string path;  // the destination's cove path; "" = its default
  std::string url() const;
};

// Parses `ssh://[user@]host[:port][/cove-path]` (an IPv6 host in brackets).
Result<Destination> parse_destination(const std::string& url);

// In a child: runs `argv` (argv[0] looked up in PATH), or exits 127.
[[noreturn]] void exec_argv(const std::vector<std::string>& argv);

// Whether the page server `address` (numeric) that a destination names may be where `host`
// (the ssh destination, a name or an address) is: that very address when `host` is one; else
// any address but a loopback or unspecified one (which would be this host's own). A hostile
// destination must not send this host's CRIU, and a container's memory, elsewhere.
bool may_be_address_of(const std::string& host, const std::string& address);

// Quotes `arg` for a POSIX shell (the remote side of ssh runs its command through one).
std::string shell_quote(const std::string& arg);

// A command running on the destination through the link: stdin and stdout are ours, its
// stderr goes to a file (read when it fails).
struct RemoteCommand {
  process::ChildProcess ssh;
  UniqueFd to, from;     // its stdin, its stdout
  std::string err_file;  // its stderr
};

class SshLink {
 public:
  // Connects (ConnectTimeout `timeout_s`) and returns once the master's socket is ready.
  static Result<std::unique_ptr<SshLink>> connect(const Destination& dest, const std::vector<std::string>& ssh_opts,
                                                  int timeout_s);
  ~SshLink();
  SshLink(const SshLink&) = delete;
  SshLink& operator=(const SshLink&) = delete;

  // The local argv that runs `remote_argv` on the destination over the master.
  std::vector<std::string> command(const std::vector<std::string>& remote_argv) const;
  // Starts `remote_argv` with its stdin/stdout as pipes.
  Result<RemoteCommand> start(const std::vector<std::string>& remote_argv) const;
  // rsync's `-e` (the ssh command over the master) and the remote side of a path.
  std::string rsync_shell() const;
  std::string remote_path(const std::string& path) const;
  const std::string& temp_dir() const { return dir_; }
  // A unix socket here (`local`, made by the master, mode 0600) whose connections reach the
  // unix socket `remote` on the destination through the master (`ssh -O forward -L`): each one
  // a channel of the existing connection. Gone with the master.
  Result<void> forward_unix(const std::string& local, const std::string& remote) const;

 private:
  SshLink(Destination dest, std::vector<std::string> opts, std::string dir);
  std::vector<std::string> ssh_base() const;  // ssh -S CTL [-p PORT] [-l USER] OPTS
  Destination dest_;
  std::vector<std::string> opts_;
  std::string dir_;
  process::ChildProcess master_;
};

}  // namespace cove::migrate
