#include "policy_table.hpp"

#include <algorithm>

namespace zmesh {

std::string_view to_string(DeliveryPolicy p) noexcept {
  switch (p) {
    case DeliveryPolicy::drop: return "drop";
    case DeliveryPolicy::block: return "block";
    case DeliveryPolicy::latest: return "latest";
  }
  return "unknown";
}

std::optional<DeliveryPolicy> delivery_policy_from(std::string_view name) noexcept {
  for (auto p : {DeliveryPolicy::drop, DeliveryPolicy::block, DeliveryPolicy::latest}) {
    if (name == to_string(p)) return p;
  }
  return std::nullopt;
}

}  // namespace zmesh

namespace zmesh::detail {

PolicyTable::PolicyTable(DeliveryPolicy fallback, std::vector<TopicPolicy> rules)
    : rules_(std::move(rules)) {
  // Longest first, so the first match is the most specific; equal prefixes keep the
  // order they were given in (the first one wins).
  std::stable_sort(rules_.begin(), rules_.end(), [](const TopicPolicy& a, const TopicPolicy& b) {
    return a.prefix.size() > b.prefix.size();
  });
  rules_.push_back(TopicPolicy{"", fallback});
  counters_ = std::vector<PolicyCounters>(rules_.size());
  holds_ = std::any_of(rules_.begin(), rules_.end(),
                       [](const TopicPolicy& r) { return r.policy != DeliveryPolicy::drop; });
}

std::size_t PolicyTable::rule_of(std::string_view topic) const noexcept {
  const std::size_t fallback = rules_.size() - 1;
  for (std::size_t i = 0; i < fallback; ++i) {
    if (topic.starts_with(rules_[i].prefix)) return i;
  }
  return fallback;
}

std::vector<TopicPolicyStats> PolicyTable::stats() const {
  auto r = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  std::vector<TopicPolicyStats> out;
  out.reserve(rules_.size());
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const PolicyCounters& c = counters_[i];
    out.push_back(TopicPolicyStats{rules_[i].prefix, rules_[i].policy, i + 1 == rules_.size(),
                                   r(c.published), r(c.conflated), r(c.backlog_full), r(c.no_room),
                                   r(c.publish_timeouts)});
  }
  return out;
}

}  // namespace zmesh::detail
