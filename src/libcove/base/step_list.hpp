// Step lists: a procedure written as an ordered list of named steps over one context (checkpoint
// and restore in lifecycle/), each step a short function with its rollback beside it, so that
// the list reads as the procedure and adding a step is one line. A failed step's error gets the
// step's name as context; the log says each step and its time at debug level.
// A step's `rollback` is kept on the runner's stack once the step succeeds and runs, newest
// first, when the runner is destroyed without `commit()`. A step's `cleanup` is kept from the
// moment the step starts and runs when the runner is destroyed, whatever happened (a
// scope-exit of the step: what it changed for the time of the procedure only). Steps of a
// list run from inside another step (a callback CRIU makes in the middle of its session) join
// the same stack, so one failure undoes all. A step marked `kPointOfNoReturn` drops the
// rollbacks before it runs: what is done is kept whatever follows (a dumped tree that CRIU has
// killed cannot be brought back by deleting its images).
#pragma once

#include <span>
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
  void (*cleanup)(Ctx&) = nullptr;   // runs at the end of the procedure, even when `run` failed
  StepKind kind = StepKind::kUndoable;
};

template <typename Ctx>
class StepRunner {
 public:
  StepRunner(const char* procedure, Ctx& ctx) : procedure_(procedure), ctx_(ctx) {}
  ~StepRunner() {
    for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
      log::debug("{}: {} {}", procedure_, it->rollback ? "undo" : "end", it->step->name);
      (it->rollback ? it->step->rollback : it->step->cleanup)(ctx_);
    }
  }
  StepRunner(const StepRunner&) = delete;
  StepRunner& operator=(const StepRunner&) = delete;

  // Runs `steps` in order, up to the first failure.
  Result<void> run(std::span<const Step<Ctx>> steps) {
    for (const auto& s : steps) {
      if (s.kind == StepKind::kPointOfNoReturn) drop_rollbacks();
      if (s.cleanup) pending_.push_back({&s, false});
      int64_t t0 = monotonic_ms();
      if (auto r = s.run(ctx_); !r) {
        log::debug("{}: {} failed: {}", procedure_, s.name, r.error().message());
        return std::move(r).error().context(s.name);
      }
      log::debug("{}: {} ({} ms)", procedure_, s.name, monotonic_ms() - t0);
      if (s.rollback) pending_.push_back({&s, true});
    }
    return {};
  }
  // The procedure succeeded: nothing is rolled back (the cleanups still run).
  void commit() { drop_rollbacks(); }

 private:
  struct Pending {
    const Step<Ctx>* step;
    bool rollback;  // else the step's cleanup
  };
  void drop_rollbacks() { std::erase_if(pending_, [](const Pending& p) { return p.rollback; }); }

  const char* procedure_;
  Ctx& ctx_;
  std::vector<Pending> pending_;
};

}  // namespace cove
