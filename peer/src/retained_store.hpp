// RetainedStore — the last broadcast per topic that a publisher keeps for late joiners
// (PeerOptions::retain, protocol.md 5.10). Opt-in per topic prefix; each rule bounds
// the topics it keeps and their bytes, and forgets the least recently published first.
// Engine thread only (owned by Broadcasts).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "zmesh/peer/options.hpp"

namespace zmesh::detail {

class RetainedStore {
 public:
  struct Value {
    std::string topic;
    std::string type;
    std::uint64_t sequence = 0;
    std::string payload;
  };

  explicit RetainedStore(const std::vector<RetainRule>& rules);

  /// Whether any topic is retained at all (no rule: keep() is never needed).
  [[nodiscard]] bool enabled() const noexcept { return !rules_.empty(); }
  /// Keeps this broadcast as the last value of `topic` if a rule covers the topic (the
  /// rule with the longest matching prefix). Copies what it keeps.
  void keep(std::string_view topic, std::string_view type, std::uint64_t sequence,
            std::string_view payload);
  /// Calls fn(const Value&) for every kept value whose topic starts with `prefix`.
  void each_matching(std::string_view prefix, const std::function<void(const Value&)>& fn) const;
  /// Values kept, all rules together.
  [[nodiscard]] std::size_t size() const noexcept;
  /// Bytes kept (topics, types and payloads), all rules together.
  [[nodiscard]] std::size_t bytes() const noexcept;

 private:
  struct Rule {
    RetainRule limits;
    std::list<Value> values;  // least recently published first
    std::unordered_map<std::string, std::list<Value>::iterator> by_topic;
    std::size_t bytes = 0;
  };
  static std::size_t cost(const Value& v) noexcept {
    return v.topic.size() + v.type.size() + v.payload.size();
  }
  void forget(Rule& r, std::list<Value>::iterator it);

  std::vector<Rule> rules_;
};

}  // namespace zmesh::detail
