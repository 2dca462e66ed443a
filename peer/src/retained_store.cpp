#include "retained_store.hpp"

namespace zmesh::detail {

RetainedStore::RetainedStore(const std::vector<RetainRule>& rules) {
  rules_.reserve(rules.size());
  for (const auto& r : rules) rules_.push_back(Rule{r, {}, {}, 0});
}

void RetainedStore::keep(std::string_view topic, std::string_view type, std::uint64_t sequence,
                         std::string_view payload) {
  Rule* rule = nullptr;
  for (auto& r : rules_) {
    if (topic.starts_with(r.limits.prefix) &&
        (rule == nullptr || r.limits.prefix.size() > rule->limits.prefix.size())) {
      rule = &r;
    }
  }
  if (rule == nullptr) return;
  if (auto it = rule->by_topic.find(std::string(topic)); it != rule->by_topic.end()) {
    forget(*rule, it->second);
  }
  Value v{std::string(topic), std::string(type), sequence, std::string(payload)};
  const std::size_t c = cost(v);
  if (c > rule->limits.max_bytes) return;  // never fits: the topic has no last value now
  // Make room: the least recently published topics go first.
  while (!rule->values.empty() && (rule->values.size() >= rule->limits.max_count ||
                                   rule->bytes + c > rule->limits.max_bytes)) {
    forget(*rule, rule->values.begin());
  }
  rule->bytes += c;
  rule->values.push_back(std::move(v));
  rule->by_topic.emplace(rule->values.back().topic, std::prev(rule->values.end()));
}

void RetainedStore::forget(Rule& r, std::list<Value>::iterator it) {
  r.bytes -= cost(*it);
  r.by_topic.erase(it->topic);
  r.values.erase(it);
}

void RetainedStore::each_matching(std::string_view prefix,
                                  const std::function<void(const Value&)>& fn) const {
  for (const auto& r : rules_) {
    for (const auto& v : r.values) {
      if (std::string_view(v.topic).starts_with(prefix)) fn(v);
    }
  }
}

std::size_t RetainedStore::size() const noexcept {
  std::size_t n = 0;
  for (const auto& r : rules_) n += r.values.size();
  return n;
}

std::size_t RetainedStore::bytes() const noexcept {
  std::size_t n = 0;
  for (const auto& r : rules_) n += r.bytes;
  return n;
}

}  // namespace zmesh::detail
