// The exec record (lifecycle/exec_record.hpp): what the monitor records of init's restrictions
// and environment for cove-attach. Every field survives the round trip; a damaged record is an
// error naming what is wrong, never a crash or a partial record.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include "lifecycle/exec_record.hpp"

namespace cove::lifecycle {
namespace {

ExecRecord full_record() {
  ExecRecord r;
  auto& x = r.restrictions;
  x.bounding = 0x1f8b5fcffffULL;
  x.no_new_privs = true;
  x.seccomp = {{0x20, 0, 0, 4}, {0x15, 1, 0, 0xc000003e}, {0x06, 0, 0, 0x7fff0000}, {0x06, 0, 0, 0x00050001}};
  x.seccomp_source = "/usr/share/cove/config/common.seccomp";
  x.rlimits = {{RLIMIT_NOFILE, 512, 1024}, {RLIMIT_NPROC, ~0ULL, ~0ULL}};
  x.lsm = "apparmor";
  x.lsm_label = "cove-default";
  x.identity = security::Identity{1000, 1001, {4, 27}};
  x.cap_sets = security::CapSets{1, 3, 7, 15};
  x.umask = 022;
  r.env = {"container=cove", "FOO=a b=c"};
  return r;
}

void expect_same(const ExecRecord& a, const ExecRecord& b) {
  const auto &x = a.restrictions, &y = b.restrictions;
  EXPECT_EQ(x.bounding, y.bounding);
  EXPECT_EQ(x.no_new_privs, y.no_new_privs);
  ASSERT_EQ(x.seccomp.size(), y.seccomp.size());
  for (size_t i = 0; i < x.seccomp.size(); ++i) {
    EXPECT_EQ(x.seccomp[i].code, y.seccomp[i].code) << i;
    EXPECT_EQ(x.seccomp[i].jt, y.seccomp[i].jt) << i;
    EXPECT_EQ(x.seccomp[i].jf, y.seccomp[i].jf) << i;
    EXPECT_EQ(x.seccomp[i].k, y.seccomp[i].k) << i;
  }
  EXPECT_EQ(x.seccomp_source, y.seccomp_source);
  ASSERT_EQ(x.rlimits.size(), y.rlimits.size());
  for (size_t i = 0; i < x.rlimits.size(); ++i) {
    EXPECT_EQ(x.rlimits[i].resource, y.rlimits[i].resource);
    EXPECT_EQ(x.rlimits[i].soft, y.rlimits[i].soft);
    EXPECT_EQ(x.rlimits[i].hard, y.rlimits[i].hard);
  }
  EXPECT_EQ(x.lsm, y.lsm);
  EXPECT_EQ(x.lsm_label, y.lsm_label);
  EXPECT_EQ(x.identity, y.identity);
  EXPECT_EQ(x.cap_sets, y.cap_sets);
  EXPECT_EQ(x.umask, y.umask);
  EXPECT_EQ(a.env, b.env);
}

TEST(ExecRecord, EveryFieldSurvivesTheRoundTrip) {
  auto r = full_record();
  auto back = decode_exec_record(encode_exec_record(r));
  ASSERT_TRUE(back.has_value()) << back.error().message();
  expect_same(r, *back);
}

TEST(ExecRecord, AnEmptyOneToo) {
  ExecRecord r;  // no filter, no identity, no sets, no umask, no env
  auto back = decode_exec_record(encode_exec_record(r));
  ASSERT_TRUE(back.has_value()) << back.error().message();
  expect_same(r, *back);
  EXPECT_TRUE(back->restrictions.seccomp.empty());
  EXPECT_FALSE(back->restrictions.identity.has_value());
}

std::string damaged(const std::string& from, const std::string& to) {
  std::string text = encode_exec_record(full_record());
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

std::string error_of(const std::string& text) {
  auto r = decode_exec_record(text);
  return r ? std::string("<decoded>") : r.error().message();
}

TEST(ExecRecord, ADamagedRecordIsAnErrorNamingWhatIsWrong) {
  EXPECT_EQ(error_of(""), "exec record is not a JSON object");
  EXPECT_EQ(error_of("[1,2]"), "exec record is not a JSON object");
  EXPECT_EQ(error_of(damaged("\"version\":1", "\"version\":2")), "exec record version 2 (this cove reads 1)");
  // The program: whole instructions of lowercase hex, at most 4096 of them.
  EXPECT_EQ(error_of(damaged("\"seccomp\":\"20", "\"seccomp\":\"2")),
            "exec record: seccomp program: not a whole number of instructions");
  EXPECT_EQ(error_of(damaged("\"seccomp\":\"20", "\"seccomp\":\"zz")), "exec record: seccomp program: not lowercase hex");
  std::string big = damaged("\"seccomp\":\"", "\"seccomp\":\"" + std::string(4097 * 16, '0'));
  EXPECT_EQ(error_of(big), "exec record: seccomp program: more than 4096 instructions");
  EXPECT_EQ(error_of(damaged("\"bounding\":2167716773887", "\"bounding\":1e30")),
            "exec record has a number that is not a 64-bit integer");
  EXPECT_EQ(error_of(damaged("\"rlimits\":[[7,", "\"rlimits\":[[7,1,")),
            "exec record: rlimits: each is [resource, soft, hard]");
  // Missing and mistyped fields: nlohmann's message, after ours.
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"\"bounding\":", "\"bounds\":"},
           {"\"no_new_privs\":true", "\"no_new_privs\":\"yes\""},
           {"\"env\":[", "\"env\":[1,"},
           {"\"uid\":1000", "\"uid\":\"root\""},
           {"\"umask\":18", "\"umask\":\"022\""}}) {
    auto e = error_of(damaged(from, to));
    EXPECT_EQ(e.rfind("exec record has a missing or mistyped field: ", 0), 0u) << from << " -> " << to << ": " << e;
  }
}

}  // namespace
}  // namespace cove::lifecycle
