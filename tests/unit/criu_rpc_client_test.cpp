// criu::Client against a fake `criu swrk` peer on a socketpair: requests, NOTIFY messages and
// their acknowledgements, fds passed with a notification, and the mapping of failures (CRIU's
// first error is often benign: the log's last errors must be in the message).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "base/clock.hpp"
#include "base/fd_passing.hpp"
#include "criu/rpc_client.hpp"
#include "criu/session.hpp"
#include "support.hpp"

namespace cove::criu {
namespace {

class FakeSwrk {
 public:
  FakeSwrk() {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    client_end_.reset(sv[0]);
    peer_.reset(sv[1]);
  }
  UniqueFd take_client_end() { return std::move(client_end_); }

  rpc::criu_req recv_req() {
    auto m = recv_with_fds(peer_.get());
    rpc::criu_req req;
    EXPECT_TRUE(m.has_value());
    if (m && !m->eof) {
      EXPECT_TRUE(req.ParseFromString(m->data));
    }
    return req;
  }
  void send_resp(const rpc::criu_resp& resp, const std::vector<int>& fds = {}) {
    std::string buf;
    ASSERT_TRUE(resp.SerializeToString(&buf));
    ASSERT_TRUE(send_with_fds(peer_.get(), buf, fds).has_value());
  }
  void notify(const std::string& script, int pid = 0, const std::vector<int>& fds = {}) {
    rpc::criu_resp r;
    r.set_type(rpc::NOTIFY);
    r.set_success(true);
    r.mutable_notify()->set_script(script);
    if (pid) r.mutable_notify()->set_pid(pid);
    send_resp(r, fds);
  }
  void close() { peer_.reset(); }

 private:
  UniqueFd client_end_, peer_;
};

rpc::criu_req request(rpc::criu_req_type t) {
  rpc::criu_req r;
  r.set_type(t);
  r.mutable_opts()->set_images_dir_fd(-1);
  return r;
}

TEST(CriuRpcClient, VersionRoundTrip) {
  FakeSwrk peer;
  auto client = Client::over_socket(peer.take_client_end());
  std::thread t([&] {
    auto req = peer.recv_req();
    EXPECT_EQ(req.type(), rpc::VERSION);
    EXPECT_TRUE(req.keep_open());
    rpc::criu_resp r;
    r.set_type(rpc::VERSION);
    r.set_success(true);
    r.mutable_version()->set_major_number(4);
    r.mutable_version()->set_minor_number(2);
    r.mutable_version()->set_sublevel(1);
    peer.send_resp(r);
  });
  auto req = request(rpc::VERSION);
  req.set_keep_open(true);
  auto resp = client.call(req);
  t.join();
  ASSERT_OK(resp);
  EXPECT_EQ(resp->version().major_number(), 4);
  EXPECT_EQ(resp->version().sublevel(), 1);
}

TEST(CriuRpcClient, VersionTellsCovesPatchedBuild) {
  rpc::criu_version v;
  v.set_major_number(4);
  v.set_minor_number(2);
  v.set_sublevel(1);
  auto stock = info_from_version(v);
  EXPECT_EQ(stock.version, "4.2.1");
  EXPECT_FALSE(stock.orphan_ttys);
  v.set_name("CRIUTIBILITY");
  EXPECT_FALSE(info_from_version(v).orphan_ttys);
  v.set_name("+cove.orphan-ttys");
  EXPECT_TRUE(info_from_version(v).orphan_ttys);
}

TEST(CriuRpcClient, NotifiesAreAcknowledgedInOrderAndCarryFds) {
  FakeSwrk peer;
  auto client = Client::over_socket(peer.take_client_end());
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd rd(p[0]), wr(p[1]);
  std::vector<bool> acks;
  std::thread t([&] {
    auto req = peer.recv_req();
    EXPECT_EQ(req.type(), rpc::RESTORE);
    EXPECT_TRUE(req.opts().rst_sibling());
    peer.notify("setup-namespaces", 42);
    acks.push_back(peer.recv_req().notify_success());
    peer.notify("orphan-pts-master", 0, {wr.get()});
    auto ack = peer.recv_req();
    EXPECT_EQ(ack.type(), rpc::NOTIFY);
    acks.push_back(ack.notify_success());
    rpc::criu_resp r;
    r.set_type(rpc::RESTORE);
    r.set_success(true);
    r.mutable_restore()->set_pid(42);
    peer.send_resp(r);
  });
  std::vector<std::string> scripts;
  std::vector<int> pids;
  UniqueFd got;
  auto req = request(rpc::RESTORE);
  req.mutable_opts()->set_rst_sibling(true);
  auto resp = client.call(req, [&](Notify& n) -> Result<void> {
    scripts.push_back(n.script);
    pids.push_back(n.pid);
    if (!n.fds.empty()) got = std::move(n.fds[0]);
    return {};
  });
  t.join();
  ASSERT_OK(resp);
  EXPECT_EQ(resp->restore().pid(), 42);
  EXPECT_EQ(scripts, (std::vector<std::string>{"setup-namespaces", "orphan-pts-master"}));
  EXPECT_EQ(pids, (std::vector<int>{42, 0}));
  EXPECT_EQ(acks, (std::vector<bool>{true, true}));
  ASSERT_TRUE(got.valid());
  // The fd that came with the notification is the pipe's write end.
  ASSERT_EQ(::write(got.get(), "x", 1), 1);
  char c = 0;
  ASSERT_EQ(::read(rd.get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
}

// A lazy dump: call_until returns once `status-ready` is acknowledged (CRIU then serves pages),
// the socket turns readable when CRIU answers, and resume() reads that answer.
TEST(CriuRpcClient, CallPausesAtANotifyAndResumes) {
  FakeSwrk peer;
  auto client = Client::over_socket(peer.take_client_end());
  std::vector<bool> acks;
  std::thread t([&] {
    auto req = peer.recv_req();
    EXPECT_EQ(req.type(), rpc::DUMP);
    EXPECT_TRUE(req.opts().lazy_pages());
    peer.notify("post-dump");
    acks.push_back(peer.recv_req().notify_success());
    peer.notify("status-ready");
    acks.push_back(peer.recv_req().notify_success());
  });
  auto req = request(rpc::DUMP);
  req.mutable_opts()->set_lazy_pages(true);
  std::vector<std::string> scripts;
  auto paused = client.call_until(req, "status-ready", [&](Notify& n) -> Result<void> {
    scripts.push_back(n.script);
    return {};
  });
  t.join();
  ASSERT_OK(paused);
  EXPECT_FALSE(paused->has_value());
  EXPECT_EQ(scripts, (std::vector<std::string>{"post-dump", "status-ready"}));
  EXPECT_EQ(acks, (std::vector<bool>{true, true}));
  struct pollfd p = {client.fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0);  // CRIU serves pages: nothing to read yet
  rpc::criu_resp done;
  done.set_type(rpc::DUMP);
  done.set_success(true);
  peer.send_resp(done);
  EXPECT_EQ(::poll(&p, 1, 1000), 1);
  auto resp = client.resume(rpc::DUMP);
  ASSERT_OK(resp);
  EXPECT_TRUE(resp->success());
}

// A lazy dump whose page transfer failed: the final answer is the error.
TEST(CriuRpcClient, ResumeMapsAFailedAnswer) {
  FakeSwrk peer;
  auto client = Client::over_socket(peer.take_client_end());
  std::thread t([&] {
    (void)peer.recv_req();
    peer.notify("status-ready");
    (void)peer.recv_req();
    rpc::criu_resp r;
    r.set_type(rpc::DUMP);
    r.set_success(false);
    r.set_cr_errmsg("Lazy pages transfer FAILED");
    peer.send_resp(r);
  });
  auto paused = client.call_until(request(rpc::DUMP), "status-ready");
  ASSERT_OK(paused);
  EXPECT_FALSE(paused->has_value());
  auto resp = client.resume(rpc::DUMP);
  t.join();
  EXPECT_ERROR_CONTAINS(resp, "Lazy pages transfer FAILED");
}

TEST(CriuRpcClient, FailureCarriesTheLogsLastErrorsNotJustTheFirst) {
  test::TempDir dir;
  std::string log = dir.file("dump.log");
  std::ofstream(log) << "(00.000100) Error (criu/cr-dump.c:1): Can't setup RLIMIT_NOFILE\n"
                        "(00.000200) Warn  (criu/kerndat.c:1): Can't keep kdat cache on non-tempfs\n"
                        "(00.001000) Error (criu/mount.c:123): mnt: 1:./srv doesn't have a proper root mount\n"
                        "(00.001100) Error (criu/cr-dump.c:2): Dumping FAILED.\n";
  FakeSwrk peer;
  auto client = Client::over_socket(peer.take_client_end());
  std::thread t([&] {
    peer.recv_req();
    rpc::criu_resp r;
    r.set_type(rpc::DUMP);
    r.set_success(false);
    r.set_cr_errno(EPERM);
    r.set_cr_errmsg("Error (criu/util.c:1534): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted");
    peer.send_resp(r);
  });
  auto resp = client.call(request(rpc::DUMP), {}, log);
  t.join();
  ASSERT_FALSE(resp.has_value());
  // CRIU's first error is the benign one: neither it nor its EPERM is given as the cause.
  EXPECT_EQ(resp.error().code(), EIO);
  const auto& msg = resp.error().message();
  EXPECT_EQ(msg.find("RLIMIT_NOFILE"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("Operation not permitted"), std::string::npos) << msg;
  EXPECT_NE(msg.find("criu DUMP: failed"), std::string::npos) << msg;
  EXPECT_NE(msg.find("doesn't have a proper root mount"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Dumping FAILED"), std::string::npos) << msg;
  EXPECT_NE(msg.find(log), std::string::npos) << msg;
}

// A first error that is not the benign one stays the cause, with its errno.
TEST(CriuRpcClient, RealFirstErrorIsTheCause) {
  FakeSwrk peer;
  auto client = Client::over_socket(peer.take_client_end());
  std::thread t([&] {
    peer.recv_req();
    rpc::criu_resp r;
    r.set_type(rpc::DUMP);
    r.set_success(false);
    r.set_cr_errno(EBUSY);
    r.set_cr_errmsg("Error (criu/namespaces.c:460): Can't dump nested uts namespace for 42");
    peer.send_resp(r);
  });
  auto resp = client.call(request(rpc::DUMP));
  t.join();
  ASSERT_FALSE(resp.has_value());
  EXPECT_EQ(resp.error().code(), EBUSY);
  EXPECT_NE(resp.error().message().find("criu DUMP: Error (criu/namespaces.c:460): Can't dump nested uts"),
            std::string::npos)
      << resp.error().message();
  EXPECT_TRUE(is_benign_criu_error("(00.001879) Error (criu/util.c:1534): rlimit: Can't setup RLIMIT_NOFILE for self"));
  EXPECT_FALSE(is_benign_criu_error("Error (criu/cr-dump.c:1975): Dumping FAILED."));
}

TEST(CriuRpcClient, FailedNotifyHandlerIsNackedAndIsTheError) {
  FakeSwrk peer;
  auto client = Client::over_socket(peer.take_client_end());
  bool acked = true;
  std::thread t([&] {
    peer.recv_req();
    peer.notify("post-setup-namespaces");
    acked = peer.recv_req().notify_success();
    rpc::criu_resp r;
    r.set_type(rpc::RESTORE);
    r.set_success(false);
    r.set_cr_errmsg("Restoring FAILED");
    peer.send_resp(r);
  });
  auto resp = client.call(request(rpc::RESTORE),
                          [](Notify&) -> Result<void> { return Error(EACCES, "configure host network"); });
  t.join();
  EXPECT_FALSE(acked);
  EXPECT_ERROR_CONTAINS(resp, "notify `post-setup-namespaces`: configure host network");
  EXPECT_EQ(resp.error().code(), EACCES);
}

TEST(CriuRpcClient, WrongResponseTypeIsAProtocolError) {
  FakeSwrk peer;
  auto client = Client::over_socket(peer.take_client_end());
  std::thread t([&] {
    peer.recv_req();
    rpc::criu_resp r;
    r.set_type(rpc::RESTORE);
    r.set_success(true);
    r.mutable_restore()->set_pid(1);
    peer.send_resp(r);
  });
  auto resp = client.call(request(rpc::DUMP));
  t.join();
  EXPECT_ERROR_CONTAINS(resp, "criu DUMP: criu answered RESTORE");
  EXPECT_EQ(resp.error().code(), EPROTO);
}

TEST(CriuRpcClient, PeerClosingIsAnError) {
  FakeSwrk peer;
  auto client = Client::over_socket(peer.take_client_end());
  std::thread t([&] {
    peer.recv_req();
    peer.close();
  });
  auto resp = client.call(request(rpc::DUMP));
  t.join();
  EXPECT_ERROR_CONTAINS(resp, "closed the connection");
  EXPECT_EQ(resp.error().code(), EPIPE);
}

TEST(CriuRpcClient, SilentPeerTimesOut) {
  FakeSwrk peer;
  auto client = Client::over_socket(peer.take_client_end());
  auto resp = client.call(request(rpc::VERSION), {}, "", 50);
  EXPECT_ERROR_CONTAINS(resp, "no answer from criu");
  EXPECT_EQ(resp.error().code(), ETIMEDOUT);
}

// The deadline bounds every wait of a session, however long each call may wait.
TEST(CriuRpcClient, DeadlineBoundsTheWholeSession) {
  FakeSwrk peer;
  auto client = Client::over_socket(peer.take_client_end());
  client.set_deadline(monotonic_ms() + 50);
  int64_t t0 = monotonic_ms();
  auto resp = client.call(request(rpc::RESTORE), {}, "", 60000);
  EXPECT_EQ(resp.error().code(), ETIMEDOUT);
  EXPECT_LT(monotonic_ms() - t0, 5000);
  resp = client.call(request(rpc::RESTORE));  // no per-call bound: the deadline (passed) holds
  EXPECT_EQ(resp.error().code(), ETIMEDOUT);
}

// A `criu` that never answers (nor exits when its connection closes) is killed through its
// pidfd: by kill(), or by finish() once the grace is over.
TEST(CriuRpcClient, HungCriuIsKilled) {
  test::TempDir dir;
  std::string hung = dir.file("criu");
  std::ofstream(hung) << "#!/bin/sh\nexec sleep 1000\n";
  ::chmod(hung.c_str(), 0755);
  SpawnOptions so;
  so.criu_path = hung;
  for (bool explicit_kill : {true, false}) {
    auto client = Client::spawn(so);
    ASSERT_OK(client);
    client->set_deadline(monotonic_ms() + 100);
    auto resp = client->call(request(rpc::VERSION));
    EXPECT_EQ(resp.error().code(), ETIMEDOUT);
    if (explicit_kill) client->kill();
    int64_t t0 = monotonic_ms();
    int status = client->finish(explicit_kill ? -1 : 100);
    EXPECT_LT(monotonic_ms() - t0, 5000);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
    EXPECT_TRUE(client->was_killed());
  }
}

// An fd the swrk child must inherit that cannot be handed on (here: not open) ends the child
// as a failed exec would (127), instead of CRIU starting without it.
TEST(CriuRpcClient, UninheritableFdFailsTheChild) {
  const int closed = 900;  // high enough that spawn's own fds do not take it
  ASSERT_LT(::fcntl(closed, F_GETFD), 0);
  SpawnOptions so;
  so.criu_path = "/bin/true";
  so.keep_fds = {closed};
  auto client = Client::spawn(so);
  ASSERT_OK(client);
  int status = client->finish();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 127) << status;
}

TEST(CriuRpcClient, MissingRequiredFieldIsRefusedBeforeSending) {
  FakeSwrk peer;
  auto client = Client::over_socket(peer.take_client_end());
  rpc::criu_req req;  // no type (proto2 required)
  EXPECT_ERROR_CONTAINS(client.call(req), "required field");
}

TEST(CriuRpcClient, LastLogErrors) {
  test::TempDir dir;
  std::string log = dir.file("x.log");
  std::ofstream(log) << "(0.1) Error (a): one\n(0.2) Error (b): two\n(0.3) info\n(0.4) Error (c): three\n";
  EXPECT_EQ(last_log_errors(log, 2), "Error (b): two; Error (c): three");
  EXPECT_EQ(last_log_errors(dir.file("missing.log")), "");
}

}  // namespace
}  // namespace cove::criu
