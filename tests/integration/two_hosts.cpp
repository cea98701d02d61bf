#include "two_hosts.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace cove::test {

namespace {

bool write_text(const std::string& path, const std::string& text, mode_t mode = 0644) {
  std::ofstream f(path);
  f << text;
  f.close();
  return f.good() && ::chmod(path.c_str(), mode) == 0;
}

std::string failed(const RunResult& r, const std::string& what) {
  return r.status == 0 ? "" : what + ": " + r.err + r.out;
}

}  // namespace

std::vector<std::string> TestHost::env() const {
  // The host config makes it a host (its own path, runtime and state dirs); the overrides name
  // the same places so that a caller's environment (which the source's tools inherit) cannot
  // point them elsewhere.
  return {"COVE_CONFIG=" + dir + "/cove.conf", "COVE_IDMAP_REGISTRY=" + registry,
          "COVE_NETWORK_DIR=" + dir + "/networks", "COVE_NETWORK_RUNDIR=" + dir + "/run/networks",
          "COVE_DATADIR=" + builddir() + ":" + srcdir()};
}

TwoHosts::TwoHosts() {
  std::string tmpl = scratch_dir() + "/cove-mig.XXXXXX";
  if (!::mkdtemp(tmpl.data())) {
    error_ = "mkdtemp";
    return;
  }
  dir_ = tmpl;
  ::chmod(dir_.c_str(), 0711);
  std::string tag = std::to_string(::getpid());
  veth_a_ = "cvm" + tag + "a";
  veth_b_ = "cvm" + tag + "b";
  key_ = dir_ + "/client_key";
  known_hosts_ = dir_ + "/known_hosts";
  error_ = failed(run_cmd({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key_}), "ssh-keygen");
  if (error_.empty()) error_ = setup(a, "a", "10.251.0.1");
  if (error_.empty()) error_ = setup(b, "b", "10.251.0.2");
  if (!error_.empty()) return;
  error_ = failed(run_cmd({"ip", "link", "add", veth_a_, "netns", a.netns, "type", "veth", "peer", "name", veth_b_,
                           "netns", b.netns}),
                  "veth");
  a.ifname = veth_a_;
  b.ifname = veth_b_;
  for (TestHost* h : {&a, &b}) {
    if (!error_.empty()) return;
    error_ = failed(run_cmd({"ip", "-n", h->netns, "addr", "add", h->addr + "/24", "dev", h->ifname}), "addr");
    if (error_.empty()) error_ = failed(run_cmd({"ip", "-n", h->netns, "link", "set", h->ifname, "up"}), "link up");
    if (error_.empty()) error_ = failed(run_cmd({"ip", "-n", h->netns, "link", "set", "lo", "up"}), "lo up");
  }
  for (TestHost* h : {&a, &b})
    if (error_.empty()) error_ = start_sshd(*h);
}

// The host's netns, dirs, host key and sshd config.
std::string TwoHosts::setup(TestHost& h, const std::string& label, const std::string& addr) {
  h.label = label;
  h.addr = addr;
  h.netns = "cvm" + std::to_string(::getpid()) + label;
  h.dir = dir_ + "/" + label;
  h.path = h.dir + "/path";
  h.registry = h.dir + "/state/.idmap-registry";
  std::filesystem::create_directories(h.path);
  std::filesystem::create_directories(h.dir + "/state");
  if (!write_text(h.dir + "/cove.conf", "[host]\npath = " + h.path + "\nruntime_dir = " + h.dir + "/run\nstate_dir = " +
                                          h.dir + "/state\ncache_dir = " + h.dir + "/cache\nnetwork_dir = " + h.dir +
                                          "/networks\n"))
    return "write cove.conf";
  ::chmod(h.dir.c_str(), 0711);
  ::chmod(h.path.c_str(), 0711);
  if (auto e = failed(run_cmd({"ip", "netns", "add", h.netns}), "ip netns add"); !e.empty()) {
    h.netns.clear();
    return e;
  }
  std::string hostkey = h.dir + "/host_key";
  if (auto e = failed(run_cmd({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostkey}), "ssh-keygen"); !e.empty())
    return e;
  std::string pub = trim_str(read_text(hostkey + ".pub"));
  std::ofstream(known_hosts_, std::ios::app) << addr << " " << pub.substr(0, pub.rfind(' ')) << "\n";
  if (!write_sshd_config(h, {})) return "write sshd_config";
  if (!write_text(dir_ + "/authorized_keys", read_text(key_ + ".pub"), 0600)) return "write authorized_keys";
  return "";
}

bool TwoHosts::write_sshd_config(const TestHost& h, const std::vector<std::string>& extra_env) {
  std::string envs;
  for (const auto& e : h.env()) envs += " " + e;
  for (const auto& e : extra_env) envs += " " + e;
  std::string cfg = "ListenAddress " + h.addr + "\nPort 22\nHostKey " + h.dir + "/host_key\nAuthorizedKeysFile " + dir_ +
                    "/authorized_keys\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"
                    "KbdInteractiveAuthentication no\nUsePAM no\nPidFile none\nStrictModes no\nPrintMotd no\n"
                    "PrintLastLog no\nUseDNS no\nAcceptEnv COVE_MIGRATE_FAULT\n"
                    "ClientAliveInterval 2\nClientAliveCountMax 3\nSetEnv" + envs + "\n";
  return write_text(h.dir + "/sshd_config", cfg);
}

std::string TwoHosts::restart_sshd(TestHost& h, const std::vector<std::string>& extra) {
  kill_sshd(h);
  if (!write_sshd_config(h, extra)) return "write sshd_config";
  return start_sshd(h);
}

// sshd -D in the host's netns, our child; ready once its port answers.
std::string TwoHosts::start_sshd(TestHost& h) {
  ::mkdir("/run/sshd", 0755);
  std::string log = h.dir + "/sshd.log";
  pid_t pid = ::fork();
  if (pid == 0) {
    FILE* f = std::fopen(log.c_str(), "w");
    if (f) ::dup2(fileno(f), 2);
    ::execlp("nsenter", "nsenter", ("--net=/run/netns/" + h.netns).c_str(), "/usr/sbin/sshd", "-D", "-e", "-f",
             (h.dir + "/sshd_config").c_str(), nullptr);
    ::_exit(127);
  }
  h.sshd = pid;
  bool up = eventually([&] { return read_text(log).find("Server listening") != std::string::npos; }, 5000);
  return up ? "" : "sshd did not start: " + read_text(log);
}

RunResult TwoHosts::cove(const TestHost& h, const std::string& tool, const std::string& name,
                         const std::vector<std::string>& args, int timeout_s, const std::vector<std::string>& extra_env) {
  std::vector<std::string> argv = {"nsenter", "--net=/run/netns/" + h.netns, "env"};
  for (const auto& e : h.env()) argv.push_back(e);
  argv.insert(argv.end(), extra_env.begin(), extra_env.end());
  argv.insert(argv.end(), {builddir() + "/" + tool, "-P", h.path});
  if (!name.empty()) argv.insert(argv.end(), {"-n", name});
  argv.insert(argv.end(), args.begin(), args.end());
  return run_cmd(argv, timeout_s);
}

RunResult TwoHosts::migrate(const TestHost& from, const std::string& name, const TestHost& to,
                            const std::vector<std::string>& args, const std::vector<std::string>& extra_env) {
  std::vector<std::string> a = {"ssh://root@" + to.addr + to.path, "--remote-cove", builddir() + "/cove",
                                "--ssh-opt=-i",                    "--ssh-opt=" + key_,
                                "--ssh-opt=-o",                    "--ssh-opt=UserKnownHostsFile=" + known_hosts_,
                                "--ssh-opt=-o",                    "--ssh-opt=StrictHostKeyChecking=yes"};
  a.insert(a.end(), args.begin(), args.end());
  return cove(from, "cove-migrate", name, a, 180, extra_env);
}

std::unique_ptr<Segment> TwoHosts::make_segment(const std::string& bridge, const std::string& peer_v4,
                                                const std::string& peer_v6) {
  auto seg = std::make_unique<Segment>();
  seg->bridge = bridge;
  seg->peer_v4 = peer_v4;
  seg->peer_v6 = peer_v6;
  if (!seg->sw.valid() || !seg->peer.valid()) {
    seg->error = "switch or peer namespace";
    return seg;
  }
  std::vector<std::string> steps = {"ip link add sw type bridge && ip link set sw up"};
  for (const TestHost* h : {&a, &b}) {
    std::string port = "t" + h->label, host = "/run/netns/" + h->netns;
    steps.push_back("ip link add " + port + " type veth peer name trunk netns " + host + " && ip link set " + port +
                    " master sw up");
    steps.push_back("ip -n " + h->netns + " link add " + bridge + " type bridge && ip -n " + h->netns +
                    " link set trunk master " + bridge + " up && ip -n " + h->netns + " link set " + bridge + " up");
  }
  steps.push_back("ip link add tp type veth peer name eth0 netns " + seg->peer.path() + " && ip link set tp master sw up");
  for (const auto& step : steps)
    if (auto r = seg->sw.sh(step); r.status != 0) {
      seg->error = "`" + step + "`: " + r.err;
      return seg;
    }
  auto r = seg->peer.sh("ip addr add " + peer_v4 + "/24 dev eth0 && ip addr add " + peer_v6 +
                        "/64 dev eth0 nodad && ip link set eth0 up");
  if (r.status != 0) seg->error = "peer address: " + r.err;
  return seg;
}

std::string Segment::switch_port_of(const std::string& mac) const {
  auto r = sw.sh("bridge fdb show br sw");
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(mac + " dev ", 0) == 0) {
      std::istringstream words(line.substr(mac.size() + 5));
      std::string port;
      words >> port;
      return port;
    }
  return "";
}

void TwoHosts::kill_sshd(TestHost& h) {
  if (h.sshd <= 0) return;
  ::kill(h.sshd, SIGTERM);
  ::waitpid(h.sshd, nullptr, 0);
  h.sshd = 0;
}

void TwoHosts::cut_link() {
  run_cmd({"ip", "-n", a.netns, "link", "set", a.ifname, "down"});
  run_cmd({"ip", "-n", b.netns, "link", "set", b.ifname, "down"});
}

std::vector<std::string> TwoHosts::containers(const TestHost& h) const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(h.path, ec))
    if (e.is_directory() && e.path().filename().string()[0] != '.') out.push_back(e.path().filename());  // not .images
  return out;
}

std::vector<std::string> TwoHosts::registry_entries(const TestHost& h) const {
  std::vector<std::string> out;
  std::istringstream in(read_text(h.registry));
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#') out.push_back(line);
  return out;
}

void TwoHosts::destroy_containers(const TestHost& h) {
  for (const auto& n : names_) {
    cove(h, "cove-stop", n, {"-k"}, 30);
    cove(h, "cove-destroy", n, {"-f"}, 30);
  }
}

TwoHosts::~TwoHosts() {
  if (!a.path.empty()) destroy_containers(a);
  if (!b.path.empty()) destroy_containers(b);
  for (TestHost* h : {&a, &b}) {
    kill_sshd(*h);
    if (!h->netns.empty()) run_cmd({"ip", "netns", "del", h->netns});
  }
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

}  // namespace cove::test
