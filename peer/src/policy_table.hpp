// PolicyTable — which delivery policy (PeerOptions::delivery, topic_policies) covers a
// topic: the longest matching prefix's, else the default. Immutable after construction;
// any thread (the publishing thread asks to take credit, the engine to send).
#pragma once

#include <string_view>
#include <vector>

#include "zmesh/peer/options.hpp"

namespace zmesh::detail {

class PolicyTable {
 public:
  PolicyTable(DeliveryPolicy fallback, std::vector<TopicPolicy> rules);

  [[nodiscard]] DeliveryPolicy of(std::string_view topic) const noexcept;
  /// Whether any topic can be held at the publisher (a block or latest policy exists).
  [[nodiscard]] bool holds() const noexcept { return holds_; }

 private:
  DeliveryPolicy fallback_;
  std::vector<TopicPolicy> rules_;  // longest prefix first
  bool holds_ = false;
};

}  // namespace zmesh::detail
