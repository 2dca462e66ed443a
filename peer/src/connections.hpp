// Connections — every link to a remote peer: the bound ROUTER, one DEALER per outbound
// connection, the registry (exactly one Connection per peer id), the greeting, the
// heartbeats, and a bounded outbound queue per connection. Engine thread only.
//
// Defined by concept: connections.cpp (open, close, connect, remove, snapshot),
// greeting.cpp, connections_read.cpp (the ROUTER and DEALERs in, dispatch by kind),
// connections_send.cpp (app sends, answers, flush), connections_liveness.cpp (timers).
//
// What arrives on the ROUTER and the DEALERs is decoded here; greetings, pings, pongs and
// byes are handled here; requests, messages and answers go up through Events. Nothing
// one peer does can hold up another: each connection queues what its pipe cannot take
// now, bounded by PeerOptions::max_queued_bytes; a peer over its bound is a slow consumer
// and its new requests are refused with Overloaded.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "connection_registry.hpp"
#include "departure_reasons.hpp"
#include "engine_context.hpp"
#include "liveness.hpp"
#include "outbox.hpp"
#include "zmesh/core/frame_set.hpp"

namespace zmesh::detail {

/// An application send (request or message) to one connection.
struct AppSend {
  Kind kind = Kind::message;
  std::uint64_t correlation_id = 0;
  std::string_view type;
  zmq::message_t payload;
  std::uint64_t deadline_unix_ms = 0;
  std::uint32_t flags = 0;
};

class Connections {
 public:
  /// What Connections tells the rest of the engine. Every hook must be set.
  struct Events {
    /// A connection completed its greeting (either direction).
    std::function<void(Connection&)> ready;
    /// A connection is about to be erased (its peer id, if any, is still set).
    std::function<void(Connection&)> closing;
    /// The process behind `peer` is gone or was replaced: what waited on it fails.
    std::function<void(PeerId peer, errc code, const std::string& text)> lost;
    /// A request or message admitted from `c`; `route` leads back to where it came from.
    std::function<void(Connection& c, const Route& route, const Envelope& env, FrameSet& frames)>
        inbound;
    /// A Reply or Error from `c`.
    std::function<void(Connection& c, const Envelope& env)> answer;
  };

  Connections(EngineContext& ctx, Events events);
  Connections(const Connections&) = delete;
  Connections& operator=(const Connections&) = delete;

  /// Binds the ROUTER (if options.bind is set) and returns the endpoint to announce.
  std::string open();
  /// Closes every socket with `linger`; never throws.
  void close(std::chrono::milliseconds linger) noexcept;

  // --- commands
  void connect(const std::string& endpoint, const std::string& server_key,
               std::unique_ptr<ConnectCompletion> done);
  /// The connection to a peer we know from the membership, made if needed; nullptr when
  /// it has no endpoint we can connect to.
  Connection* ensure(const PeerInfo& info);
  /// Says BYE and drops the connection to `peer`, if any.
  void disconnect(PeerId peer);
  [[nodiscard]] Connection* find(PeerId peer) { return registry_.by_peer(peer); }
  /// Why `peer` went, if it went recently ("" otherwise).
  [[nodiscard]] std::string gone_reason(PeerId peer) const;

  enum class Admit { accepted, greeting_full, over_bound };
  /// Sends, queues behind the greeting, or queues behind what waits for the pipe.
  [[nodiscard]] Admit send_app(Connection& c, AppSend send);
  /// A worker's Reply or Error, back on the route its request came in on. Counted and
  /// dropped when the connection is gone.
  void send_answer(const Route& route, Kind kind, std::uint64_t correlation_id,
                   zmq::message_t payload);
  /// Bytes waiting for room on `c`'s pipe are over the bound.
  [[nodiscard]] bool over_bound(const Connection& c) const noexcept {
    return c.backlog_bytes >= ctx_.opts.max_queued_bytes;
  }
  /// Says BYE on `c` (if `say_bye`), lets it leave, and removes `c` (see remove()).
  void leave(Connection& c, bool say_bye, errc code, const std::string& text);
  /// Removes a connection: its waiters and pending requests fail with `code`.
  void remove(Connection& c, errc code, const std::string& text);

  // --- I/O (each returns how many messages it handled)
  [[nodiscard]] zmq::socket_t* router() noexcept { return router_ ? &*router_ : nullptr; }
  /// Reads until nothing waits, a burst is done, or `stop` says so (the workers are full).
  int read_router(const std::function<bool()>& stop = {});
  int read_dealer(std::uint64_t key, const std::function<bool()>& stop = {});
  /// Sends what waits in the per-connection queues while their pipes take it.
  int flush();
  [[nodiscard]] bool backlogged() const noexcept { return outbox_.busy(); }
  /// Keys of the connections that have a DEALER (for the poll set / a sweep).
  void dealer_keys(std::vector<std::uint64_t>& out);
  [[nodiscard]] zmq::socket_t* dealer(std::uint64_t key);

  // --- time
  /// Greetings past their deadline, heartbeats and liveness. `paused`: we are not reading
  /// the network now, so silence proves nothing.
  void on_timers(SteadyClock::time_point now, bool paused);
  /// We did not read while paused: silence in that time is ours, not the peers'.
  void resume(SteadyClock::time_point now);
  [[nodiscard]] SteadyClock::time_point next_heartbeat() const noexcept { return next_heartbeat_; }

  // --- shutdown and snapshots
  /// Fails greeting waiters with `text` and says BYE to every ready connection.
  void goodbye(const std::string& text);
  [[nodiscard]] std::vector<ConnectionStats> snapshot(
      const std::function<std::size_t(PeerId)>& pending_for);
  /// Calls fn for every connection; fn must not add or erase any.
  template <class Fn>
  void visit(Fn&& fn) {
    registry_.visit(std::forward<Fn>(fn));
  }

 private:
  // reading (connections_read.cpp)
  void on_envelope(Connection* via_dealer, FrameSet& frames, const Envelope& env);
  void on_request(Connection& c, const Route& route, FrameSet& frames, const Envelope& env);
  void on_error(Connection& c, const Envelope& env);
  void on_pong(Connection& c, const Envelope& env);
  void answer_unknown(std::string_view identity, const Envelope& env);

  // greeting (greeting.cpp)
  void on_hello(std::string_view identity, const Envelope& env, const std::string& key);
  void on_welcome(Connection& c, const Envelope& env);
  void on_reject(Connection& c, const Envelope& env);
  void send_hello(Connection& c);
  /// `c` is greeted and its session live: a greeting with its id from elsewhere is a
  /// duplicate, not its restart.
  [[nodiscard]] bool live_elsewhere(const Connection& c, SteadyClock::time_point now) const;
  /// Greeted: counts it, fires `ready`, and sends what waited for the greeting.
  void mark_ready(Connection& c);

  // connections.cpp
  /// A DEALER to `endpoint`, a CURVE client of `server_key` when CURVE is on, its
  /// handshake watched (nullopt: `error` says why it cannot be made).
  std::optional<zmq::socket_t> open_dealer(Connection& c, const std::string& endpoint,
                                           std::string& error);

  // time (connections_liveness.cpp)
  /// Greeting connections whose handshake failed fail fast with errc::auth_failed.
  void check_handshakes();
  /// Our ROUTER's refused handshakes, counted by cause.
  void count_refused_handshakes();
  void heartbeat(SteadyClock::time_point now, bool paused);

  // sending (connections_send.cpp)
  /// Sends if there is room now, else drops (pings, byes, greeting answers).
  void send_control(Connection& c, const Route& route, const Header& h, zmq::message_t payload);
  /// After its DEALERs vanished: a connection with no way left to reach it is gone.
  bool drop_if_unreachable(Connection& c);

  EngineContext& ctx_;
  Events events_;
  Liveness liveness_;
  EnvelopeDecoder decoder_;
  FrameSet frames_;
  // engine thread only
  std::optional<zmq::socket_t> router_;
  std::optional<HandshakeMonitor> router_monitor_;  // CURVE: refused handshakes, by cause
  ConnectionRegistry registry_;
  Outbox outbox_;                        // after registry_: it refers to it
  std::vector<std::uint64_t> no_route_;  // reused by flush()
  SteadyClock::time_point next_heartbeat_{};
  // Recent departures, for clear errors; bounded, oldest forgotten first.
  DepartureReasons departures_;
};

}  // namespace zmesh::detail
