// PolicyTable — which delivery policy (PeerOptions::delivery, topic_policies) covers a
// topic: the longest matching prefix's rule, else the default rule (the last one). The
// rules are immutable after construction; each has its counters (atomics), so that drops
// are counted per topic prefix. Any thread: the publishing thread asks to take credit
// and counts its timeouts, the engine sends and counts the rest, stats() reads.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "zmesh/peer/options.hpp"
#include "zmesh/peer/stats.hpp"

namespace zmesh::detail {

/// What happened to the broadcasts one rule covers (TopicPolicyStats, as atomics).
struct PolicyCounters {
  std::atomic<std::uint64_t> published{0}, conflated{0}, backlog_full{0}, no_room{0},
      publish_timeouts{0};
};

class PolicyTable {
 public:
  PolicyTable(DeliveryPolicy fallback, std::vector<TopicPolicy> rules);

  /// The rule covering `topic`: an index for policy() and counters().
  [[nodiscard]] std::size_t rule_of(std::string_view topic) const noexcept;
  [[nodiscard]] DeliveryPolicy policy(std::size_t rule) const noexcept {
    return rules_[rule].policy;
  }
  [[nodiscard]] DeliveryPolicy of(std::string_view topic) const noexcept {
    return policy(rule_of(topic));
  }
  /// The rule's counters (atomics: any thread may count).
  [[nodiscard]] PolicyCounters& counters(std::size_t rule) const noexcept {
    return counters_[rule];
  }
  /// Whether any topic can be held at the publisher (a block or latest policy exists).
  [[nodiscard]] bool holds() const noexcept { return holds_; }
  /// Every rule with its counters: the topic_policies longest prefix first, then the
  /// default.
  [[nodiscard]] std::vector<TopicPolicyStats> stats() const;

 private:
  std::vector<TopicPolicy> rules_;                // longest prefix first; the default last
  mutable std::vector<PolicyCounters> counters_;  // one per rule
  bool holds_ = false;
};

}  // namespace zmesh::detail
