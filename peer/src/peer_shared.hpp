// State shared by the threads of one Peer: its identity, options, counters and handler
// table. Everything here is either immutable after start() or atomic, but for one string
// guarded by its mutex.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "broadcast_credit.hpp"
#include "handler_table.hpp"
#include "policy_table.hpp"
#include "request_durations.hpp"
#include "subscription_table.hpp"
#include "zmesh/peer/options.hpp"
#include "zmesh/peer/stats.hpp"

namespace zmesh::detail {

struct Counters {
  std::atomic<std::uint64_t> sent{0}, received{0}, requests_sent{0}, replies_received{0},
      pending{0}, timeouts{0}, errors{0}, late_replies{0}, malformed{0}, unexpected{0}, handled{0},
      handler_errors{0}, no_handler{0}, expired{0}, worker_queue_depth{0}, connections{0},
      published{0}, broadcasts_received{0}, broadcasts_filtered{0}, gaps{0}, subscriptions_seen{0},
      overloaded{0}, departed_skipped{0}, subscriptions_refused{0}, publishers_refused{0},
      greetings_refused{0}, registrations_refused{0}, membership_resyncs{0}, handshakes_refused{0},
      handshakes_untrusted{0}, handshakes_mismatched{0}, handshakes_bad_key{0}, auth_failures{0},
      identity_refused{0}, broadcasts_held{0}, broadcasts_conflated{0}, broadcasts_overflowed{0},
      broadcasts_dropped{0}, publish_timeouts{0}, subscribers_cut{0}, broadcasts_skipped{0};
  RequestDurations request_durations;  // replies only; engine writes, metrics reads

  [[nodiscard]] PeerStats snapshot() const {
    auto r = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    return PeerStats{r(sent),
                     r(received),
                     r(requests_sent),
                     r(replies_received),
                     r(pending),
                     r(timeouts),
                     r(errors),
                     r(late_replies),
                     r(malformed),
                     r(unexpected),
                     r(handled),
                     r(handler_errors),
                     r(no_handler),
                     r(expired),
                     r(worker_queue_depth),
                     r(connections),
                     r(published),
                     r(broadcasts_received),
                     r(broadcasts_filtered),
                     r(gaps),
                     r(subscriptions_seen),
                     r(overloaded),
                     r(departed_skipped),
                     r(subscriptions_refused),
                     r(publishers_refused),
                     r(greetings_refused),
                     r(registrations_refused),
                     r(membership_resyncs),
                     r(handshakes_refused),
                     r(handshakes_untrusted),
                     r(handshakes_mismatched),
                     r(handshakes_bad_key),
                     r(auth_failures),
                     r(identity_refused),
                     r(broadcasts_held),
                     r(broadcasts_conflated),
                     r(broadcasts_overflowed),
                     r(broadcasts_dropped),
                     r(publish_timeouts),
                     r(subscribers_cut),
                     r(broadcasts_skipped)};
  }
};

inline void bump(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) noexcept {
  counter.fetch_add(n, std::memory_order_relaxed);
}
inline void drop(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) noexcept {
  counter.fetch_sub(n, std::memory_order_relaxed);
}

/// The connections that went away lately, so that workers skip requests nobody will
/// read the answer to. Lock-free: the engine adds keys (never reused, ascending), workers
/// look them up. Remembers the last kSlots departures; an older one may be forgotten
/// (its work then runs, as it would have before), never confused with another.
class Departures {
 public:
  void add(std::uint64_t key) noexcept {
    slots_[key % kSlots].store(key, std::memory_order_release);
  }
  [[nodiscard]] bool contains(std::uint64_t key) const noexcept {
    return key != 0 && slots_[key % kSlots].load(std::memory_order_acquire) == key;
  }

 private:
  static constexpr std::size_t kSlots = 4096;
  std::array<std::atomic<std::uint64_t>, kSlots> slots_{};
};

struct PeerShared {
  PeerOptions options;
  PeerId id = 0;
  std::uint64_t session = 0;
  std::string uid;  // names this Peer's inproc endpoints
  Counters counters;
  std::shared_ptr<HandlerTable> handlers = std::make_shared<HandlerTable>();
  std::shared_ptr<SubscriptionTable> subscriptions = std::make_shared<SubscriptionTable>();
  // After this steady-clock time (µs, 0 = not stopping) workers answer queued requests
  // with ShuttingDown instead of running their handlers.
  std::atomic<std::int64_t> drain_deadline_us{0};
  std::vector<std::string> brokers;            // resolved from the options at construction
  std::vector<std::string> broker_keys;        // CURVE: each broker's public key ("" = off)
  std::atomic<bool> registered{false};         // a broker holds our registration
  std::atomic<bool> membership_listed{false};  // a broker's full listing has arrived
  // Why the broker refused our last Register ("" = not refused since we last registered).
  mutable std::mutex registration_mu;
  std::string registration_error;  // guarded by registration_mu
  std::string broker_auth_error;   // guarded by registration_mu: every broker refused us
  Departures departed;             // connection keys: engine adds, workers read
  // Delivery policies (set at construction, from the options): which topics are held at
  // our PUB, and the bound on block broadcasts publishers take credit from.
  // Defaults (drop only) until the Peer sets them from its options.
  std::unique_ptr<PolicyTable> policies =
      std::make_unique<PolicyTable>(DeliveryPolicy::drop, std::vector<TopicPolicy>{});
  std::unique_ptr<BroadcastCredit> broadcast_credit =
      std::make_unique<BroadcastCredit>(PeerOptions{}.broadcast_backlog_bytes);
  // Per worker: work items the engine handed it (or holds for it) that it has not
  // finished. Zero means no earlier message of any sender of that worker is pending, so
  // an inline handler may run on the engine without overtaking one (per-sender order).
  // The engine adds, the worker subtracts once it is done with an item (release).
  std::unique_ptr<std::atomic<std::uint64_t>[]> worker_pending =
      std::make_unique<std::atomic<std::uint64_t>[]>(PeerOptions::kMaxWorkers);
  // Per worker: broadcasts for latest subscriptions handed to it and not yet handled
  // (0 or 1). The engine hands the next one from its LatestBox only at 0, so that it is
  // the newest there is when the handler starts. Engine adds, worker subtracts (release).
  std::unique_ptr<std::atomic<std::uint64_t>[]> latest_in_flight =
      std::make_unique<std::atomic<std::uint64_t>[]>(PeerOptions::kMaxWorkers);

  // Addresses that stand for the inproc pipelines in ThreadSanitizer's eyes
  // (tsan_annotations.hpp): commands, and per worker the way there and back.
  char command_sync = 0;
  std::unique_ptr<char[]> to_worker_sync = std::make_unique<char[]>(PeerOptions::kMaxWorkers);
  std::unique_ptr<char[]> from_worker_sync = std::make_unique<char[]>(PeerOptions::kMaxWorkers);
};

}  // namespace zmesh::detail
