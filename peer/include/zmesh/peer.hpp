// zmesh/peer.hpp — the embeddable peer: request/response, fire-and-forget messages and
// handlers, over direct ZeroMQ connections to other peers.
//
// Threads. A started Peer runs one engine thread ("zmesh-engine"), which alone owns every
// network socket, and `workers` handler threads ("zmesh-worker-N"). Any application
// thread may call any method; a call becomes a command on that thread's own inproc
// pipeline into the engine, so the FIFO order of one thread's sends to one destination is
// kept end to end. No user code runs on the engine thread unless asked for: handlers
// registered with HandlerOptions::run_inline and callbacks with CallbackOptions::run_inline.
//
// Lifetime. Peer is move-only. stop() (or the destructor) drains and joins every thread;
// futures still pending then fail with errc::shutting_down.
//
// Errors. Misuse and bad options throw zmesh::Error at the call site. Request results
// arrive as a zmesh::Future (zmesh/peer/future.hpp: std::future's interface, without a
// system call per completion) whose get() throws a zmesh::Error naming the peer, or
// through an error-first callback.
#pragma once

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "zmesh/core/errors.hpp"
#include "zmesh/core/export.hpp"
#include "zmesh/peer/future.hpp"
#include "zmesh/peer/message.hpp"
#include "zmesh/peer/options.hpp"
#include "zmesh/peer/stats.hpp"

namespace ZMESH_API zmesh {

namespace ZMESH_HIDDEN detail {
/// What a Registration unregisters from (handler table, subscription table, ...).
class Unregister {
 public:
  virtual ~Unregister() = default;
  virtual void remove(std::uint64_t token) noexcept = 0;
};
struct RequestCompletion;
}  // namespace detail

/// Message types starting with "zmesh." are zmesh's own: Peer::on() refuses them.
inline constexpr std::string_view kReservedTypePrefix = "zmesh.";
/// Every started Peer answers a request of this type with its stats as one JSON object:
/// id, name, endpoint, pub_endpoint, stats (PeerStats by field name), connections
/// (ConnectionStats; rtt_us) and publishers (PublisherStats). `zmesh stats` asks it.
inline constexpr std::string_view kStatsRequestType = "zmesh.stats";

/// A handler. Runs on a worker thread (on the engine thread when registered with
/// HandlerOptions::run_inline); messages from one sender run in order, one at a time;
/// different senders' run in parallel. On a worker it may block (that worker's queue
/// waits); inline it must not.
/// For a request the returned bytes are the reply; for a message the result is ignored.
/// Throwing sends the requester an error reply carrying what() (errc::remote_error).
/// The Message& and the views it hands out are valid only during the call.
using Handler = std::function<std::string(const Message&)>;

/// How a handler runs.
struct HandlerOptions {
  /// Run on the engine thread ("zmesh-engine") as the message is read, not on a worker:
  /// no hand-off to a worker and back, so the round trip is shorter. For short,
  /// non-blocking handlers only: while it runs, the whole Peer does no I/O. It must not
  /// wait on this Peer (request(...).get(), stop(), publishers(), ...); a send() or
  /// publish() from it fails with errc::queue_full rather than wait for room. Otherwise
  /// it is like any handler: counted (handled, handler_errors), its exceptions become
  /// error replies, one sender's messages are handled in order (a message waits for that
  /// sender's worker when it still has earlier work, and then runs there), and the
  /// Message& is valid only during the call.
  bool run_inline = false;
};

/// How a callback-style request completes.
struct SubscribeOptions {
  /// Conflate at the subscriber: the handler gets the newest broadcast of each
  /// publisher's topic. The engine keeps reading the network at full speed for it and
  /// holds one broadcast per publisher and topic until the handler (on the publisher's
  /// worker) has finished the previous one; a newer one replaces it, counted in
  /// PeerStats::broadcasts_skipped (not as a gap). So a slow handler always starts on
  /// the newest value there is, whatever the publisher's delivery policy. Topics take
  /// turns, oldest first; order across topics is not kept. Held at most: 65,536 topics
  /// and broadcast_backlog_bytes, past which broadcasts are delivered in order as usual.
  bool latest = false;
};

struct CallbackOptions {
  /// Run the callback on the engine thread as the reply is read, not on a worker. The
  /// same rules as HandlerOptions::run_inline: short and non-blocking; exceptions are
  /// caught and counted (handler_errors).
  bool run_inline = false;
};

/// Completion of a callback-style request. Runs on a worker thread (on the engine thread
/// with CallbackOptions::run_inline), once. On success
/// `ec` is zero; on failure `ec` holds the errc and response.payload a one-line message
/// naming the peer.
using ResponseCallback = std::function<void(std::error_code ec, Response response)>;

/// A broadcast handler. Runs on a worker thread; one publisher's broadcasts arrive in
/// publish order, one at a time; different publishers' run in parallel. It may block.
/// message.topic() and message.sequence() tell where it was published. The Message& is
/// valid only during the call. Exceptions are caught and counted (handler_errors).
using BroadcastHandler = std::function<void(const Message&)>;

/// Told when broadcasts from a publisher were missed on a topic (dropped at a high-water
/// mark, ...). Runs on the worker of that publisher, in order with its broadcasts.
using GapHandler =
    std::function<void(PeerId publisher, std::string_view topic, std::uint64_t missed)>;

/// Keeps a handler registered; destroying or reset()ting it unregisters the handler.
/// After reset() returns the handler is not running and is never called again (when
/// called from inside that same handler, it only guarantees the latter).
class Registration {
 public:
  Registration() = default;
  Registration(std::weak_ptr<detail::Unregister> table, std::uint64_t token) noexcept
      : table_(std::move(table)), token_(token) {}
  ~Registration() { reset(); }
  Registration(Registration&& o) noexcept : table_(std::move(o.table_)), token_(o.token_) {
    o.token_ = 0;
  }
  Registration& operator=(Registration&& o) noexcept;
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;

  /// Unregisters now (idempotent).
  void reset() noexcept;
  /// True while the handler is registered through this handle.
  [[nodiscard]] bool active() const noexcept { return token_ != 0; }

 private:
  std::weak_ptr<detail::Unregister> table_;
  std::uint64_t token_ = 0;
};

class Peer {
 public:
  /// Validates and copies the options; throws Error(invalid_argument). Does not start.
  explicit Peer(PeerOptions options);
  /// stop() with a one-second drain, if still running.
  ~Peer();
  Peer(Peer&&) noexcept;
  Peer& operator=(Peer&&) noexcept;
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  /// Binds, starts the engine and the workers. Throws Error on a bind failure.
  void start();
  /// Stops taking new work, lets queued and running handlers finish and their replies
  /// leave (within `drain`), fails our pending requests with errc::shutting_down, says
  /// BYE to every connection, closes sockets without hanging, and joins every thread.
  /// Idempotent.
  void stop(std::chrono::milliseconds drain = std::chrono::seconds(1));

  /// Our peer id.
  [[nodiscard]] PeerId id() const noexcept;
  /// Our name.
  [[nodiscard]] const std::string& name() const noexcept;
  /// Where others reach our ROUTER: options.advertise, else the resolved bind endpoint
  /// ("tcp://127.0.0.1:40123"); "" when not bound or not started.
  [[nodiscard]] std::string endpoint() const;
  /// Where our metrics are served ("127.0.0.1:9464", PeerOptions::metrics_bind with the
  /// port bound); "" when off or not started.
  [[nodiscard]] std::string metrics_endpoint() const;

  /// Registers the handler for a message type (one per type; throws if taken, or
  /// Error(invalid_argument) for a reserved type: kReservedTypePrefix).
  [[nodiscard]] Registration on(std::string type, Handler handler);
  /// The same, run as `options` say (HandlerOptions::run_inline).
  [[nodiscard]] Registration on(std::string type, Handler handler, HandlerOptions options);

  /// Connects and greets. Concurrent connects to one endpoint or one peer share one
  /// connection and resolve to the same PeerId. Fails with errc::peer_unreachable after
  /// connect_timeout, errc::self_connect / duplicate_id / unsupported_version on REJECT.
  /// Throws Error(invalid_argument) at once, on the calling thread, for a malformed
  /// endpoint or a host that does not resolve (zmesh/core/endpoint.hpp).
  /// With CURVE on, use the overload below (the server's key must be known); a failed
  /// CURVE handshake fails with errc::auth_failed within about a tick of the handshake,
  /// naming the endpoint and the reason (our key not trusted, a wrong server key, one
  /// side plaintext), and a server whose id is not bound to its key with not_allowed.
  [[nodiscard]] Future<PeerId> connect(const std::string& endpoint);
  /// Connects to the peer at `endpoint` that holds the CURVE public key `server_key`
  /// (Z85). Throws Error(invalid_argument) at once for a malformed key.
  [[nodiscard]] Future<PeerId> connect(const std::string& endpoint, const std::string& server_key);
  /// Says BYE and drops the connection; its pending requests fail with errc::peer_gone.
  void disconnect(PeerId peer);

  /// Fire-and-forget. Returns once queued; waits up to options.send_timeout for room
  /// (`wait` overrides it; zero = fail at once with errc::queue_full). A payload over
  /// limits.max_payload_bytes throws Error(too_large) at once, naming the limit.
  void send(PeerId to, std::string_view type, std::string_view payload);
  void send(PeerId to, std::string_view type, std::string_view payload,
            std::chrono::milliseconds wait);

  /// Request/response. `timeout` zero = options.request_timeout. A payload over
  /// limits.max_payload_bytes throws Error(too_large) here, at once. The future throws
  /// Error with errc::timeout, peer_gone, unknown_peer, no_handler, remote_error,
  /// deadline_exceeded, overloaded (the responder refuses us: we do not read its
  /// replies), queue_full or shutting_down.
  [[nodiscard]] Future<Response> request(PeerId to, std::string_view type, std::string_view payload,
                                         std::chrono::milliseconds timeout = {});
  /// The same with a callback (see ResponseCallback).
  void request(PeerId to, std::string_view type, std::string_view payload,
               std::chrono::milliseconds timeout, ResponseCallback callback);
  /// The same, the callback run as `options` say (CallbackOptions::run_inline).
  void request(PeerId to, std::string_view type, std::string_view payload,
               std::chrono::milliseconds timeout, ResponseCallback callback,
               CallbackOptions options);

  /// Broadcasts `payload` on `topic` from our PUB socket. Non-blocking: returns once
  /// queued (waits up to options.send_timeout for room in our command queue). Topics
  /// starting with a zero byte are reserved (Error invalid_argument). Under the block
  /// delivery policy (PeerOptions::delivery, topic_policies) it also waits up to
  /// send_timeout while broadcasts held for a slow subscriber fill
  /// broadcast_backlog_bytes, then fails with errc::queue_full.
  void publish(std::string_view topic, std::string_view type, std::string_view payload);
  /// Receives broadcasts whose topic starts with `prefix` from every publisher we are
  /// subscribed to: the PUB endpoint of every peer we are connected to, and endpoints
  /// given to subscribe_to(). Destroying the Registration unsubscribes. Prefixes add up:
  /// a broadcast is delivered once to each matching subscription.
  [[nodiscard]] Registration subscribe(std::string prefix, BroadcastHandler handler);
  /// The same, with options: SubscribeOptions::latest conflates at the subscriber.
  [[nodiscard]] Registration subscribe(std::string prefix, BroadcastHandler handler,
                                       SubscribeOptions options);
  /// Subscribes to a publisher's PUB endpoint directly (no greeting needed).
  void subscribe_to(const std::string& pub_endpoint);
  /// The same with CURVE: the publisher holds `publisher_key` (Z85). Our key must be
  /// trusted there, or we receive nothing from it.
  void subscribe_to(const std::string& pub_endpoint, const std::string& publisher_key);
  /// CURVE: reads the trust directory (PeerOptions::curve.trust_dir) again. New
  /// handshakes follow it at once; connections made before stay. Returns the number of
  /// client keys trusted now. Throws Error(invalid_argument) when CURVE is off or the
  /// directory cannot be read (the keys trusted before are kept).
  std::size_t reload_trust();
  /// Resolves once every subscription made before this call is in effect at every
  /// publisher we are subscribed to, so nothing they publish afterwards is missed.
  /// Fails with errc::timeout (naming how many publishers did not confirm).
  [[nodiscard]] Future<void> sync_subscriptions(
      std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// sync_subscriptions(), and in the same exchange every publisher we follow sends us the
  /// last values it retains (PeerOptions::retain) of the topics starting with `prefix`.
  /// They reach the matching subscriptions marked Message::retained(), each publisher's
  /// ahead of what it publishes afterwards, with their sequence; one we already received
  /// (or something newer on its topic) is not delivered again. Resolves as
  /// sync_subscriptions() does, once every publisher's values are handed to the workers.
  [[nodiscard]] Future<void> sync_subscriptions_with_last(
      std::string prefix, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// Registers a gap handler (any number).
  [[nodiscard]] Registration on_gap(GapHandler handler);
  /// Where others reach our PUB: options.pub_advertise, else the resolved pub_bind
  /// endpoint; "" when not publishing or not started.
  [[nodiscard]] std::string pub_endpoint() const;
  /// Per-publisher broadcast counters (asks the engine; waits up to a second).
  [[nodiscard]] std::vector<PublisherStats> publishers() const;
  /// What our PUB did under each delivery-policy rule (PeerOptions::topic_policies, the
  /// longest prefix first, then the default rule): sent, conflated, dropped, timed out.
  /// Counters only; any time, any thread.
  [[nodiscard]] std::vector<TopicPolicyStats> delivery_stats() const;

  /// The membership as the brokers announced it (joins, leaves, updates, and a full
  /// listing after every registration; lookup-only: a listing every membership_refresh),
  /// the union of every broker's view, one record per peer id. Empty without a broker.
  [[nodiscard]] std::vector<MemberInfo> members() const;
  /// Asks a broker: peers with this name and/or offering this service ("" = any). Waits
  /// for a broker connection if none is up yet; with several brokers, asks one that is
  /// live and moves on to the next when it does not answer in its share of the timeout.
  /// Fails with errc::unknown_peer without a broker, errc::timeout when none answers.
  [[nodiscard]] Future<std::vector<MemberInfo>> lookup(
      std::string name, std::string service = {},
      std::chrono::milliseconds timeout = std::chrono::seconds(2));
  /// Resolves a name through the membership (asking the broker if needed) and connects:
  /// one logical connection still, whatever the path.
  [[nodiscard]] Future<PeerId> connect_by_name(const std::string& name);
  /// A request to a service rather than a peer: it goes to one of the peers offering it
  /// (members and connected peers), round-robin, connecting on demand; if that peer goes
  /// before answering, the request moves to the next one, within the timeout.
  [[nodiscard]] Future<Response> request_service(std::string_view service, std::string_view type,
                                                 std::string_view payload,
                                                 std::chrono::milliseconds timeout = {});
  /// True while a broker has our registration (as far as we know).
  [[nodiscard]] bool registered() const noexcept;
  /// True once a broker's full listing has arrived: members() is complete from then on.
  [[nodiscard]] bool membership_listed() const noexcept;
  /// Why the broker refused our registration (e.g. our name is held by another live
  /// peer, errc::duplicate_name), "" when it did not or we registered since. A refused
  /// peer tries again once per renew interval.
  [[nodiscard]] std::string registration_error() const;
  /// Why every broker refused our handshake (CURVE: a wrong broker key, our key not
  /// trusted, or one side plaintext); "" while any broker accepts us or none has answered.
  /// Lookups fail with errc::auth_failed meanwhile.
  [[nodiscard]] std::string broker_auth_error() const;

  /// Whole-peer counters.
  [[nodiscard]] PeerStats stats() const;
  /// One entry per connection (asks the engine; waits up to a second).
  [[nodiscard]] std::vector<ConnectionStats> connections() const;

 private:
  void request_impl(PeerId to, std::string_view type, std::string_view payload,
                    std::chrono::milliseconds timeout,
                    std::unique_ptr<detail::RequestCompletion> done);

  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace zmesh
