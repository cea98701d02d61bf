// Step lists: a procedure written as an ordered list of named steps over one context (checkpoint
// and restore in lifecycle/), each step a short function with its rollback beside it, so that
// the list reads as the procedure and adding a step is one line. A failed step's error gets the
// step's name as context; the log says each step and its time at debug level.
// Rollbacks are kept on the runner's stack as steps succeed and run newest first when the runner
// is destroyed without `commit()`: also the steps of a list run from inside another step (a
// callback CRIU makes in the middle of its session) join that stack, so one failure undoes all.
// A step marked `kPointOfNoReturn` drops the rollbacks before it runs: what is done is kept
// whatever follows (a dumped tree that CRIU has killed cannot be brought back by deleting its
// images).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/log.hpp"
#include "base/result.hpp"

namespace cove {

enum class StepKind { kUndoable, kPointOfNoReturn };

template <typename Ctx>
struct Step {
  const char* name;                  // what it does, as an error context: "freeze for the dump"
  Result<void> (*run)(Ctx&);
  void (*rollback)(Ctx&) = nullptr;  // undoes `run` when a later step fails; null: nothing to undo
  StepKind kind = StepKind::kUndoable;
};

template <typename Ctx>
class StepRunner {
 public:
  StepRunner(const char* procedure, Ctx& ctx) : procedure_(procedure), ctx_(ctx) {}
  ~StepRunner() { roll_back(); }
  StepRunner(const StepRunner&) = delete;
  StepRunner& operator=(const StepRunner&) = delete;

  // Runs `steps` in order, up to the first failure.
  Result<void> run(std::span<const Step<Ctx>> steps) {
    for (const auto& s : steps) {
      if (s.kind == StepKind::kPointOfNoReturn) done_.clear();
      int64_t t0 = monotonic_ms();
      if (auto r = s.run(ctx_); !r) {
        log::debug("{}: {} failed: {}", procedure_, s.name, r.error().message());
        return std::move(r).error().context(s.name);
      }
      log::debug("{}: {} ({} ms)", procedure_, s.name, monotonic_ms() - t0);
      if (s.rollback) done_.push_back(&s);
    }
    return {};
  }
  // The procedure succeeded: nothing is rolled back.
  void commit() { done_.clear(); }

 private:
  void roll_back() {
    for (auto it = done_.rbegin(); it != done_.rend(); ++it) {
      log::debug("{}: undo {}", procedure_, (*it)->name);
      (*it)->rollback(ctx_);
    }
    done_.clear();
  }

  const char* procedure_;
  Ctx& ctx_;
  std::vector<const Step<Ctx>*> done_;
};

}  // namespace cove
