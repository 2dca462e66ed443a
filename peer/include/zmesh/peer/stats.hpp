// zmesh/peer/stats.hpp — counters a Peer exposes. Snapshots: values, copied out.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "zmesh/core/export.hpp"
#include "zmesh/peer/message.hpp"
#include "zmesh/peer/options.hpp"

namespace ZMESH_API zmesh {

/// Whole-peer counters since start().
struct PeerStats {
  std::uint64_t sent = 0;      ///< requests, replies and messages sent
  std::uint64_t received = 0;  ///< application messages/requests/replies received
  std::uint64_t requests_sent = 0;
  std::uint64_t replies_received = 0;
  std::uint64_t pending = 0;             ///< requests waiting for a reply now
  std::uint64_t timeouts = 0;            ///< requests failed by their own timeout
  std::uint64_t errors = 0;              ///< requests failed any other way
  std::uint64_t late_replies = 0;        ///< replies for requests no longer pending (dropped)
  std::uint64_t malformed = 0;           ///< frame sets refused by the decoder (dropped)
  std::uint64_t unexpected = 0;          ///< well-formed but out-of-place messages (dropped)
  std::uint64_t handled = 0;             ///< handler calls completed
  std::uint64_t handler_errors = 0;      ///< handler calls that threw
  std::uint64_t no_handler = 0;          ///< messages/requests with no handler for their type
  std::uint64_t expired = 0;             ///< requests skipped: deadline passed while queued
  std::uint64_t worker_queue_depth = 0;  ///< messages dispatched to workers and not yet handled
  std::uint64_t connections = 0;         ///< connections ready now
  std::uint64_t published = 0;           ///< broadcasts our PUB sent (numbered); not conflated ones
  std::uint64_t broadcasts_received = 0;  ///< broadcasts received from publishers
  std::uint64_t broadcasts_filtered = 0;  ///< received but matching no subscription now
  std::uint64_t gaps = 0;                 ///< broadcasts missed, all publishers
  std::uint64_t subscriptions_seen =
      0;                               ///< topic subscriptions our PUB received (markers excluded)
  std::uint64_t overloaded = 0;        ///< requests refused: their sender was over max_queued_bytes
  std::uint64_t departed_skipped = 0;  ///< requests skipped: their sender had gone
  std::uint64_t subscriptions_refused = 0;  ///< subscriptions our PUB refused (over a bound)
  std::uint64_t publishers_refused = 0;     ///< PUB endpoints not followed (over a bound)
  std::uint64_t greetings_refused = 0;      ///< Hellos we answered with a Reject
  std::uint64_t registrations_refused = 0;  ///< our Registers the broker refused (Reject)
  std::uint64_t membership_resyncs = 0;     ///< full listings after broker Events were lost
  // CURVE (docs/security.md). Handshakes refused by our ROUTER and PUB, by cause:
  std::uint64_t handshakes_refused = 0;     ///< all causes
  std::uint64_t handshakes_untrusted = 0;   ///< the client's key is not trusted (ZAP 400)
  std::uint64_t handshakes_mismatched = 0;  ///< plaintext client at our CURVE socket (or reverse)
  std::uint64_t handshakes_bad_key = 0;     ///< the client used a wrong key for us (cryptographic)
  std::uint64_t auth_failures = 0;          ///< our own connects that failed with auth_failed
  std::uint64_t identity_refused = 0;       ///< greetings refused: a peer id not bound to the key
  // Delivery policies (PeerOptions::delivery): what our PUB did for slow subscribers.
  std::uint64_t broadcasts_held = 0;        ///< block/latest: broadcasts waiting at our PUB now
  std::uint64_t broadcasts_conflated = 0;   ///< latest: replaced by a newer one before going out
  std::uint64_t broadcasts_overflowed = 0;  ///< latest: dropped, the backlog was full
  std::uint64_t broadcasts_dropped = 0;     ///< drop, beside a block/latest topic: no room for all
  std::uint64_t publish_timeouts = 0;       ///< block: publish() found no room in send_timeout
  std::uint64_t subscribers_cut = 0;        ///< subscribers disconnected after taking nothing
  /// Latest subscriptions (SubscribeOptions::latest): broadcasts received but replaced by
  /// a newer one of their topic before a handler got them.
  std::uint64_t broadcasts_skipped = 0;
};

/// What our PUB did with the broadcasts of one delivery-policy rule
/// (PeerOptions::topic_policies, and the default rule, PeerOptions::delivery, for the
/// topics no prefix matches). Peer::delivery_stats().
struct TopicPolicyStats {
  std::string prefix;  ///< the rule's prefix ("" for the default rule)
  DeliveryPolicy policy = DeliveryPolicy::drop;
  bool is_default = false;             ///< the default rule (PeerOptions::delivery)
  std::uint64_t published = 0;         ///< broadcasts our PUB sent (not conflated ones)
  std::uint64_t conflated = 0;         ///< latest: replaced by a newer one before going out
  std::uint64_t backlog_full = 0;      ///< latest: dropped, the backlog was full
  std::uint64_t no_room = 0;           ///< drop, beside a block/latest topic: no room for all
  std::uint64_t publish_timeouts = 0;  ///< block: publish() found no room in send_timeout
};

/// A peer as the broker announced it.
struct MemberInfo {
  PeerId id = 0;
  std::string name;
  std::vector<std::string> endpoints;      ///< its ROUTER endpoints
  std::vector<std::string> pub_endpoints;  ///< its PUB endpoints
  std::vector<std::string> services;
  std::uint64_t age_ms = 0;  ///< since it registered (from lookups; 0 from events)
  std::string public_key{};  ///< its CURVE public key (Z85); "" in a plaintext mesh
};

/// What we received from one publisher.
struct PublisherStats {
  PeerId publisher = 0;
  std::uint64_t session = 0;   ///< its current session (a new one resets tracking)
  std::uint64_t received = 0;  ///< broadcasts received (this session and earlier)
  std::uint64_t gaps = 0;      ///< broadcasts missed, counted from sequence jumps
  std::uint64_t topics = 0;    ///< topics seen in the current session
  std::uint64_t restarts = 0;  ///< sessions after the first
};

enum class ConnectionState { greeting, ready, suspect, gone };

/// One remote peer's connection.
struct ConnectionStats {
  PeerId peer = 0;
  std::string name;
  std::string endpoint;  ///< what we connected to; "" for inbound-only
  ConnectionState state = ConnectionState::greeting;
  bool outbound = false;  ///< we hold a DEALER to it
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::uint64_t pending = 0;              ///< our requests waiting on it
  std::uint64_t queued = 0;               ///< sends waiting for the greeting
  std::uint64_t queued_bytes = 0;         ///< bytes waiting for room on its pipe
  std::chrono::microseconds last_rtt{0};  ///< last ping round trip, 0 = none yet
};

}  // namespace zmesh
