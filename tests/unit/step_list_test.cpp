// base/step_list: steps run in order, a failure names its step, rollbacks run newest first
// (also of steps run by a nested list), cleanups run whatever happened, a point of no return
// keeps what was done.
#include "base/step_list.hpp"

#include <string>
#include <vector>

#include "support.hpp"

namespace cove {
namespace {

struct Trace {
  std::vector<std::string> log;
  std::string fail_at;
  StepRunner<Trace>* runner = nullptr;
};

Result<void> did(Trace& t, const std::string& what) {
  if (t.fail_at == what) return Error(EIO, what + " broke");
  t.log.push_back(what);
  return {};
}
Result<void> a(Trace& t) { return did(t, "a"); }
Result<void> b(Trace& t) { return did(t, "b"); }
Result<void> c(Trace& t) { return did(t, "c"); }
void undo_a(Trace& t) { t.log.push_back("undo a"); }
void undo_b(Trace& t) { t.log.push_back("undo b"); }
void undo_c(Trace& t) { t.log.push_back("undo c"); }

constexpr Step<Trace> kInner[] = {{"step c", c, undo_c}};
Result<void> nested(Trace& t) { return t.runner->run(kInner); }

constexpr Step<Trace> kSteps[] = {
    {"step a", a, undo_a},
    {"step b", b},  // nothing to undo
    {"nested", nested},
};

std::vector<std::string> run(Trace& t, std::span<const Step<Trace>> steps, bool commit, Result<void>* out = nullptr) {
  {
    StepRunner<Trace> runner("test", t);
    t.runner = &runner;
    auto r = runner.run(steps);
    if (out) *out = r;
    if (r && commit) runner.commit();
  }
  return t.log;
}

TEST(StepList, RunsInOrderAndKeepsAllWhenCommitted) {
  Trace t;
  EXPECT_EQ(run(t, kSteps, true), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(StepList, AFailureNamesItsStepAndUndoesWhatWasDoneNewestFirst) {
  Trace t;
  t.fail_at = "b";
  Result<void> r;
  EXPECT_EQ(run(t, kSteps, true, &r), (std::vector<std::string>{"a", "undo a"}));
  EXPECT_ERROR_CONTAINS(r, "step b: b broke");
}

TEST(StepList, StepsOfANestedListAreUndoneToo) {
  Trace t;
  EXPECT_EQ(run(t, kSteps, false), (std::vector<std::string>{"a", "b", "c", "undo c", "undo a"}));
  Trace f;
  f.fail_at = "c";
  Result<void> r;
  EXPECT_EQ(run(f, kSteps, true, &r), (std::vector<std::string>{"a", "b", "undo a"}));
  EXPECT_ERROR_CONTAINS(r, "nested: step c: c broke");
}

TEST(StepList, APointOfNoReturnKeepsWhatCameBefore) {
  constexpr Step<Trace> steps[] = {
      {"step a", a, undo_a},
      {"step b", b, undo_b, nullptr, StepKind::kPointOfNoReturn},
      {"step c", c, undo_c},
  };
  Trace t;
  t.fail_at = "c";
  EXPECT_EQ(run(t, steps, true), (std::vector<std::string>{"a", "b", "undo b"}));
}

void end_a(Trace& t) { t.log.push_back("end a"); }

TEST(StepList, CleanupsRunAtTheEndWhateverHappenedInStackOrder) {
  constexpr Step<Trace> steps[] = {
      {"step a", a, undo_a},
      {"step b", b, nullptr, end_a},
      {"step c", c, undo_c},
  };
  Trace ok;
  EXPECT_EQ(run(ok, steps, true), (std::vector<std::string>{"a", "b", "c", "end a"}));
  Trace late;
  late.fail_at = "c";
  EXPECT_EQ(run(late, steps, true), (std::vector<std::string>{"a", "b", "end a", "undo a"}));
  Trace own;
  own.fail_at = "b";  // a failed step's cleanup runs too
  EXPECT_EQ(run(own, steps, true), (std::vector<std::string>{"a", "end a", "undo a"}));
}

}  // namespace
}  // namespace cove
