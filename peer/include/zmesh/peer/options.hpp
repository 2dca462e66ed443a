// zmesh/peer/options.hpp — what a Peer is configured with. A value: the Peer validates
// and copies it in its constructor; changing the original afterwards does nothing.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zmesh/core/curve.hpp"
#include "zmesh/core/export.hpp"
#include "zmesh/core/limits.hpp"
#include "zmesh/peer/log.hpp"

namespace ZMESH_API zmesh {

/// Retained broadcasts (protocol.md 5.10): the last broadcast of each topic starting
/// with `prefix` is kept for subscribers that ask for last values.
struct RetainRule {
  std::string prefix;            ///< topics it covers; "" = all
  std::size_t max_count = 1000;  ///< topics kept at most; the least recently published go first
  std::size_t max_bytes = std::size_t{1} << 20;  ///< bytes kept at most (topics, types, payloads)
};

/// What our PUB does with broadcasts a subscriber cannot take yet (its queue at pub_hwm
/// is full). docs/architecture.md, "Delivery policies".
enum class DeliveryPolicy : std::uint8_t {
  /// Never waits: that subscriber misses them (ZeroMQ drops at the high-water mark); its
  /// sequence check counts them as gaps. The default, and ZeroMQ's PUB behaviour.
  drop,
  /// Lossless: the broadcasts wait at the publisher, in order, until every subscriber of
  /// the topic has room (up to broadcast_backlog_bytes); publish() then waits up to
  /// send_timeout for room and fails with errc::queue_full. A subscriber that takes
  /// nothing for stuck_subscriber_timeout is disconnected, so none stalls us for good.
  block,
  /// Conflation: never waits. A topic's broadcast that cannot go out yet is replaced by
  /// the topic's next one (counted as conflated, not lost); subscribers get the newest
  /// value once there is room, with consecutive sequences.
  latest,
};

/// "drop", "block" or "latest".
[[nodiscard]] std::string_view to_string(DeliveryPolicy policy) noexcept;
/// The policy named "drop", "block" or "latest"; nullopt for any other name.
[[nodiscard]] std::optional<DeliveryPolicy> delivery_policy_from(std::string_view name) noexcept;

/// A delivery policy for the topics starting with `prefix`.
struct TopicPolicy {
  std::string prefix;  ///< topics it covers ("" = all); the longest matching prefix wins
  DeliveryPolicy policy = DeliveryPolicy::drop;
};

struct PeerOptions {
  static constexpr std::size_t kMaxNameBytes = 128;  ///< longest `name`
  static constexpr std::size_t kMaxWorkers = 256;    ///< most `workers`

  std::string name = "zmesh";  ///< human-readable name, 1..kMaxNameBytes bytes
  std::uint64_t id = 0;        ///< peer id; 0 = a random one at construction
  /// ROUTER endpoint for requests; "" = none (a client only).
  std::string bind = "tcp://127.0.0.1:*";
  /// The ROUTER endpoint announced to others instead of the bound one ("" = the bound
  /// one). Needed when binding "tcp://0.0.0.0:port" (containers, several interfaces).
  std::string advertise{};
  /// The same for the PUB endpoint.
  std::string pub_advertise{};
  /// Services we answer (announced in greetings and to the broker).
  std::vector<std::string> services{};
  /// Brokers to register with and look others up at: one endpoint or a comma-separated
  /// list ("tcp://10.0.0.1:7400,tcp://10.0.0.2:7400"); "" = no broker. Used together
  /// with `brokers`. A host name that resolves to several addresses counts as one broker
  /// per address. The peer registers and renews at every broker; its membership is the
  /// union of theirs; lookups go to one live broker and move on to the next in time.
  std::string broker{};
  /// More brokers, one endpoint (or comma-separated list) per item.
  std::vector<std::string> brokers{};
  /// false: use the brokers only to look others up (lookup-only: no registration, not
  /// listed, no Events; the membership is listed again every membership_refresh).
  bool register_with_brokers = true;
  /// Lookup-only: how often the membership (members(), publishers followed) is listed
  /// again; 0 = keep none (lookup() and connect_by_name() still work).
  std::chrono::milliseconds membership_refresh{5000};
  /// TTL asked of the broker; 0 = its default.
  std::chrono::milliseconds registration_ttl{0};
  std::size_t workers = 4;  ///< handler worker threads, 1..kMaxWorkers

  std::chrono::milliseconds heartbeat_interval{500};  ///< ping period per connection
  std::chrono::milliseconds heartbeat_timeout{3000};  ///< silence after which a peer is gone
  std::chrono::milliseconds connect_timeout{3000};    ///< greeting must complete within this
  std::chrono::milliseconds request_timeout{5000};    ///< default for request()
  std::chrono::milliseconds send_timeout{5000};  ///< how long send/request may wait on a full queue

  int worker_queue_depth = 1024;   ///< messages queued per worker before the engine pushes back
  int command_queue_depth = 1024;  ///< commands queued per calling thread before callers wait
  std::size_t greeting_queue_depth = 4096;     ///< sends held per connection until WELCOME
  std::string pub_bind = "tcp://127.0.0.1:*";  ///< PUB endpoint for broadcasts; "" = none
  int pub_hwm = 10000;   ///< broadcasts queued per subscriber at our PUB; beyond, ZeroMQ drops
  int sub_hwm = 10000;   ///< broadcasts queued at our SUB; beyond, ZeroMQ drops
  int send_hwm = 10000;  ///< ZMQ_SNDHWM of network sockets, messages
  int recv_hwm = 10000;  ///< ZMQ_RCVHWM of network sockets, messages
  Limits limits{};       ///< size limits on every received frame

  /// Bytes held for one remote peer: replies and sends waiting for room on its pipe.
  /// A peer over this bound is a slow consumer: its new requests are refused with
  /// `Overloaded` (errc::overloaded at its end) and our sends to it fail with
  /// errc::queue_full, until it reads again. Other peers are never held up by it.
  std::size_t max_queued_bytes = std::size_t{8} << 20;
  /// Distinct topic subscriptions our PUB holds, all subscribers together; beyond, new
  /// ones are refused (counted in PeerStats::subscriptions_refused).
  std::size_t max_subscriptions = 65536;
  /// PUB endpoints our SUB follows at most (from connections and the membership);
  /// beyond, more are not followed (counted in PeerStats::publishers_refused).
  std::size_t max_followed_publishers = 1024;
  /// Serve Prometheus metrics over HTTP (GET /metrics) at "HOST:PORT", e.g.
  /// "127.0.0.1:9464" (port 0: any free port, see Peer::metrics_endpoint()); "" = off.
  /// Served from a thread of its own that reads counters only (docs/operations.md).
  std::string metrics_bind{};

  /// CURVE (docs/security.md): our key pair and the client keys our ROUTER and PUB accept.
  /// Off (plaintext) unless curve.secret_key is set. With it on, every TCP socket of the
  /// peer is encrypted and authenticated, `id` must be 0 or the id bound to our key (the
  /// peer id IS the key's: peer_id_for_key), and every server we connect to must be
  /// known by its public key (PeerInfo::public_key from the broker or a greeting, or the
  /// key given to connect() / subscribe_to()).
  CurveOptions curve{};
  /// With CURVE on: the brokers' public keys (Z85), one for every broker or a
  /// comma-separated list matched to the brokers in order (`broker`, then `brokers`).
  std::string broker_key{};

  /// How often our PUB announces the latest sequence of the topics published since the
  /// last announcements (Sequences, protocol.md 5.9), so that subscribers count losses
  /// after the last broadcast they received; nothing is sent while nothing is published.
  /// 0 = never (losses at the tail then show only when the next broadcast arrives);
  /// else 10..60000 ms.
  std::chrono::milliseconds broadcast_heartbeat{100};
  /// Topics whose last broadcast our PUB keeps for subscribers that ask for last values
  /// (Peer::sync_subscriptions_with_last, protocol.md 5.10). None by default.
  std::vector<RetainRule> retain{};
  /// How our PUB treats a subscriber that cannot keep up: `delivery` for every topic,
  /// but where one of `topic_policies` matches (the longest prefix wins; at most
  /// kMaxTopicPolicies).
  DeliveryPolicy delivery = DeliveryPolicy::drop;
  std::vector<TopicPolicy> topic_policies{};
  static constexpr std::size_t kMaxTopicPolicies = 64;
  /// block and latest: bytes (topics and payloads) of broadcasts held at our PUB while a
  /// subscriber has no room, together with block broadcasts still on their way to it.
  std::size_t broadcast_backlog_bytes = std::size_t{8} << 20;
  /// block and latest: a subscriber that takes nothing for this long while broadcasts
  /// wait for it is disconnected (counted in PeerStats::subscribers_cut); it may
  /// reconnect. 0 = never.
  std::chrono::milliseconds stuck_subscriber_timeout{5000};
  /// Where the library logs what an operator should know (refused handshakes with the
  /// key, malformed input, peers gone, broker refusals; zmesh/peer/log.hpp), each kind
  /// rate-limited; empty = silent. zmesh::spdlog_sink() (zmesh/peer/spdlog_sink.hpp) is a
  /// ready one.
  LogSink log{};

  /// Throws zmesh::Error(invalid_argument) naming the first bad field.
  void validate() const;
};

}  // namespace zmesh
