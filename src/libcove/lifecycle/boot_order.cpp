#include "lifecycle/boot_order.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <tuple>

namespace cove::lifecycle {
namespace {

// Where a container goes: the order it runs at and how many shares deep it is at that order.
struct Rank {
  int order = 0;
  unsigned depth = 0;
  auto operator<=>(const Rank&) const = default;
};

class Ranker {
 public:
  explicit Ranker(const std::vector<BootEntry>& entries) {
    for (const auto& e : entries) by_name_.emplace(e.name, &e);
  }

  // The rank of `name`, or why it cannot start; `path` is the chain of shares being followed.
  std::optional<Rank> rank(const std::string& name, std::vector<std::string>& path) {
    if (auto it = done_.find(name); it != done_.end()) return it->second;
    if (auto it = refused_.find(name); it != refused_.end()) return std::nullopt;
    if (std::find(path.begin(), path.end(), name) != path.end()) {
      auto first = std::find(path.begin(), path.end(), name);
      std::string cycle;
      for (auto it = first; it != path.end(); ++it) cycle += "`" + *it + "` → ";
      for (auto it = first; it != path.end(); ++it)
        refuse(*it, "the containers share namespaces in a cycle: " + cycle + "`" + name + "`");
      return std::nullopt;
    }
    const BootEntry& e = *by_name_.at(name);
    Rank r{e.order, 0};
    path.push_back(name);
    for (const auto& other : e.shares) {
      if (!by_name_.count(other)) continue;
      auto o = rank(other, path);
      if (!o) {
        if (!refused_.count(name)) refuse(name, "it shares a namespace of `" + other + "`, which is left out");
        continue;
      }
      if (o->order > r.order) r = {o->order, o->depth + 1};
      else if (o->order == r.order) r.depth = std::max(r.depth, o->depth + 1);
    }
    path.pop_back();
    if (refused_.count(name)) return std::nullopt;
    done_.emplace(name, r);
    return r;
  }

  const std::map<std::string, Rank>& ranks() const { return done_; }
  const std::map<std::string, std::string>& refused() const { return refused_; }

 private:
  void refuse(const std::string& name, std::string why) { refused_.emplace(name, std::move(why)); }
  std::map<std::string, const BootEntry*> by_name_;
  std::map<std::string, Rank> done_;
  std::map<std::string, std::string> refused_;
};

}  // namespace

BootPlan plan_boot(const std::vector<BootEntry>& entries) {
  Ranker ranker(entries);
  std::map<std::string, unsigned> delays;
  for (const auto& e : entries) {
    std::vector<std::string> path;
    ranker.rank(e.name, path);
    delays[e.name] = e.delay_s;
  }
  std::map<Rank, BootStep> steps;  // ordered by rank; names arrive sorted (ranks() is a map)
  for (const auto& [name, r] : ranker.ranks()) {
    BootStep& s = steps[r];
    s.order = r.order;
    s.names.push_back(name);
    s.delay_s = std::max(s.delay_s, delays[name]);
  }
  BootPlan plan;
  for (auto& [r, s] : steps) plan.steps.push_back(std::move(s));
  plan.refused.assign(ranker.refused().begin(), ranker.refused().end());
  return plan;
}

}  // namespace cove::lifecycle
