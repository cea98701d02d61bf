// migrate/: the control messages round-trip and bad lines are errors (never exceptions), the
// channel frames lines and reports the peer's end, the DEST URL parses, CPU flags compare.
#include <fcntl.h>
#include <unistd.h>

#include "migrate/channel.hpp"
#include "migrate/host_facts.hpp"
#include "migrate/ssh_link.hpp"
#include "migrate/wire.hpp"
#include "support.hpp"

namespace cove::migrate {
namespace {

TEST(MigrateWire, OfferRoundTrips) {
  Offer o;
  o.name = "web";
  o.source = "/var/lib/cove/web";
  o.cove_version = "0.1.0";
  o.criu_version = "4.2.1";
  o.backend = "dir";
  o.uids = {{1000000, 65536}};
  o.gids = {{1000000, 65536}};
  o.links = {"cove0"};
  o.rootfs_bytes = 123;
  o.memory_bytes = 456;
  o.cpu_flags = {"avx", "sse2"};
  std::string line = encode(o);
  ASSERT_EQ(line.back(), '\n');
  line.pop_back();
  auto m = decode(line);
  ASSERT_TRUE(m) << m.error().message();
  ASSERT_TRUE(std::holds_alternative<Offer>(*m));
  EXPECT_EQ(std::get<Offer>(*m), o);
}

// An overlay's lowers travel as image hashes (64 lowercase hex digits, nothing else); an offer
// without the field (an older cove) decodes with none, so the receiver's version check speaks.
TEST(MigrateWire, LowerImagesRoundTripAndHashesAreChecked) {
  Offer o;
  o.name = "web";
  o.backend = "overlay";
  std::string h(64, 'a');
  o.lower_images = {{"/var/lib/cove/.images/sha256/" + h + "/rootfs", h}};
  std::string line = encode(o);
  line.pop_back();
  auto back = decode(line);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(std::get<Offer>(*back), o);
  for (std::string bad : {std::string(63, 'a'), std::string(64, 'A'), std::string(63, 'a') + "/", std::string("../x")}) {
    std::string l = line;
    l.replace(l.find("\"hash\":\"") + 8, 64, bad);
    EXPECT_FALSE(decode(l)) << bad;
  }
  std::string old = line;
  auto at = old.find("\"lower_images\"");
  old.erase(at, old.find(']', at) + 2 - at);
  auto o2 = decode(old);
  ASSERT_TRUE(o2) << old;
  EXPECT_TRUE(std::get<Offer>(*o2).lower_images.empty());
}

// Post-copy's fields and message: the mode in the offer, the receiver's page-stream socket,
// and `pages` (every page arrived); an unknown mode is refused by the decoder.
TEST(MigrateWire, PostCopyMessagesRoundTrip) {
  Offer o;
  o.name = "web";
  o.mode = "post-copy";
  o.transport = "page-server";
  Accepted a{"/var/lib/cove/web", "/var/lib/cove/web/.migrate-images", "/run/cove/.migrate-web.x/go",
             "/run/cove/.migrate-web.x/pages", "10.0.0.2", 40123, std::string(64, '0')};
  for (const Message& m : {Message(o), Message(a), Message(Pages{1234})}) {
    std::string line = encode(m);
    line.pop_back();
    auto back = decode(line);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(back->index(), m.index());
    EXPECT_STREQ(message_name(*back), message_name(m));
  }
  std::string line = encode(Pages{1234});
  EXPECT_NE(line.find(R"("msg":"pages")"), std::string::npos);
  line.pop_back();
  EXPECT_EQ(std::get<Pages>(*decode(line)).ms, 1234);
  line = encode(a);
  line.pop_back();
  EXPECT_EQ(std::get<Accepted>(*decode(line)), a);
  line = encode(o);
  line.pop_back();
  EXPECT_EQ(std::get<Offer>(*decode(line)).mode, "post-copy");
  EXPECT_EQ(std::get<Offer>(*decode(line)).transport, "page-server");
  auto at = line.find("post-copy");
  line.replace(at, 9, "pre-copy!");
  auto bad = decode(line);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), EPROTO);
  EXPECT_NE(bad.error().message().find("unknown mode"), std::string::npos);
  line = encode(o);
  line.pop_back();
  line.replace(line.find("page-server"), 11, "carrier-pig");
  EXPECT_FALSE(decode(line));
  line = encode(a);
  line.pop_back();
  line.replace(line.find("40123"), 5, "99999");
  EXPECT_FALSE(decode(line));
  // The page stream's token: 64 lowercase hex digits or nothing at all.
  for (std::string bad : {std::string(63, '0'), std::string(64, 'G'), std::string(64, ' ')}) {
    line = encode(a);
    line.pop_back();
    line.replace(line.find(std::string(64, '0')), 64, bad);
    EXPECT_FALSE(decode(line)) << bad;
  }
}

TEST(MigrateWire, ErrorsKeepTheirChain) {
  Error e = Error(EEXIST, "a container `web` exists").context("check the offer");
  std::string line = encode(Refused{to_wire(e)});
  line.pop_back();
  auto m = decode(line);
  ASSERT_TRUE(m);
  Error back = from_wire(std::get<Refused>(*m).error);
  EXPECT_EQ(back.code(), EEXIST);
  EXPECT_EQ(back.message(), e.message());
}

TEST(MigrateWire, BadLinesAreErrors) {
  EXPECT_FALSE(decode("not json"));
  EXPECT_FALSE(decode("[1]"));
  EXPECT_FALSE(decode(R"({"msg":"commit"})"));
  auto v = decode(R"({"version":2,"msg":"commit"})");
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code(), EPROTONOSUPPORT);
  auto u = decode(R"({"version":1,"msg":"launch"})");
  ASSERT_FALSE(u);
  EXPECT_NE(u.error().message().find("unknown message `launch`"), std::string::npos);
  auto t = decode(R"({"version":1,"msg":"accepted","container_dir":5,"images_dir":"x"})");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code(), EPROTO);
  EXPECT_FALSE(decode(R"({"version":1,"msg":"offer","name":"x"})"));
}

TEST(MigrateChannel, LinesAndTheEnd) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  int q[2];
  ASSERT_EQ(::pipe2(q, O_CLOEXEC), 0);
  Channel a{UniqueFd(q[0]), UniqueFd(p[1])};  // writes p, reads q
  Channel b{UniqueFd(p[0]), UniqueFd(q[1])};
  ASSERT_TRUE(a.send(RestoreRequest{}));
  ASSERT_TRUE(a.send(Commit{}));
  EXPECT_TRUE(expect<RestoreRequest>(b, 1000));
  auto wrong = expect<Committed>(b, 1000);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message().find("expected `committed`, got `commit`"), std::string::npos);
  ASSERT_TRUE(b.send(Failed{to_wire(Error(EIO, "restore: boom"))}));
  auto f = expect<Running>(a, 1000);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code(), EIO);
  auto timeout = b.receive(10);
  ASSERT_FALSE(timeout);
  EXPECT_EQ(timeout.error().code(), ETIMEDOUT);
  a.close_out();
  auto end = b.receive(1000);
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error().code(), ECONNRESET);
}

TEST(MigrateDestination, Parses) {
  auto d = parse_destination("ssh://root@10.0.0.2:2222/srv/cove");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->user, "root");
  EXPECT_EQ(d->host, "10.0.0.2");
  EXPECT_EQ(d->port, 2222u);
  EXPECT_EQ(d->path, "/srv/cove");
  EXPECT_EQ(d->url(), "ssh://root@10.0.0.2:2222/srv/cove");
  auto h = parse_destination("ssh://host2");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->host, "host2");
  EXPECT_EQ(h->port, 0u);
  EXPECT_EQ(h->path, "");
  auto v6 = parse_destination("ssh://[fd00::2]:22");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "fd00::2");
  EXPECT_EQ(v6->url(), "ssh://[fd00::2]:22");
  EXPECT_FALSE(parse_destination("host2"));
  EXPECT_FALSE(parse_destination("ssh://"));
  EXPECT_FALSE(parse_destination("ssh://h:99999"));
  EXPECT_FALSE(parse_destination("ssh://-oProxyCommand=x"));
}

TEST(MigrateSsh, ShellQuote) {
  EXPECT_EQ(shell_quote("a b"), "'a b'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
}

TEST(MigrateHostFacts, CpuFlags) {
  auto flags = parse_cpu_flags("processor\t: 0\nflags\t\t: sse2 avx fpu\n\nprocessor\t: 1\nflags\t\t: other\n");
  EXPECT_EQ(flags, (std::vector<std::string>{"avx", "fpu", "sse2"}));
  EXPECT_EQ(missing_flags({"avx", "avx512f", "sse2"}, flags), std::vector<std::string>{"avx512f"});
  EXPECT_TRUE(missing_flags(flags, flags).empty());
}

}  // namespace
// A destination names the page server's address; a hostile one must not point this host's
// CRIU at another host, or at this host's own loopback.
TEST(MigrateDestination, PageServerAddressMustBeTheDestinations) {
  EXPECT_TRUE(may_be_address_of("10.251.0.2", "10.251.0.2"));
  EXPECT_FALSE(may_be_address_of("10.251.0.2", "10.251.0.3"));
  EXPECT_FALSE(may_be_address_of("10.251.0.2", "127.0.0.1"));
  EXPECT_TRUE(may_be_address_of("[fd00::2]", "fd00::2"));
  EXPECT_TRUE(may_be_address_of("fd00::2", "fd00:0::2"));
  EXPECT_FALSE(may_be_address_of("fd00::2", "10.251.0.2"));
  EXPECT_TRUE(may_be_address_of("host2.example", "192.0.2.7"));
  for (const char* own : {"127.0.0.1", "127.3.2.1", "0.0.0.0", "::1", "::"})
    EXPECT_FALSE(may_be_address_of("host2.example", own)) << own;
  for (const char* bad : {"", "x", "10.0.0", "10.0.0.1; rm -rf /", "1.2.3.4:80"})
    EXPECT_FALSE(may_be_address_of("host2.example", bad)) << bad;
}

// Numbers that are not integers of the field's range are refused, not cast (a float out of
// range was undefined behaviour: found by tests/fuzz/fuzz_migrate).
TEST(MigrateWire, NumbersOutOfRangeAreRefused) {
  std::string base = R"({"version":1,"msg":"accepted","container_dir":"/d","images_dir":"/d/i","go_fifo":"/g",)"
                     R"("pages_socket":"","pages_address":"","pages_port":)";
  EXPECT_TRUE(decode(base + "4040}"));
  for (const char* bad : {"4E40", "1.5", "-1", "4294967296"}) EXPECT_FALSE(decode(base + bad + "}")) << bad;
  EXPECT_FALSE(decode(R"({"version":1,"msg":"running","restore_ms":1e300})"));
  EXPECT_FALSE(decode(R"({"version":1,"msg":"pages","ms":"5"})"));
}

}  // namespace cove::migrate
