// EventFanout — the join, leave and update changes of the membership, told to every
// registered peer in numbered Events (protocol.md 5.7, "Events are batched per tick and
// numbered"). Broker thread only.
//
// announce() files a change; flush(), when due(), sends the changes filed since the last
// one to every ROUTER identity the membership reaches: once a tick, or once a renew
// interval while the broker is warming up (younger than its TTL: every live peer
// re-registers within it), so that a restart storm of N registrations costs a few Events
// per peer instead of N.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "broker_context.hpp"
#include "client_sender.hpp"
#include "membership.hpp"
#include "zmesh/core/clock.hpp"
#include "zmesh/core/control.hpp"

namespace zmesh::detail {

class EventFanout {
 public:
  /// An Event holds the changes of up to this many listing pages (1 MiB by default).
  static constexpr std::size_t kEventPages = 16;
  static constexpr std::size_t kMaxEventBytes = 8 << 20;

  explicit EventFanout(BrokerContext& ctx) : ctx_(ctx) {}

  /// Files a change for the next Event (counted in BrokerStats::changes).
  void announce(EventType type, PeerInfo subject, std::string reason);
  /// Whether flush() is due at `now`.
  [[nodiscard]] bool due(SteadyClock::time_point now) const { return now >= next_flush_; }
  /// Sends the pending changes to every identity of `members` and sets when the next
  /// flush is due: numbered Events of at most kEventPages pages' worth of changes, each
  /// encoded once and shared by all the sends (one buffer, reference counted: an Event
  /// costs its bytes once however many peers queue it, and the Events queued anywhere are
  /// at most the last send_queue ones). Counts events_sent and slow_consumer.
  void flush(SteadyClock::time_point now, const Membership& members, ClientSender& out);
  /// The sequence of the last Event sent (0: none yet), for RegisterAck.
  [[nodiscard]] std::uint64_t sequence() const noexcept { return sequence_; }
  /// Changes filed and not yet sent.
  [[nodiscard]] std::size_t pending() const noexcept { return pending_.size(); }

 private:
  BrokerContext& ctx_;
  std::vector<Change> pending_;  // changes not yet sent in an Event
  std::uint64_t sequence_ = 0;   // of the last Event sent
  SteadyClock::time_point next_flush_{};
};

}  // namespace zmesh::detail
