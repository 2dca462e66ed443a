// BrokerCounters — the broker's BrokerStats behind their mutex: the broker thread counts,
// any thread takes a snapshot (Broker::stats(), the metrics scrape).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>

#include "zmesh/broker/broker.hpp"

namespace zmesh::detail {

class BrokerCounters {
 public:
  /// Calls fn(stats) under the lock: several counters change together for a scrape.
  template <class Fn>
  void count(Fn&& fn) {
    std::lock_guard s(mu_);
    fn(stats_);
  }
  /// Counts a change of the membership (a registration, leave or expiry) together with
  /// the members gauge (`registered` now), so that a scrape sees both or neither.
  void count_membership(std::uint64_t BrokerStats::*counter, std::size_t registered) {
    std::lock_guard s(mu_);
    ++(stats_.*counter);
    stats_.registered = registered;
  }
  /// A copy of the counters; any thread.
  [[nodiscard]] BrokerStats snapshot() const {
    std::lock_guard s(mu_);
    BrokerStats out = stats_;
    return out;
  }

 private:
  mutable std::mutex mu_;
  BrokerStats stats_;  // guarded by mu_
};

}  // namespace zmesh::detail
