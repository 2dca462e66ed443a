#include "policy_table.hpp"

#include <algorithm>

namespace zmesh::detail {

PolicyTable::PolicyTable(DeliveryPolicy fallback, std::vector<TopicPolicy> rules)
    : fallback_(fallback), rules_(std::move(rules)) {
  // Longest first, so the first match is the most specific; equal prefixes keep the
  // order they were given in (the first one wins).
  std::stable_sort(rules_.begin(), rules_.end(), [](const TopicPolicy& a, const TopicPolicy& b) {
    return a.prefix.size() > b.prefix.size();
  });
  holds_ = fallback_ != DeliveryPolicy::drop ||
           std::any_of(rules_.begin(), rules_.end(),
                       [](const TopicPolicy& r) { return r.policy != DeliveryPolicy::drop; });
}

DeliveryPolicy PolicyTable::of(std::string_view topic) const noexcept {
  for (const auto& r : rules_) {
    if (topic.starts_with(r.prefix)) return r.policy;
  }
  return fallback_;
}

}  // namespace zmesh::detail
