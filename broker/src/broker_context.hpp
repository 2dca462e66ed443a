// BrokerContext — what every broker component reads and none owns alone: the options,
// this run's epoch and id, when it started, its CURVE side, its counters and its warning
// limiter. One per Broker. Its fields are the broker thread's, except `counters` (any
// thread: Broker::stats()) and what the Broker's constructor and start() set up before
// that thread starts. It holds no socket (ClientSender sends on the Broker's ROUTER) and
// no per-peer state (Registrar, EventFanout, LookupPages own theirs).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <utility>

#include "broker_counters.hpp"
#include "broker_security.hpp"
#include "log_limiter.hpp"
#include "membership.hpp"
#include "zmesh/broker/broker.hpp"
#include "zmesh/core/clock.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh::detail {

/// How long the broker loop sleeps in zmq::poll at most, and how often it looks at its
/// timers (expiry, Events, the summary line).
inline constexpr std::chrono::milliseconds kBrokerTick{50};

struct BrokerContext {
  /// Copies the options as given: the Broker validates them (and makes `security`) in
  /// its constructor, after its decoder has checked the limits.
  explicit BrokerContext(BrokerOptions opts)
      : options(std::move(opts)), epoch(random_id()), id(random_id()) {}

  BrokerOptions options;
  const std::uint64_t epoch;  ///< this run's, new at every construction
  const std::uint64_t id;     ///< the sender id of our headers
  const SteadyClock::time_point started = SteadyClock::now();  ///< for uptime and warm-up
  std::unique_ptr<BrokerSecurity> security;                    ///< CURVE only, else null
  BrokerCounters counters;                                     ///< any thread
  LogLimiter limiter;  ///< one warning a second for every noisy condition of the loop

  /// The liveness rule of protocol.md 5.1/5.4 with the renew interval as the window: a
  /// registration is live while heard from (Register or Renew) within two renew intervals.
  [[nodiscard]] bool live(const Member& m, SteadyClock::time_point now) const {
    return now - m.last_heard() <= 2 * options.renew_interval;
  }
};

}  // namespace zmesh::detail
