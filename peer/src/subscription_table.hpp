// SubscriptionTable — broadcast handlers by topic prefix, and gap handlers. Shared by the
// Peer (adds and removes, from any thread) and the workers (deliver). Each add/remove of
// a prefix is reported to `on_change`, which turns it into a SUB subscribe/unsubscribe
// command for the engine (ZeroMQ counts repeated subscriptions to one prefix).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "guarded_callable.hpp"
#include "zmesh/peer.hpp"

namespace zmesh::detail {

class SubscriptionTable final : public Unregister {
 public:
  using OnChange = std::function<void(const std::string& prefix, bool subscribe)>;

  /// Sets what add/remove report to; until then they only change the table.
  void set_on_change(OnChange on_change);
  /// `latest`: the subscription gets only the newest broadcast of each topic
  /// (SubscribeOptions::latest): the engine keeps it apart (LatestBox).
  std::uint64_t add(std::string prefix, BroadcastHandler handler, bool latest = false);
  std::uint64_t add_gap(GapHandler handler);
  /// Removes a subscription or gap handler; waits until it is not running.
  void remove(std::uint64_t token) noexcept override;

  /// Which subscriptions a topic has, by kind.
  enum class Kinds : std::uint8_t { none = 0, plain = 1, latest = 2, both = 3 };
  /// Engine: whether any latest subscription exists (no lock).
  [[nodiscard]] bool any_latest() const noexcept {
    return latest_count_.load(std::memory_order_acquire) > 0;
  }
  /// Engine: the kinds of the subscriptions whose prefix starts `topic`.
  [[nodiscard]] Kinds kinds_of(std::string_view topic) const;

  /// Worker: calls every subscription (of the kind asked: latest ones, or the others)
  /// whose prefix starts the message's topic; returns how many ran. Exceptions from
  /// handlers are counted in `errors`, never propagated.
  std::size_t deliver(const Message& message, std::uint64_t& errors, bool latest = false);
  /// Worker: calls every gap handler.
  void gap(PeerId publisher, std::string_view topic, std::uint64_t missed, std::uint64_t& errors);
  /// Every prefix subscribed now, once per subscription (for a SUB opened later).
  [[nodiscard]] std::vector<std::string> prefixes() const;

 private:
  struct Subscription {
    std::uint64_t token;
    std::string prefix;
    std::shared_ptr<Guarded<BroadcastHandler>> handler;
    bool latest = false;
  };
  struct GapEntry {
    std::uint64_t token;
    std::shared_ptr<Guarded<GapHandler>> handler;
  };

  mutable std::shared_mutex mu_;
  // guarded by mu_
  std::vector<Subscription> subscriptions_;
  std::vector<GapEntry> gap_handlers_;
  std::uint64_t next_token_ = 1;
  OnChange on_change_;
  std::atomic<int> latest_count_{0};  // latest subscriptions in subscriptions_
};

}  // namespace zmesh::detail
